// A World is one run's set of network namespaces, veth links between them and
// background processes, all named with the run's prefix, and the guarantee
// that they are removed: by teardown(), by the exit hooks if the process ends
// first, or by the stale-run sweeper if the process was killed outright.
// It also builds the recurring pieces of a simulated network: routers and NAT
// routers (each inside its own namespace; the root namespace is never touched).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCidr } from './addresses.js';
import { runCommand } from './command.js';
import { HarnessError } from './errors.js';
import { systemTool } from './system-tools.js';
import { registerForExit, unregisterForExit } from './exit-hooks.js';
import { checkIfname, checkNetnsName, checkPrefix, checkShortName, randomRunPrefix } from './names.js';
import { checkMtu, Namespace } from './namespace.js';
import { DEFAULT_GRACE_MS, type BackgroundProcess } from './process.js';
import {
  claimPrefix,
  DEFAULT_RUN_DIR,
  deleteNamespaceSync,
  listRuns,
  namespacesWithPrefix,
  pidsInNamespace,
  recordSpawn,
  releasePrefix,
  sweepStaleRuns,
  type SweepReport,
} from './runs.js';

export interface WorldOptions {
  /** Run prefix (3-8 lowercase letters/digits). Default: "zt" + 4 random base32 chars. */
  prefix?: string;
  /** Where runs are recorded (default /run/zmesh-test). */
  runDir?: string;
  /** Sweep the leftovers of dead runs before starting (default true). */
  sweepStale?: boolean;
  /** How long processes get between SIGTERM and SIGKILL at teardown (default 2 s). */
  graceMs?: number;
}

export interface LinkOptions {
  /** Address(es) with prefix length for the end in the first namespace. */
  addressA?: string | readonly string[];
  /** Address(es) with prefix length for the end in the second namespace. */
  addressB?: string | readonly string[];
  /** MTU of both ends. */
  mtu?: number;
  /** Bring both ends up (default true). */
  up?: boolean;
}

export interface RouterOptions {
  /** Also forward IPv6 (default true). */
  ipv6?: boolean;
}

export interface NatRouterOptions extends RouterOptions {
  /** The interface towards the outside; traffic leaving through it is masqueraded. */
  outside: string;
  /** Drop connections started from the outside, as a home router does (default true). */
  blockInbound?: boolean;
  /** Random source ports instead of port-preserving (symmetric-looking NAT). */
  randomPorts?: boolean;
  /** This namespace's conntrack timeout for one-way UDP flows, seconds (kernel default 30). */
  udpTimeoutSec?: number;
  /** This namespace's conntrack timeout for UDP flows seen both ways, seconds (kernel default 120). */
  udpStreamTimeoutSec?: number;
}

const NAT_TABLE = 'harness_nat';

export class World {
  readonly prefix: string;
  readonly runDir: string;
  /** What the start-up sweep removed (null when sweeping was off). */
  readonly sweepReport: SweepReport | null;
  private readonly graceMs: number;
  private readonly spaces: Namespace[] = [];
  private readonly procs: BackgroundProcess[] = [];
  private tmp: string | undefined;
  private closed = false;
  private teardownDone: Promise<void> | undefined;

  private constructor(prefix: string, runDir: string, sweepReport: SweepReport | null, graceMs: number) {
    this.prefix = prefix;
    this.runDir = runDir;
    this.sweepReport = sweepReport;
    this.graceMs = graceMs;
  }

  static async create(opts: WorldOptions = {}): Promise<World> {
    const runDir = opts.runDir ?? DEFAULT_RUN_DIR;
    const sweepReport = opts.sweepStale === false ? null : sweepStaleRuns({ runDir });
    let prefix: string | undefined;
    if (opts.prefix !== undefined) {
      checkPrefix(opts.prefix);
      let claim = claimPrefix(opts.prefix, runDir);
      if (claim === 'stale') {
        sweepStaleRuns({ runDir });
        claim = claimPrefix(opts.prefix, runDir);
      }
      if (claim !== 'claimed') {
        throw new HarnessError('PREFIX_IN_USE', `prefix '${opts.prefix}' belongs to a live run (see ${runDir})`, {
          prefix: opts.prefix,
        });
      }
      prefix = opts.prefix;
    } else {
      for (let i = 0; i < 20 && prefix === undefined; i++) {
        const candidate = randomRunPrefix();
        // A random prefix must also not collide with namespaces someone left without a record.
        if (namespacesWithPrefix(candidate).length > 0) continue;
        if (claimPrefix(candidate, runDir) === 'claimed') prefix = candidate;
      }
      if (prefix === undefined) throw new HarnessError('PREFIX_IN_USE', 'no free random run prefix after 20 tries', {});
    }
    const world = new World(prefix, runDir, sweepReport, opts.graceMs ?? DEFAULT_GRACE_MS);
    registerForExit(world);
    return world;
  }

