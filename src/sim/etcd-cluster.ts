// A real etcd cluster (Debian etcd-server) for tests, the demo and the benchmark: 3 (or N)
// members, each with its own data dir under the world's temp dir and its own ports, either all
// on 127.0.0.1 of this machine (store tests, no namespaces needed) or each inside a namespace of
// the simulated internet. Every member is a process of the world (tracked by PID, recorded in
// the run registry), so teardown — or the stale-run sweeper after a killed run — ends it.
// Never the default ports 2379/2380.
import { createServer } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BackgroundProcess } from './harness/process.js';
import { systemTool } from './harness/system-tools.js';
import type { World } from './harness/world.js';
import type { Namespace } from './harness/namespace.js';
import { HarnessError } from './harness/errors.js';

/** TLS material for server, peer and client-certificate authentication (PEM file paths). */
export interface EtcdTlsFiles {
  readonly caFile: string;
  /** The member's certificate and key (server and peer use the same pair; SAN covers its address). */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface EtcdMemberPlacement {
  /** Where the member listens (127.0.0.1 or its namespace's address). */
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** The namespace to run in; none = this machine's namespace (loopback only). */
  readonly namespace?: Namespace;
  /** Per-member TLS files; with them clients must present a certificate of the CA. */
  readonly tls?: EtcdTlsFiles;
}

export interface EtcdMember extends EtcdMemberPlacement {
  readonly name: string;
  readonly dataDir: string;
  process: BackgroundProcess | null;
}

// zap logs "serving client traffic (in)securely" once the member has joined and serves clients.
const READY = /serving client traffic/;

/**
 * A free TCP port on 127.0.0.1, drawn at random from 20000–32767: below the kernel's ephemeral
 * range (32768+), so no outgoing connection of this machine takes it between the check and
 * etcd's bind, and at random so that clusters started at the same moment by parallel tests
 * rarely draw the same one (`onLoopback` starts again on new ports when one does).
 */
export async function freeLoopbackPort(): Promise<number> {
  for (let tries = 0; tries < 64; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await portIsFree(port)) return port;
  }
  throw new HarnessError('SPAWN_FAILED', 'no free port on 127.0.0.1 in 20000-32767 after 64 tries', {});
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Attempts at starting a loopback cluster on fresh ports, when a port was taken meanwhile. */
const LOOPBACK_START_ATTEMPTS = 3;

export class EtcdCluster {
  readonly members: EtcdMember[];
  private readonly world: World;

  private constructor(world: World, members: EtcdMember[]) {
    this.world = world;
    this.members = members;
  }

  /** `size` members on 127.0.0.1 with free high ports. */
  static async onLoopback(
    world: World,
    opts: { size?: number; tls?: (index: number) => EtcdTlsFiles } = {},
  ): Promise<EtcdCluster> {
    for (let attempt = 1; ; attempt++) {
      const placements: EtcdMemberPlacement[] = [];
      const taken = new Set<number>();
      const port = async () => {
        let p = await freeLoopbackPort();
        while (taken.has(p)) p = await freeLoopbackPort();
        taken.add(p);
        return p;
      };
      for (let i = 0; i < (opts.size ?? 3); i++) {
        const tls = opts.tls?.(i);
        placements.push({
          host: '127.0.0.1',
          clientPort: await port(),
          peerPort: await port(),
          ...(tls ? { tls } : {}),
        });
      }
      try {
        return await EtcdCluster.start(world, placements);
      } catch (e) {
        // A port checked free can still be taken before etcd binds it (another test's cluster):
        // the members were stopped; start again on new ports.
        if (attempt >= LOOPBACK_START_ATTEMPTS) throw e;
      }
    }
  }

