// Running a command to completion and collecting its output. This is the one
// place the harness waits on a child process; it always has a deadline, and a
// failure becomes a HarnessError that shows the command line and the end of
// stderr (never stdin, and not the arguments when `redactArgs` is set). Like
// the background processes (process.ts), a command runs in its own session, so
// a terminal's Ctrl-C meant for the program does not fail the commands it is
// running (its teardown still needs them); the deadline bounds each one.
import { spawn } from 'node:child_process';
import { HarnessError, tail } from './errors.js';

/** How long output may trail the command's exit before we stop reading (a forked daemon keeps the pipes). */
const STREAM_DRAIN_MS = 200;

export interface CommandOptions {
  /** Written to the command's stdin, which is then closed. Never shown in errors. */
  input?: string | Buffer;
  /** Throw on a non-zero exit (default true). With false, the result carries the status. */
  check?: boolean;
  /** Killed (SIGKILL) and reported after this long (default 30 s). */
  timeoutMs?: number;
  /** Extra environment variables (merged over this process's environment). */
  env?: Record<string, string>;
  /** Hide the arguments in errors, e.g. when one is a secret (see `visibleArgs`). */
  redactArgs?: boolean;
  /** With `redactArgs`: how many leading arguments stay visible (default 0). */
  visibleArgs?: number;
}

export interface CommandResult {
  readonly command: string;
  readonly stdout: string;
  readonly stderr: string;
  /** null when the process was ended by a signal. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/** How a command is shown in messages: `ip netns exec ztab12a ping -c 1 10.0.0.2`. */
export function describeCommand(cmd: string, args: readonly string[], redactArgs = false, visibleArgs = 0): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a));
  if (!redactArgs) return [cmd, ...args].map(quote).join(' ');
  const shown = args.slice(0, visibleArgs);
  const hidden = args.length - shown.length;
  return [cmd, ...shown].map(quote).join(' ') + (hidden > 0 ? ` [${hidden} arguments hidden]` : '');
}

export function runCommand(
  cmd: string,
  args: readonly string[] = [],
  opts: CommandOptions = {},
): Promise<CommandResult> {
  const command = describeCommand(cmd, args, opts.redactArgs, opts.visibleArgs);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // The command may exit without reading its stdin; that is its business.
    });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new HarnessError('SPAWN_FAILED', `cannot run ${command}: ${e.message}`, { command }));
    });
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const result: CommandResult = {
        command,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode,
        signal,
      };
      if (timedOut) {
        reject(
          new HarnessError(
            'COMMAND_TIMEOUT',
            `${command} did not finish within ${timeoutMs} ms (killed)` +
              (result.stderr ? `\nstderr: ${tail(result.stderr)}` : ''),
            { command, timeoutMs },
          ),
        );
      } else if (opts.check !== false && exitCode !== 0) {
        const status = exitCode === null ? `signal ${signal}` : `exit ${exitCode}`;
        reject(
          new HarnessError(
            'COMMAND_FAILED',
            `${command} failed (${status})` + (result.stderr.trim() ? `\nstderr: ${tail(result.stderr)}` : ''),
            { command, exitCode, signal, stderr: tail(result.stderr) },
          ),
        );
      } else {
        resolve(result);
      }
    };
    child.on('exit', (exitCode, signal) => {
      // setImmediate: a busy event loop runs due timers before it polls the pipes, so without it
      // output already waiting in the pipe was dropped (`wg showconf` read as empty at load ~40).
      setTimeout(() => {
        setImmediate(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish(exitCode, signal);
        });
      }, STREAM_DRAIN_MS);
    });
    child.on('close', finish);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