  /** `prefix + short`, checked to fit an interface name (for links a test names after its run). */
  ifname(short: string): string {
    return checkIfname(this.prefix + short, 'interface name (prefix included)');
  }

  /** The namespaces created so far. */
  get namespaces(): readonly Namespace[] {
    return this.spaces;
  }

  /** The background processes started so far (running or not). */
  get processes(): readonly BackgroundProcess[] {
    return this.procs;
  }

  /** A private directory (mode 0700) for keys and configs, removed at teardown. */
  tempDir(): string {
    this.assertOpen('tempDir');
    this.tmp ??= mkdtempSync(join(tmpdir(), `zmesh-${this.prefix}-`));
    return this.tmp;
  }

  /** Creates the namespace `<prefix><short>` with `lo` up. */
  async namespace(short: string): Promise<Namespace> {
    this.assertOpen('namespace');
    const name = checkNetnsName(this.prefix + checkShortName(short));
    if (this.spaces.some((s) => s.name === name)) {
      throw new HarnessError('INVALID_ARGUMENT', `namespace '${name}' already exists in this world`, {
        field: 'name',
        value: short,
      });
    }
    await runCommand(systemTool('ip'), ['netns', 'add', name]);
    const ns = new Namespace(name, this);
    this.spaces.push(ns);
    await ns.setUp('lo');
    return ns;
  }

  /**
   * A veth pair `ifA` (in `a`) ↔ `ifB` (in `b`), created directly inside the two namespaces (it never
   * exists in the root namespace), optionally with addresses and an MTU; up by default.
   */
  async link(a: Namespace, ifA: string, b: Namespace, ifB: string, opts: LinkOptions = {}): Promise<void> {
    this.assertOpen('link');
    this.assertMine(a);
    this.assertMine(b);
    checkIfname(ifA, 'ifA');
    checkIfname(ifB, 'ifB');
    const addrA = toList(opts.addressA).map((c) => checkCidr(c, 'addressA'));
    const addrB = toList(opts.addressB).map((c) => checkCidr(c, 'addressB'));
    const mtu = opts.mtu === undefined ? [] : ['mtu', String(checkMtu(opts.mtu))];
    await runCommand(systemTool('ip'), [
      'link',
      'add',
      ifA,
      'netns',
      a.name,
      ...mtu,
      'type',
      'veth',
      'peer',
      'name',
      ifB,
      'netns',
      b.name,
      ...mtu,
    ]);
    for (const c of addrA) await a.addAddress(ifA, c);
    for (const c of addrB) await b.addAddress(ifB, c);
    if (opts.up !== false) {
      await a.setUp(ifA);
      await b.setUp(ifB);
    }
  }

  /** A namespace that forwards IPv4 (and IPv6) between its interfaces. */
  async router(short: string, opts: RouterOptions = {}): Promise<Namespace> {
    const ns = await this.namespace(short);
    await ns.sysctl('net.ipv4.ip_forward', 1);
    if (opts.ipv6 !== false) await ns.sysctl('net.ipv6.conf.all.forwarding', 1);
    return ns;
  }

