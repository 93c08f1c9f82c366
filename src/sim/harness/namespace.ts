// One network namespace of a world: running commands inside it, starting
// tracked background processes in it, and the few ip(8)/sysctl operations
// tests need (addresses, links up, routes, per-namespace sysctls). Objects are
// created by World, which owns the namespace's lifetime.
import { addressOf, checkAddress, checkCidr, checkRouteDestination } from './addresses.js';
import { runCommand, type CommandOptions, type CommandResult } from './command.js';
import { HarnessError } from './errors.js';
import { checkIfname } from './names.js';
import { BackgroundProcess, type SpawnOptions } from './process.js';
import { systemTool } from './system-tools.js';

/** What a namespace needs from its world: process tracking and a liveness check. */
export interface NamespaceOwner {
  track(proc: BackgroundProcess): void;
  assertOpen(what: string): void;
}

export interface RouteOptions {
  /** Next hop. */
  via?: string;
  /** Outgoing interface. */
  dev?: string;
  /** Preferred source address. */
  src?: string;
  metric?: number;
}

export interface LinkInfo {
  readonly ifname: string;
  readonly ifindex: number;
  readonly mtu: number;
  readonly operstate: string;
  readonly flags: readonly string[];
  readonly linkType: string;
}

const SYSCTL_KEY_RE = /^net\.[A-Za-z0-9_.\-/]+$/;

export class Namespace {
  /** Full namespace name, prefix included. */
  readonly name: string;
  private readonly owner: NamespaceOwner;

  constructor(name: string, owner: NamespaceOwner) {
    this.name = name;
    this.owner = owner;
  }

  /** The bind mount that holds the namespace (for setns, the native addon, `nsenter --net=`). */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /**
   * Runs `cmd args` inside the namespace to completion. Throws on non-zero exit unless `check: false`.
   * A bare `cmd` is looked up in the system directories first (see system-tools.ts).
   */
  exec(cmd: string, args: readonly string[] = [], opts: CommandOptions = {}): Promise<CommandResult> {
    this.owner.assertOpen(`exec in ${this.name}`);
    return runCommand(systemTool('ip'), ['netns', 'exec', this.name, systemTool(cmd), ...args], {
      ...opts,
      visibleArgs: (opts.visibleArgs ?? 0) + 4,
    });
  }