  /** Starts one member per placement as a new cluster and waits until every member serves. */
  static async start(world: World, placements: readonly EtcdMemberPlacement[]): Promise<EtcdCluster> {
    const root = join(world.tempDir(), `etcd-${Math.random().toString(36).slice(2, 8)}`);
    const members: EtcdMember[] = placements.map((p, i) => ({
      ...p,
      name: `m${i + 1}`,
      dataDir: join(root, `m${i + 1}`),
      process: null,
    }));
    for (const m of members) {
      if (m.clientPort === 2379 || m.peerPort === 2380 || m.clientPort === m.peerPort) {
        throw new HarnessError(
          'INVALID_ARGUMENT',
          `etcd member ${m.name}: ports ${m.clientPort}/${m.peerPort} not allowed`,
          {},
        );
      }
      mkdirSync(m.dataDir, { recursive: true, mode: 0o700 });
    }
    const cluster = new EtcdCluster(world, members);
    for (let i = 0; i < members.length; i++) cluster.startMember(i, 'new');
    try {
      await Promise.all(members.map((_, i) => cluster.waitReady(i)));
    } catch (e) {
      for (let i = 0; i < members.length; i++) await cluster.kill(i);
      throw e;
    }
    return cluster;
  }

  /** Client endpoints (`http(s)://host:port`). */
  get endpoints(): string[] {
    return this.members.map((m) => `${m.tls ? 'https' : 'http'}://${m.host}:${m.clientPort}`);
  }

  /** The store URL of the whole cluster: `etcd://h:p,h:p,h:p`. */
  get url(): string {
    return `etcd://${this.members.map((m) => `${m.host}:${m.clientPort}`).join(',')}`;
  }

  /** SIGKILL one member (index from 0); its data dir stays for `restart`. */
  async kill(index: number): Promise<void> {
    const proc = this.member(index).process;
    if (!proc) return;
    proc.killSync();
    await proc.exited;
    this.member(index).process = null;
  }

  /** Starts a killed member again from its data dir and waits until it serves. */
  async restart(index: number, opts: { waitReady?: boolean } = {}): Promise<void> {
    if (this.member(index).process?.running) return;
    this.startMember(index, 'existing');
    if (opts.waitReady !== false) await this.waitReady(index);
  }

  /** Every member SIGKILLed, its data removed, and a new, empty cluster started in its place. */
  async wipe(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    for (const m of this.members) {
      rmSync(m.dataDir, { recursive: true, force: true });
      mkdirSync(m.dataDir, { recursive: true, mode: 0o700 });
    }
    for (let i = 0; i < this.members.length; i++) this.startMember(i, 'new');
    await Promise.all(this.members.map((_, i) => this.waitReady(i)));
  }

  private member(index: number): EtcdMember {
    const m = this.members[index];
    if (!m) throw new HarnessError('INVALID_ARGUMENT', `no etcd member ${index}`, {});
    return m;
  }

  private startMember(index: number, state: 'new' | 'existing'): void {
    const m = this.member(index);
    const scheme = m.tls ? 'https' : 'http';
    const cluster = this.members.map((o) => `${o.name}=${scheme}://${o.host}:${o.peerPort}`).join(',');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      `${scheme}://${m.host}:${m.clientPort}`,
      '--advertise-client-urls',
      `${scheme}://${m.host}:${m.clientPort}`,
      '--listen-peer-urls',
      `${scheme}://${m.host}:${m.peerPort}`,
      '--initial-advertise-peer-urls',
      `${scheme}://${m.host}:${m.peerPort}`,
      '--initial-cluster',
      cluster,
      '--initial-cluster-state',
      state,
      '--initial-cluster-token',
      `zmesh-${this.world.prefix}`,
      // Fast elections on a loaded test machine without flapping; small snapshots.
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--snapshot-count',
      '10000',
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      ...(m.tls
        ? [
            '--cert-file',
            m.tls.certFile,
            '--key-file',
            m.tls.keyFile,
            '--client-cert-auth',
            '--trusted-ca-file',
            m.tls.caFile,
            '--peer-cert-file',
            m.tls.certFile,
            '--peer-key-file',
            m.tls.keyFile,
            '--peer-client-cert-auth',
            '--peer-trusted-ca-file',
            m.tls.caFile,
          ]
        : []),
    ];
    let proc: BackgroundProcess;
    if (m.namespace) {
      proc = m.namespace.spawn('etcd', args);
    } else {
      proc = new BackgroundProcess(systemTool('etcd'), args);
      this.world.track(proc);
    }
    m.process = proc;
  }

  private async waitReady(index: number): Promise<void> {
    const proc = this.member(index).process;
    if (!proc) throw new HarnessError('INVALID_ARGUMENT', `etcd member ${index} is not running`, {});
    await proc.waitForOutput(READY, { stream: 'stderr', timeoutMs: 30_000 });
  }
}
