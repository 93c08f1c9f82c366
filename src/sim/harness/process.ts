// Background processes a world started (servers, daemons, peers). Each one is
// tracked by PID from spawn to exit, so teardown can end exactly the processes
// we started: SIGTERM, then SIGKILL after a grace period. Output is buffered
// (the last MiB of each stream) so tests can wait for a line such as
// "listening" instead of sleeping.
//
// A world's processes run in their own session and process group (`detached`,
// which Namespace.spawn sets): a terminal's Ctrl-C (SIGINT to its foreground
// process group) reaches only the program that started them — the demo, a test
// run — which then stops them itself, in order. They are still ours: ended by
// PID at teardown or by the exit hooks, and recorded in the run registry
// (runs.ts) so a killed run is swept.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describeCommand } from './command.js';
import { HarnessError, tail } from './errors.js';
import { processStartTime } from '../../common/process-start.js';

export interface SpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Hide the arguments in errors (see `visibleArgs`). */
  redactArgs?: boolean;
  /** With `redactArgs`: how many leading arguments stay visible (default 0). */
  visibleArgs?: number;
  /** Written to stdin, which is then closed. Without it stdin stays open (see `stdin`). */
  input?: string | Buffer;
  /**
   * Its own session (setsid), out of reach of the terminal's signals. Only for processes that
   * something else ends by PID even when this program is interrupted (a world's: exit hooks,
   * run registry); the world's spawns set it.
   */
  detached?: boolean;
}

export interface ExitStatus {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

const MAX_BUFFERED = 1 << 20;
/** How long output may trail a process's exit (see `exited`). */
export const STREAM_DRAIN_MS = 200;
export const DEFAULT_GRACE_MS = 2_000;

export { processStartTime };

/** True while the process exists and, when given, still has the recorded start time (no PID reuse). */
export function isProcessAlive(pid: number, startTime?: string | null): boolean {
  const now = processStartTime(pid);
  if (now === null) return false;
  if (startTime && now !== startTime) return false;
  // A zombie has exited; only its parent's wait() is missing.
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (state.slice(state.lastIndexOf(')') + 2, state.lastIndexOf(')') + 3) === 'Z') return false;
  } catch {
    return false;
  }
  return true;
}

export class BackgroundProcess {
  readonly pid: number;
  readonly command: string;
  /** Settles when the process has exited and its output is read (never rejects). */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private out = '';
  private err = '';
  private status: ExitStatus | null = null;
  private finished = false;
  private readonly listeners = new Set<() => void>();

  constructor(cmd: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.command = describeCommand(cmd, args, opts.redactArgs, opts.visibleArgs);
    this.child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      detached: opts.detached === true, // see the top of this file
    });
    if (this.child.pid === undefined) {
      // spawn() reports ENOENT & co. asynchronously, but leaves pid unset at once.
      this.child.on('error', () => {});
      throw new HarnessError('SPAWN_FAILED', `cannot start ${this.command}`, { command: this.command });
    }
    this.pid = this.child.pid;
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.out = (this.out + s).slice(-MAX_BUFFERED);
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.err = (this.err + s).slice(-MAX_BUFFERED);
      this.notify();
    });
    this.child.stdin?.on('error', () => {});
    if (opts.input !== undefined) this.child.stdin?.end(opts.input);
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done || !this.status) return;
        done = true;
        this.finished = true;
        this.notify();
        resolve(this.status);
      };
      this.child.on('error', () => {
        // A failed start also ends in 'exit'/'close' (exit code null); nothing else to do.
      });
      this.child.on('exit', (exitCode, signal) => {
        this.status = { exitCode, signal };
        // Output written just before exit is still in the pipe: wait for the streams to close.
        // A grandchild may hold them open forever (a daemon that forked), so not for long.
        // setImmediate: an event loop that was busy runs due timers before it polls the pipes, so
        // without it output already waiting in the pipe was dropped (seen under load ~45).
        setTimeout(() => {
          setImmediate(() => {
            this.child.stdout?.destroy();
            this.child.stderr?.destroy();
            finish();
          });
        }, STREAM_DRAIN_MS);
      });
      this.child.on('close', (exitCode, signal) => {
        this.status ??= { exitCode, signal };
        finish();
      });
    });
  }

  get stdout(): string {
    return this.out;
  }
  get stderr(): string {
    return this.err;
  }
  /** The exit status, or null while running. */
  get exitStatus(): ExitStatus | null {
    return this.status;
  }
  get running(): boolean {
    return this.status === null;
  }
  /** The process's stdin, for interactive use; end it to send EOF. */
  get stdin(): NodeJS.WritableStream | null {
    return this.child.stdin;
  }

  /**
   * Resolves with the first match of `pattern` in stdout (or stderr, or both) — including output
   * already received. Rejects if the process exits first or after `timeoutMs` (default 5 s).
   */
  waitForOutput(
    pattern: RegExp | string,
    opts: { timeoutMs?: number; stream?: 'stdout' | 'stderr' | 'both' } = {},
  ): Promise<RegExpMatchArray> {
    // Generous by default: a program's start on 2 loaded cores can take seconds; met early, it costs nothing.
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const stream = opts.stream ?? 'stdout';
    const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    const text = () => (stream === 'stdout' ? this.out : stream === 'stderr' ? this.err : this.out + '\n' + this.err);
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = text().match(re);
        if (m) {
          done();
          resolve(m);
          return true;
        }
        if (this.finished && this.status) {
          done();
          reject(
            new HarnessError(
              'PROCESS_EXITED',
              `${this.command} exited (${describeStatus(this.status)}) before printing ${re}` +
                `\nstdout: ${tail(this.out, 1000)}\nstderr: ${tail(this.err, 1000)}`,
              { command: this.command, pid: this.pid },
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new HarnessError(
            'TIMEOUT',
            `${this.command} did not print ${re} within ${timeoutMs} ms` +
              `\nstdout: ${tail(this.out, 1000)}\nstderr: ${tail(this.err, 1000)}`,
            { command: this.command, pid: this.pid, timeoutMs },
          ),
        );
      }, timeoutMs);
      const listener = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      if (!check()) this.listeners.add(listener);
    });
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. Resolves with the exit status. */
  async stop(opts: { graceMs?: number } = {}): Promise<ExitStatus> {
    if (this.status) return this.status;
    this.signal('SIGTERM');
    const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first === 'late') this.signal('SIGKILL');
    return this.exited;
  }

  /** For exit hooks, where nothing asynchronous runs any more. */
  killSync(): void {
    if (!this.status) this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // Already gone (ESRCH): exactly what we wanted.
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

export function describeStatus(s: ExitStatus): string {
  return s.exitCode === null ? `signal ${s.signal}` : `exit ${s.exitCode}`;
}