  /** Starts `cmd args` inside the namespace in the background (bare names as in `exec`); stopped at teardown. */
  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): BackgroundProcess {
    this.owner.assertOpen(`spawn in ${this.name}`);
    // `ip netns exec` execs the command, so the PID we track is the command's own.
    const proc = new BackgroundProcess(systemTool('ip'), ['netns', 'exec', this.name, systemTool(cmd), ...args], {
      ...opts,
      visibleArgs: (opts.visibleArgs ?? 0) + 4,
      detached: true, // the world ends it by PID (see process.ts)
    });
    this.owner.track(proc);
    return proc;
  }

  /**
   * Like `spawn`, but enters only the network namespace (`nsenter --net=PATH`) and keeps this
   * process's mount namespace. For daemons that create namespaces themselves (networkd): `ip netns
   * exec` gives its command a private, slave mount namespace, so the /run/netns bind mounts such a
   * daemon makes would be visible to it alone and would vanish with it (a restarted daemon, the
   * tests and wgd would find empty files). Its /sys is the caller's, not the namespace's.
   */
  spawnSharingMounts(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): BackgroundProcess {
    this.owner.assertOpen(`spawn in ${this.name}`);
    // nsenter execs the command, so the PID we track is the command's own.
    const proc = new BackgroundProcess(systemTool('nsenter'), [`--net=${this.path}`, '--', systemTool(cmd), ...args], {
      ...opts,
      visibleArgs: (opts.visibleArgs ?? 0) + 3,
      detached: true, // the world ends it by PID (see process.ts)
    });
    this.owner.track(proc);
    return proc;
  }

  /** `ip -n <ns> args...` (ip enters the namespace itself; cheaper than `ip netns exec`). */
  ip(args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    this.owner.assertOpen(`ip in ${this.name}`);
    return runCommand(systemTool('ip'), ['-n', this.name, ...args], opts);
  }

  async addAddress(ifname: string, cidr: string): Promise<void> {
    checkIfname(ifname);
    checkCidr(cidr);
    // nodad: an IPv6 address is usable at once instead of after duplicate detection.
    const extra = addressOf(cidr).includes(':') ? ['nodad'] : [];
    await this.ip(['addr', 'add', cidr, 'dev', ifname, ...extra]);
  }

  async setUp(ifname: string): Promise<void> {
    await this.ip(['link', 'set', checkIfname(ifname), 'up']);
  }

  async setMtu(ifname: string, mtu: number): Promise<void> {
    checkMtu(mtu);
    await this.ip(['link', 'set', checkIfname(ifname), 'mtu', String(mtu)]);
  }

  /**
   * Sets a sysctl inside this namespace only. Only `net.*` keys are accepted: other sysctls are
   * global to the machine and a test must not change them.
   */
  async sysctl(key: string, value: string | number): Promise<void> {
    if (!SYSCTL_KEY_RE.test(key)) {
      throw new HarnessError(
        'INVALID_ARGUMENT',
        `sysctl key '${key}' refused: only per-namespace net.* keys may be set`,
        {
          field: 'key',
          value: key,
        },
      );
    }
    const v = String(value);
    if (!/^[\w .:-]*$/.test(v)) {
      throw new HarnessError('INVALID_ARGUMENT', `sysctl value '${v}' for ${key} has unexpected characters`, {
        field: 'value',
      });
    }
    await this.exec('sysctl', ['-q', '-w', `${key}=${v}`]);
  }

  /** Reads a sysctl as seen inside this namespace. */
  async readSysctl(key: string): Promise<string> {
    const r = await this.exec('sysctl', ['-n', key]);
    return r.stdout.trim();
  }

  /** `ip route add <destination> [via V] [dev D] [src S] [metric M]`; destination is "default" or a CIDR. */
  async addRoute(destination: string, opts: RouteOptions = {}): Promise<void> {
    checkRouteDestination(destination);
    if (!opts.via && !opts.dev) {
      throw new HarnessError('INVALID_ARGUMENT', `route to ${destination} needs 'via' or 'dev'`, { field: 'route' });
    }
    const args = ['route', 'add', destination];
    if (opts.via) args.push('via', checkAddress(opts.via, 'via'));
    if (opts.dev) args.push('dev', checkIfname(opts.dev, 'dev'));
    if (opts.src) args.push('src', checkAddress(opts.src, 'src'));
    if (opts.metric !== undefined) args.push('metric', String(opts.metric));
    if (destination !== 'default' && addressOf(destination).includes(':')) args.unshift('-6');
    else if (destination === 'default' && opts.via?.includes(':')) args.unshift('-6');
    await this.ip(args);
  }

  /** The links in this namespace, as `ip -j link` reports them. */
  async links(): Promise<LinkInfo[]> {
    const r = await this.ip(['-j', 'link', 'show']);
    const raw = JSON.parse(r.stdout || '[]') as Array<Record<string, unknown>>;
    return raw.map((l) => ({
      ifname: String(l.ifname),
      ifindex: Number(l.ifindex),
      mtu: Number(l.mtu),
      operstate: String(l.operstate),
      flags: (l.flags as string[] | undefined) ?? [],
      linkType: String(l.link_type),
    }));
  }

  /** The addresses (CIDR form) on one interface, or on all. */
  async addresses(ifname?: string): Promise<string[]> {
    const r = await this.ip(['-j', 'addr', 'show', ...(ifname ? ['dev', checkIfname(ifname)] : [])]);
    const raw = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
    return raw.flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  }
}

export function checkMtu(mtu: number, field = 'mtu'): number {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new HarnessError('INVALID_ARGUMENT', `${field} ${mtu} is not an MTU (68-65535)`, { field, value: mtu });
  }
  return mtu;
}
