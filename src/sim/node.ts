// One simulated node: its host namespace (the node's "machine"), its uplink (public, or behind a
// NAT router namespace), its identity (made by the real `zmesh node init`), and its networkd
// process, started inside the host namespace exactly as on a real node. networkd starts wgd
// itself; both are ended by PID, never by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './harness/command.js';
import type { Namespace } from './harness/namespace.js';
import { isProcessAlive, type BackgroundProcess } from './harness/process.js';
import { pidsInNamespace, namespacesWithPrefix } from './harness/runs.js';
import { waitFor } from './harness/wait.js';
import { SimError } from './errors.js';
import { NetworkdApi } from './networkd-api.js';
import { zmeshArgs, type ZmeshInvocation } from './zmesh-command.js';
import { MALLOC_ARENA_ENV, NETWORKD_MALLOC_ARENAS } from '../networkd/malloc-arenas.js';

export interface SimNodeSpec {
  /** Node id (the tool's rules: 1-32 of a-z, 0-9, "-"). */
  readonly id: string;
  /** Behind a NAT router: cannot be dialled, peers only with the aggregator. */
  readonly hidden?: boolean;
}

/** What the world builds a node from: the node's own fields (documented on SimNode) and how it runs things. */
export type SimNodeParts = Pick<
  SimNode,
  'id' | 'index' | 'hidden' | 'host' | 'nat' | 'uplinkAddress' | 'publicAddress' | 'prefix' | 'stateDir'
> & {
  readonly zmesh: ZmeshInvocation;
  /** Admin public keys the node trusts (`zmesh node init --trust`). */
  readonly trust: readonly string[];
  /** Starts a tracked background process in the host namespace (the world's spawn). */
  readonly spawn: (cmd: string, args: readonly string[], env?: Record<string, string>) => BackgroundProcess;
  /** Extra arguments for networkd (e.g. `--wg userspace`). */
  readonly networkdArgs: readonly string[];
};

export class SimNode {
  readonly id: string;
  /** 1-based; part of every address and name of the node. */
  readonly index: number;
  readonly hidden: boolean;
  /** The node's own namespace: its uplink, networkd, wgd and their UDP sockets live here. */
  readonly host: Namespace;
  /** The NAT router in front of a hidden node. */
  readonly nat: Namespace | undefined;
  /** The address on the node's `eth0`. */
  readonly uplinkAddress: string;
  /** The address the Internet sees connections from (the NAT's for a hidden node). */
  readonly publicAddress: string;
  /** networkd's `--prefix`: the world's run prefix + the node index, so the harness sweeps it. */
  readonly prefix: string;
  /** identity.key (0600), node.json, networkd's state. */
  readonly stateDir: string;
  readonly api: NetworkdApi;
  private readonly parts: SimNodeParts;
  private daemon: BackgroundProcess | undefined;
  /** The wgd processes stopDaemons found (the host namespace, where they are listed, goes later). */
  private stoppedWgd: number[] = [];

  constructor(parts: SimNodeParts) {
    this.parts = parts;
    this.id = parts.id;
    this.index = parts.index;
    this.hidden = parts.hidden;
    this.host = parts.host;
    this.nat = parts.nat;
    this.uplinkAddress = parts.uplinkAddress;
    this.publicAddress = parts.publicAddress;
    this.prefix = parts.prefix;
    this.stateDir = parts.stateDir;
    this.api = new NetworkdApi(this.socketPath, parts.id);
  }

  get socketPath(): string {
    return join(this.stateDir, 'networkd.sock');
  }

  get recordFile(): string {
    return join(this.stateDir, 'node.json');
  }

  get identityKeyFile(): string {
    return join(this.stateDir, 'identity.key');
  }

  /** The node record `zmesh node init` printed (public: id, identity public key, endpoints). */
  record(): unknown {
    return JSON.parse(readFileSync(this.recordFile, 'utf8'));
  }

  /** The running networkd, if any. */
  get networkd(): BackgroundProcess | undefined {
    return this.daemon?.running ? this.daemon : undefined;
  }

  /** `zmesh node init` for this node (public nodes give their uplink address as endpoint). */
  async init(): Promise<void> {
    const args = [
      'node',
      'init',
      '--state-dir',
      this.stateDir,
      '--id',
      this.id,
      ...(this.hidden ? ['--hidden'] : ['--endpoint', this.uplinkAddress]),
      ...this.parts.trust.flatMap((key) => ['--trust', key]),
    ];
    const r = await runCommand(this.parts.zmesh.file, zmeshArgs(this.parts.zmesh, args), {
      check: false,
      timeoutMs: this.parts.zmesh.toolTimeoutMs ?? 30_000,
    });
    if (r.exitCode !== 0) {
      throw new SimError('TOOL_FAILED', `${this.id}: zmesh node init failed (exit ${r.exitCode}): ${r.stderr.trim()}`, {
        node: this.id,
      });
    }
  }

