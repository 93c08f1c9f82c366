/**
 * Keeps a `zmesh wgd` available for the userspace WireGuard backend. networkd never owns wgd's
 * life: if wgd answers on its control socket it is adopted as it is; if not, one is started
 * detached — its own session and process group, stdio to a log file, not a child networkd waits
 * for — so that neither a SIGTERM to networkd nor networkd's exit (or kill -9) reaches it, and the
 * data plane keeps forwarding while the control plane restarts. networkd never stops wgd.
 *
 * A pid different from the last one seen means wgd restarted and lost its devices and keys: the
 * caller then re-applies every network (reconcile does that anyway: devices are recreated by
 * ensureDevice and configured by configure).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { WgdClient } from '../wg/wgd/client.js';
import { WgdError } from '../wg/wgd/errors.js';
import { WGD_NODE_OPTIONS } from '../wg/wgd/node-options.js';
import { NetworkdError } from './errors.js';
import { withoutArenaLimit } from './malloc-arenas.js';

export interface WgdSupervisorOptions {
  readonly controlSocket: string;
  readonly uapiDir: string;
  readonly logFile: string;
  /**
   * The command that runs `zmesh wgd`, without its options (argv[0] first): node, its options
   * and the script. wgd's own Node options (WGD_NODE_OPTIONS) are put right after node.
   */
  readonly command: readonly string[];
  /** How long a started wgd may take to answer (default 10 s). */
  readonly startTimeoutMs?: number;
  readonly log?: (message: string) => void;
}

export interface WgdState {
  readonly pid: number;
  /** True when this call started it; false when an existing wgd was adopted. */
  readonly started: boolean;
  /** True when the pid differs from the previously seen one (devices and keys were lost). */
  readonly restarted: boolean;
}

/**
 * How this very process was started (node, its loader options such as tsx's --import, the
 * script), so that `zmesh wgd` runs from the same code and the same way as networkd.
 */
export function selfCommand(): string[] {
  const script = process.argv[1];
  if (script === undefined) throw new Error('cannot tell how networkd was started (no script path)');
  return [process.execPath, ...process.execArgv, script];
}

/** Whether `program` is a node executable (so Node options may go before the script). */
function isNode(program: string): boolean {
  return program === process.execPath || basename(program) === 'node';
}

export class WgdSupervisor {
  readonly client: WgdClient;
  readonly #options: WgdSupervisorOptions;
  #lastPid: number | null = null;
  #ensuring: Promise<WgdState> | null = null;

  constructor(options: WgdSupervisorOptions) {
    this.#options = options;
    this.client = new WgdClient(options.controlSocket, { timeoutMs: 5000 });
  }

  /** The pid of the wgd last seen answering, or null. */
  get pid(): number | null {
    return this.#lastPid;
  }

  /** Makes sure a wgd answers: adopts a running one or starts one; concurrent calls share the work. */
  ensure(): Promise<WgdState> {
    this.#ensuring ??= this.#ensure().finally(() => {
      this.#ensuring = null;
    });
    return this.#ensuring;
  }

  async #ensure(): Promise<WgdState> {
    const alive = await this.#ping();
    if (alive !== null) return this.#seen(alive, false);
    this.#start();
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      await delay(50); // no event to await: a detached process is not ours to watch
      const pid = await this.#ping();
      if (pid !== null) return this.#seen(pid, true);
    }
    throw new NetworkdError(
      'EUNAVAILABLE',
      `zmesh wgd did not answer on ${this.#options.controlSocket} within ${this.#options.startTimeoutMs ?? 10_000} ms (see ${this.#options.logFile})`,
    );
  }

  #seen(pid: number, started: boolean): WgdState {
    const restarted = this.#lastPid !== null && this.#lastPid !== pid;
    if (started) this.#options.log?.(`started zmesh wgd, pid ${pid}`);
    else if (this.#lastPid === null) this.#options.log?.(`adopted running zmesh wgd, pid ${pid}`);
    if (restarted)
      this.#options.log?.(`zmesh wgd restarted (pid ${this.#lastPid} → ${pid}): its devices are re-created`);
    this.#lastPid = pid;
    return { pid, started, restarted };
  }

  async #ping(): Promise<number | null> {
    try {
      return (await this.client.ping()).pid;
    } catch (error) {
      if (error instanceof WgdError && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) return null;
      throw new NetworkdError(
        'EUNAVAILABLE',
        `zmesh wgd on ${this.#options.controlSocket} does not work: ${error instanceof WgdError ? error.message : 'error'}`,
        {},
        { cause: error },
      );
    }
  }

  #start(): void {
    const { command, controlSocket, uapiDir, logFile } = this.#options;
    const [program, ...leading] = command;
    if (program === undefined) throw new Error('empty wgd command');
    mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
    const out = openSync(logFile, 'a', 0o600);
    try {
      const nodeOptions = isNode(program) ? WGD_NODE_OPTIONS : [];
      const args = [...nodeOptions, ...leading, 'wgd', '--control', controlSocket, '--uapi-dir', uapiDir];
      const child = spawn(program, args, {
        detached: true, // setsid: its own session and process group
        stdio: ['ignore', out, out],
        env: withoutArenaLimit(process.env),
      });
      child.on('error', (error) =>
        this.#options.log?.(`cannot start zmesh wgd: ${(error as NodeJS.ErrnoException).code ?? 'error'}`),
      );
      child.unref();
    } finally {
      closeSync(out);
    }
  }
}