  /**
   * A router that masquerades what leaves through `outside` and (by default) drops connections
   * started from the outside. Rules live in this namespace's own nft table; the conntrack
   * timeouts are per-namespace sysctls, so they change nothing else on the machine.
   */
  async natRouter(short: string, opts: NatRouterOptions): Promise<Namespace> {
    checkIfname(opts.outside, 'outside');
    for (const [field, v] of [
      ['udpTimeoutSec', opts.udpTimeoutSec],
      ['udpStreamTimeoutSec', opts.udpStreamTimeoutSec],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 86_400)) {
        throw new HarnessError('INVALID_ARGUMENT', `${field} ${v} must be an integer 1..86400`, { field, value: v });
      }
    }
    const ns = await this.router(short, opts);
    const out = JSON.stringify(opts.outside);
    const rules = [
      `table inet ${NAT_TABLE} {`,
      `  chain forward {`,
      `    type filter hook forward priority filter; policy accept;`,
      `    ct state established,related accept`,
      ...(opts.blockInbound === false ? [] : [`    iifname ${out} ct state new drop`]),
      `  }`,
      `  chain postrouting {`,
      `    type nat hook postrouting priority srcnat; policy accept;`,
      `    oifname ${out} masquerade${opts.randomPorts ? ' random' : ''}`,
      `  }`,
      `}`,
      '',
    ].join('\n');
    // nft cannot read a Node child's stdin (a socketpair), so the rules go through a file.
    const file = join(this.tempDir(), `${ns.name}.nft`);
    writeFileSync(file, rules, { mode: 0o600 });
    await ns.exec('nft', ['-f', file]);
    if (opts.udpTimeoutSec !== undefined) await ns.sysctl('net.netfilter.nf_conntrack_udp_timeout', opts.udpTimeoutSec);
    if (opts.udpStreamTimeoutSec !== undefined) {
      await ns.sysctl('net.netfilter.nf_conntrack_udp_timeout_stream', opts.udpStreamTimeoutSec);
    }
    return ns;
  }

  /**
   * Removes everything this world made: stops its processes (SIGTERM, SIGKILL after the grace
   * period), kills what is left inside its namespaces, deletes the namespaces (and so their
   * links), the temp dir and the run record. Idempotent. Every step is attempted; failures are
   * collected and thrown together at the end as TEARDOWN_FAILED.
   */
  teardown(): Promise<void> {
    this.closed = true;
    this.teardownDone ??= this.runTeardown();
    return this.teardownDone;
  }

  private async runTeardown(): Promise<void> {
    const errors: string[] = [];
    await Promise.all(
      this.procs.map((p) =>
        p.stop({ graceMs: this.graceMs }).catch((e: unknown) => {
          errors.push(`stop ${p.command} (pid ${p.pid}): ${(e as Error).message}`);
        }),
      ),
    );
    errors.push(...this.removeNamespacesAndFiles());
    unregisterForExit(this);
    if (errors.length > 0) {
      throw new HarnessError('TEARDOWN_FAILED', `teardown of world ${this.prefix} failed:\n  ${errors.join('\n  ')}`, {
        prefix: this.prefix,
        errors,
      });
    }
  }

  /** The exit-hook version of teardown: synchronous, SIGKILL only. */
  teardownSync(): void {
    this.closed = true;
    for (const p of this.procs) p.killSync();
    this.removeNamespacesAndFiles();
    unregisterForExit(this);
  }

  private removeNamespacesAndFiles(): string[] {
    const errors: string[] = [];
    // Ours: the ones we made, plus any with our prefix that a failed step left untracked — minus
    // those of a longer recorded prefix that merely starts with ours.
    const longer = listRuns(this.runDir)
      .map((r) => r.prefix)
      .filter((p) => p.length > this.prefix.length && p.startsWith(this.prefix));
    const names = new Set([
      ...this.spaces.map((s) => s.name),
      ...namespacesWithPrefix(this.prefix).filter((n) => !longer.some((p) => n.startsWith(p))),
    ]);
    for (const name of names) {
      // Anything still inside one of our namespaces was started by this world (a daemon's child).
      for (const pid of pidsInNamespace(name)) {
        if (pid === process.pid) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      try {
        deleteNamespaceSync(name);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (this.tmp) {
      try {
        rmSync(this.tmp, { recursive: true, force: true });
      } catch (e) {
        errors.push(`remove ${this.tmp}: ${(e as Error).message}`);
      }
    }
    try {
      releasePrefix(this.prefix, this.runDir);
    } catch (e) {
      errors.push(`release run record ${this.prefix}: ${(e as Error).message}`);
    }
    return errors;
  }

  /** @internal called by Namespace.spawn */
  track(proc: BackgroundProcess): void {
    this.procs.push(proc);
    try {
      recordSpawn(this.prefix, proc.pid, this.runDir);
    } catch {
      // The record only helps a sweeper after a crash; the process is tracked in memory anyway.
    }
  }

  /** @internal */
  assertOpen(what: string): void {
    if (this.closed)
      throw new HarnessError('WORLD_CLOSED', `${what}: world ${this.prefix} was torn down`, { prefix: this.prefix });
  }

  private assertMine(ns: Namespace): void {
    if (!this.spaces.includes(ns)) {
      throw new HarnessError('INVALID_ARGUMENT', `namespace '${ns.name}' does not belong to world ${this.prefix}`, {
        prefix: this.prefix,
      });
    }
  }
}

function toList(v: string | readonly string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}