  /** Starts networkd in the host namespace and waits until its API answers. */
  async startNetworkd(timeoutMs = 30_000): Promise<void> {
    if (this.networkd)
      throw new SimError('INVALID_ARGUMENT', `${this.id}: networkd is already running (pid ${this.networkd.pid})`, {
        node: this.id,
      });
    const args = [
      'networkd',
      '--state-dir',
      this.stateDir,
      '--prefix',
      this.prefix,
      '--socket',
      this.socketPath,
      ...this.parts.networkdArgs,
    ];
    // As its unit file starts it (src/networkd/malloc-arenas.ts).
    const proc = this.parts.spawn(this.parts.zmesh.file, zmeshArgs(this.parts.zmesh, args), {
      [MALLOC_ARENA_ENV]: NETWORKD_MALLOC_ARENAS,
    });
    this.daemon = proc;
    try {
      await waitFor(
        async () => {
          if (!proc.running) {
            throw new SimError(
              'NETWORKD_FAILED',
              `${this.id}: networkd exited (${JSON.stringify(proc.exitStatus)}): ${proc.stderr.trim().slice(-1500)}`,
              { node: this.id },
            );
          }
          return this.api.healthy();
        },
        { what: `${this.id}'s networkd API at ${this.socketPath}`, timeoutMs, intervalMs: 100 },
      );
    } catch (e) {
      if (!proc.running) {
        throw new SimError(
          'NETWORKD_FAILED',
          `${this.id}: networkd exited (${JSON.stringify(proc.exitStatus)}): ${proc.stderr.trim().slice(-1500)}`,
          { node: this.id },
        );
      }
      throw e;
    }
  }

  /** Ends networkd with `signal` (SIGKILL: a crash) and waits for it to be gone. wgd keeps running. */
  async killNetworkd(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.daemon;
    if (!proc?.running) return;
    if (signal === 'SIGTERM') {
      await proc.stop({ graceMs: 5_000 });
      return;
    }
    process.kill(proc.pid, signal);
    await proc.exited;
  }

  /**
   * A crash of the whole node's data plane: SIGKILL to networkd and to its wgd (by PID), waiting
   * until both are gone. The namespaces stay, as after a power cut that keeps the links.
   */
  async crashDaemons(): Promise<void> {
    const wgd = this.wgdPids();
    await this.killNetworkd('SIGKILL');
    for (const pid of wgd) signal(pid, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    while (wgd.some((pid) => isProcessAlive(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** networkd's output so far (for failure messages; it never logs keys). */
  networkdLog(): string {
    return this.daemon ? `${this.daemon.stdout}${this.daemon.stderr}` : '';
  }

  /** The last `maxChars` of wgd's log (D/networkd/wgd.log; wgd never logs keys), '' when none. */
  wgdLog(maxChars = 4_000): string {
    try {
      return readFileSync(join(this.stateDir, 'networkd', 'wgd.log'), 'utf8').slice(-maxChars);
    } catch {
      return '';
    }
  }

  /**
   * PIDs of the wgd processes serving this node: processes inside the host namespace whose
   * command line is `zmesh wgd ...` (networkd starts wgd detached, so the world did not spawn it).
   */
  wgdPids(): number[] {
    return pidsInNamespace(this.host.name).filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.includes('wgd');
      } catch {
        return false;
      }
    });
  }

  /** Every process inside the host namespace (networkd, wgd, anything they left). */
  processes(): number[] {
    return pidsInNamespace(this.host.name);
  }

  /** The namespaces networkd made for this node (its ndmz and NRs). */
  ownedNamespaces(): string[] {
    return namespacesWithPrefix(this.prefix).filter(
      (n) => n === `${this.prefix}ndmz` || n.startsWith(`${this.prefix}n-`),
    );
  }

  /**
   * True when networkd was started and has exited (crashed, killed) — waiting up to `withinMs`
   * for an exit that is under way, e.g. when its socket has just stopped answering.
   */
  async networkdGone(withinMs = 1_000): Promise<boolean> {
    const proc = this.daemon;
    if (!proc) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([proc.exited, new Promise((r) => (timer = setTimeout(r, withinMs)))]);
    clearTimeout(timer);
    return !proc.running;
  }

  /** What of this node is still there (after a teardown: nothing): its namespaces, networkd, wgd. */
  leftovers(): string[] {
    const namespaces = namespacesWithPrefix(this.prefix).map((n) => `namespace ${n}`);
    const networkd = this.daemon?.running ? [`networkd (pid ${this.daemon.pid})`] : [];
    const wgd = this.stoppedWgd.filter((pid) => isProcessAlive(pid)).map((pid) => `wgd (pid ${pid})`);
    return [...namespaces, ...networkd, ...wgd];
  }

  /** Ends networkd (SIGTERM) and wgd (SIGTERM, SIGKILL after `graceMs`), by PID. */
  async stopDaemons(graceMs = 3_000): Promise<void> {
    await this.daemon?.stop({ graceMs });
    const pids = this.wgdPids();
    this.stoppedWgd = pids;
    for (const pid of pids) signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (pids.some((p) => isProcessAlive(p)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of pids) if (isProcessAlive(pid)) signal(pid, 'SIGKILL');
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
