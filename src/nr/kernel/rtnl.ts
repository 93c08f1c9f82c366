/**
 * Rtnl: one rtnetlink socket bound to one network namespace, and the typed operations that
 * network resources need on links, addresses and routes of that namespace. The socket is created
 * inside the namespace (the addon's `inNetns` around the netlink package's synchronous
 * constructor) and then serves every operation, so there is one socket per namespace, reused.
 *
 * Semantics chosen so that apply steps are safe to repeat:
 * - create* fail with EEXIST when the name is taken (the caller decides whether the existing link
 *   is the right one: inspect it with listLinks);
 * - set* and replaceRoute / addAddress are idempotent (the same call twice is a no-op);
 * - delete* return false instead of failing when the object is already gone.
 * Every failure is a KernelError (errno name, operation, object, namespace).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import { native } from '../../native/binding.js';
import { KernelError, errnoName, invalidArgument, kernelErrorFrom } from './errors.js';
import {
  afOf,
  familyOfAf,
  formatAddress,
  isNetwork,
  parseAddress,
  parseIpPrefix,
  type IpFamily,
  type IpPrefix,
} from './ip-address.js';
import { kindOfLinkInfo, linkInfoOfKind, vethLinkInfo } from './link-info.js';

// include/uapi/linux/netlink.h, rtnetlink.h
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RT_TABLE_MAIN = 254;
const RTN_UNICAST = 1;
const RTPROT_BOOT = 3; // what `ip route add` uses: "installed by the admin"
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_NOWHERE = 255; // in a delete request: match any scope

const MAX_IFNAME_BYTES = 15;

/** Kinds zmesh creates or meets; any other IFLA_INFO_KIND string is passed through. */
export type LinkKind = 'veth' | 'bridge' | 'tun' | 'wireguard' | 'dummy' | (string & {});

export interface LinkState {
  readonly index: number;
  readonly name: string;
  /** IFLA_INFO_KIND; null for links without one (lo, physical NICs). */
  readonly kind: LinkKind | null;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  readonly mtu: number;
  /** ifindex of the bridge (or other master) this link is enslaved to; null if none. */
  readonly master: number | null;
  /** IFLA_LINK: for a veth, the peer's ifindex (in the peer's namespace when linkNetnsId is set). */
  readonly link: number | null;
  /** IFLA_LINK_NETNSID: the peer's namespace as a netnsid local to this namespace; null if the same. */
  readonly linkNetnsId: number | null;
  /** MAC address (aa:bb:...), null if the link has none. */
  readonly mac: string | null;
}

export interface AddressState {
  /** Name of the link that carries the address. */
  readonly link: string;
  readonly index: number;
  readonly family: IpFamily;
  /** The address without prefix, e.g. "10.1.2.1". */
  readonly address: string;
  readonly prefix: number;
  /** `${address}/${prefix}` */
  readonly cidr: string;
}

export type RouteProtocolName = 'redirect' | 'kernel' | 'boot' | 'static' | 'ra' | 'dhcp' | (string & {});
export type RouteScopeName = 'universe' | 'site' | 'link' | 'host' | 'nowhere' | (string & {});

export interface RouteState {
  readonly family: IpFamily;
  /** CIDR; the default route is "0.0.0.0/0" (or "::/0"). */
  readonly destination: string;
  readonly gateway: string | null;
  /** Outgoing link name, null if none (or unknown). */
  readonly dev: string | null;
  readonly protocol: RouteProtocolName;
  readonly scope: RouteScopeName;
  /** RTA_PRIORITY (ip's "metric"); 0 when not set. */
  readonly metric: number;
}

export interface RouteSpec {
  /** CIDR (a network: no host bits) or 'default' (IPv4 0.0.0.0/0; IPv6 when the gateway is v6). */
  readonly destination: string;
  /** Next hop; at least one of gateway and dev is required. */
  readonly gateway?: string;
  readonly dev?: string;
  readonly metric?: number;
}

export interface LinkOptions {
  readonly mtu?: number;
}

const PROTOCOL_NAMES: Readonly<Record<number, RouteProtocolName>> = {
  1: 'redirect',
  2: 'kernel',
  3: 'boot',
  4: 'static',
  9: 'ra',
  16: 'dhcp',
};
const SCOPE_NAMES: Readonly<Record<number, RouteScopeName>> = {
  0: 'universe',
  200: 'site',
  253: 'link',
  254: 'host',
  255: 'nowhere',
};
const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'unicast',
  2: 'local',
  3: 'broadcast',
  6: 'blackhole',
  7: 'unreachable',
};

/** The netlink package decodes known enum values to their upper-case names and leaves others as numbers. */
function enumName(value: number | string, names: Readonly<Record<number, string>>): string {
  return typeof value === 'string' ? value.toLowerCase() : (names[value] ?? String(value));
}

export class Rtnl {
  /** The namespace this socket works in (null: the namespace of the process that opened it). */
  readonly netnsPath: string | null;
  private readonly socket: RtNetlinkSocket;
  private closed = false;
  private socketError: Error | null = null;

  private constructor(netnsPath: string | null, socket: RtNetlinkSocket) {
    this.netnsPath = netnsPath;
    this.socket = socket;
    // An 'error' event without a listener would crash the process; keep it for the next call.
    socket.socket.on('error', (e: Error) => {
      this.socketError = e;
    });
  }

  /** Opens an rtnetlink socket inside the namespace at `netnsPath` (null: the caller's own). */
  static open(netnsPath: string | null): Rtnl {
    try {
      const socket = native().inNetns(netnsPath, () => createRtNetlink());
      return new Rtnl(netnsPath, socket);
    } catch (e) {
      throw kernelErrorFrom(e, { operation: 'open rtnetlink socket', object: '', netns: netnsPath });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.socket.close();
  }

  // ---- links ----

  async listLinks(): Promise<LinkState[]> {
    const msgs = await this.call('list links', '', () => this.socket.getLinks());
    return msgs.map((m) => {
      const a = m.attrs;
      return {
        index: m.data.index ?? 0,
        name: a.ifname ?? '',
        kind: kindOfLinkInfo(a.linkinfo),
        up: m.data.flags?.up === true,
        mtu: a.mtu ?? 0,
        master: a.master ? a.master : null,
        link: a.link && a.link.length >= 4 ? a.link.readUInt32LE(0) : null,
        linkNetnsId: a.linkNetnsid ?? null,
        mac:
          a.address && a.address.length > 0
            ? Array.from(a.address, (b) => b.toString(16).padStart(2, '0')).join(':')
            : null,
      };
    });
  }

  /** The link's state, or null when there is no link of that name. */
  async getLink(name: string): Promise<LinkState | null> {
    checkName(name, 'name', this.ctx('get link', name));
    const index = await this.indexOrNull(name);
    if (index === null) return null;
    return (await this.listLinks()).find((l) => l.index === index) ?? null;
  }

  /**
   * A veth pair: `name` in this namespace, `peerName` in the namespace at `peerNetnsPath` (null:
   * this one). Created down. EEXIST if either name is taken (nothing is created then).
   */
  async createVeth(
    name: string,
    peerName: string,
    peerNetnsPath: string | null,
    options: LinkOptions = {},
  ): Promise<void> {
    const ctx = this.ctx(
      'create veth',
      `'${name}' <-> '${peerName}'${peerNetnsPath ? ` (peer in ${peerNetnsPath})` : ''}`,
    );
    checkName(name, 'name', ctx);
    checkName(peerName, 'peerName', ctx);
    if (options.mtu !== undefined) checkMtu(options.mtu, ctx);
    await this.withNetnsFd(peerNetnsPath, ctx, async (fd) => {
      const linkinfo = vethLinkInfo({
        name: peerName,
        ...(fd === null ? {} : { netnsFd: fd }),
        ...(options.mtu ? { mtu: options.mtu } : {}),
      });
      await this.call(ctx.operation, ctx.object, () =>
        this.socket.newLink(
          {},
          { ifname: name, linkinfo, ...(options.mtu ? { mtu: options.mtu } : {}) },
          { flags: NLM_F_CREATE | NLM_F_EXCL },
        ),
      );
    });
  }

  /**
   * A bridge named `name`, created down, with a MAC of its own. EEXIST if the name is taken.
   * Without an address given at creation the kernel gives a bridge the lowest MAC among its ports
   * and re-derives it whenever a port joins or leaves: the NR's gateway MAC changed under the
   * other workloads at each attach/detach and their pings were lost until ARP caught up (the soak
   * counted 4). An address set at creation is kept (addr_assign_type "set").
   */
  async createBridge(name: string, options: LinkOptions = {}): Promise<void> {
    const mac = randomBytes(6);
    mac[0] = ((mac[0] as number) & 0xfc) | 0x02; // locally administered, unicast
    await this.createLinkOfKind('bridge', name, options, mac);
  }

  async setUp(name: string): Promise<void> {
    await this.setLinkFlagUp(name, true);
  }

  async setDown(name: string): Promise<void> {
    await this.setLinkFlagUp(name, false);
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    const ctx = this.ctx('set MTU of', `'${name}' to ${mtu}`);
    checkMtu(mtu, ctx);
    const index = await this.indexOf(name, ctx);
    await this.call(ctx.operation, ctx.object, () => this.socket.setLink({ index }, { mtu }));
  }

  /** Enslaves `name` to the bridge `bridgeName`, or frees it (null). */
  async setMaster(name: string, bridgeName: string | null): Promise<void> {
    const ctx = this.ctx('set master of', `'${name}' to ${bridgeName === null ? 'none' : `'${bridgeName}'`}`);
    const index = await this.indexOf(name, ctx);
    const master = bridgeName === null ? 0 : await this.indexOf(bridgeName, ctx);
    await this.call(ctx.operation, ctx.object, () => this.socket.setLink({ index }, { master }));
  }

  /**
   * Moves the link into the namespace at `netnsPath`, renamed to `newName` if given (the move and
   * the rename are one kernel operation, so the old name never appears there). The link arrives
   * down; its addresses are dropped by the kernel.
   */
  async moveToNetns(name: string, netnsPath: string, newName?: string): Promise<void> {
    const ctx = this.ctx('move link', `'${name}' to ${netnsPath}${newName ? ` as '${newName}'` : ''}`);
    if (newName !== undefined) checkName(newName, 'newName', ctx);
    const index = await this.indexOf(name, ctx);
    await this.withNetnsFd(netnsPath, ctx, async (fd) => {
      await this.call(ctx.operation, ctx.object, () =>
        this.socket.setLink(
          { index },
          { netNsFd: fd as number, ...(newName !== undefined ? { ifname: newName } : {}) },
        ),
      );
    });
  }

  /** Deletes the link (a veth takes its peer with it). false when there was no such link. */
  async deleteLink(name: string): Promise<boolean> {
    const ctx = this.ctx('delete link', `'${name}'`);
    checkName(name, 'name', ctx);
    const index = await this.indexOrNull(name);
    if (index === null) return false;
    try {
      await this.socket.delLink({ index });
      return true;
    } catch (e) {
      if (errnoName(e) === 'ENODEV') return false;
      throw kernelErrorFrom(e, ctx);
    }
  }

  // ---- addresses ----

  /** Addresses of every link (both families), or of one link. */
  async listAddresses(link?: string): Promise<AddressState[]> {
    const names = await this.indexNames();
    const msgs = await this.call('list addresses', link ? `on '${link}'` : '', () => this.socket.getAddresses());
    const out: AddressState[] = [];
    for (const m of msgs) {
      const family = familyOfAf(m.data.family ?? 0);
      const raw = m.attrs.local ?? m.attrs.address;
      if (family === null || !raw) continue;
      const index = m.data.index ?? 0;
      const name = names.get(index) ?? '';
      if (link !== undefined && name !== link) continue;
      const address = formatAddress(raw);
      const prefix = m.data.prefixlen ?? 0;
      out.push({ link: name, index, family, address, prefix, cidr: `${address}/${prefix}` });
    }
    return out;
  }

  /** Adds `cidr` (e.g. "10.1.2.1/24") to the link; already present is fine (replace semantics). */
  async addAddress(link: string, cidr: string): Promise<void> {
    const ctx = this.ctx('add address', `${cidr} on '${link}'`);
    const p = parseIpPrefixOrThrow(cidr, 'cidr', ctx);
    const index = await this.indexOf(link, ctx);
    await this.call(ctx.operation, ctx.object, () =>
      this.socket.newAddress(
        { family: afOf(p.family), prefixlen: p.prefix, index, ...(p.family === 6 ? { flags: { nodad: true } } : {}) },
        { local: p.bytes, address: p.bytes, ...(p.family === 6 ? { flags: { nodad: true } } : {}) },
        { flags: NLM_F_CREATE | NLM_F_REPLACE },
      ),
    );
  }

  /** Removes `cidr` from the link. false when the link does not carry it (or the link is gone). */
  async deleteAddress(link: string, cidr: string): Promise<boolean> {
    const ctx = this.ctx('delete address', `${cidr} on '${link}'`);
    const p = parseIpPrefixOrThrow(cidr, 'cidr', ctx);
    const index = await this.indexOrNull(link);
    if (index === null) return false;
    try {
      await this.socket.delAddress({ family: afOf(p.family), prefixlen: p.prefix, index }, { local: p.bytes });
      return true;
    } catch (e) {
      if (errnoName(e) === 'EADDRNOTAVAIL' || errnoName(e) === 'ENODEV') return false;
      throw kernelErrorFrom(e, ctx);
    }
  }

  // ---- routes (main table) ----

  /** Unicast routes of the main table; IPv4 by default, or the family asked for. */
  async listRoutes(family: IpFamily = 4): Promise<RouteState[]> {
    const names = await this.indexNames();
    const msgs = await this.call('list routes', `(IPv${family})`, () =>
      this.socket.getRoutes({ family: afOf(family) }),
    );
    const out: RouteState[] = [];
    for (const m of msgs) {
      const d = m.data;
      const table = m.attrs.table ?? d.table;
      if (table !== RT_TABLE_MAIN || enumName(d.type ?? 0, TYPE_NAMES) !== 'unicast' || d.family !== afOf(family))
        continue;
      const dst = m.attrs.dst ?? Buffer.alloc(family === 4 ? 4 : 16);
      out.push({
        family,
        destination: `${formatAddress(dst)}/${d.dstLen ?? 0}`,
        gateway: m.attrs.gateway ? formatAddress(m.attrs.gateway) : null,
        dev: m.attrs.oif !== undefined ? (names.get(m.attrs.oif) ?? null) : null,
        protocol: enumName(d.protocol ?? 0, PROTOCOL_NAMES),
        scope: enumName(d.scope ?? 0, SCOPE_NAMES),
        metric: m.attrs.priority ?? 0,
      });
    }
    return out;
  }

  /** Creates or replaces the route to `destination` (same destination and metric: replaced). */
  async replaceRoute(spec: RouteSpec): Promise<void> {
    const ctx = this.ctx('replace route', describeRoute(spec));
    const r = await this.resolveRoute(spec, ctx, true);
    await this.call(ctx.operation, ctx.object, () =>
      this.socket.newRoute(
        {
          family: afOf(r.dst.family),
          dstLen: r.dst.prefix,
          table: RT_TABLE_MAIN,
          protocol: RTPROT_BOOT,
          scope: r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
          type: RTN_UNICAST,
        },
        {
          ...(r.dst.prefix > 0 ? { dst: r.dst.bytes } : {}),
          ...(r.gateway ? { gateway: r.gateway } : {}),
          ...(r.oif !== null ? { oif: r.oif } : {}),
          ...(spec.metric !== undefined ? { priority: spec.metric } : {}),
        },
        { flags: NLM_F_CREATE | NLM_F_REPLACE },
      ),
    );
  }

  /**
   * Deletes the route to `destination` (matching gateway/dev/metric when given). false when there
   * is no such route (or its dev no longer exists).
   */
  async deleteRoute(spec: RouteSpec): Promise<boolean> {
    const ctx = this.ctx('delete route', describeRoute(spec));
    let r: ResolvedRoute;
    try {
      r = await this.resolveRoute(spec, ctx, false);
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ENODEV') return false;
      throw e;
    }
    try {
      await this.socket.delRoute(
        { family: afOf(r.dst.family), dstLen: r.dst.prefix, table: RT_TABLE_MAIN, scope: RT_SCOPE_NOWHERE },
        {
          ...(r.dst.prefix > 0 ? { dst: r.dst.bytes } : {}),
          ...(r.gateway ? { gateway: r.gateway } : {}),
          ...(r.oif !== null ? { oif: r.oif } : {}),
          ...(spec.metric !== undefined ? { priority: spec.metric } : {}),
        },
      );
      return true;
    } catch (e) {
      if (errnoName(e) === 'ESRCH') return false;
      throw kernelErrorFrom(e, ctx);
    }
  }

  // ---- internals ----

  private ctx(operation: string, object: string): { operation: string; object: string; netns: string | null } {
    return { operation, object, netns: this.netnsPath };
  }

  private async call<T>(operation: string, object: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed)
      throw new KernelError('EBADF', { operation, object, netns: this.netnsPath }, 'the rtnetlink socket is closed');
    if (this.socketError) throw kernelErrorFrom(this.socketError, { operation, object, netns: this.netnsPath });
    try {
      return await fn();
    } catch (e) {
      throw kernelErrorFrom(e, { operation, object, netns: this.netnsPath });
    }
  }

  private async createLinkOfKind(kind: string, name: string, options: LinkOptions, address?: Buffer): Promise<void> {
    const ctx = this.ctx(`create ${kind}`, `'${name}'`);
    checkName(name, 'name', ctx);
    if (options.mtu !== undefined) checkMtu(options.mtu, ctx);
    await this.call(ctx.operation, ctx.object, () =>
      this.socket.newLink(
        {},
        {
          ifname: name,
          linkinfo: linkInfoOfKind(kind),
          ...(options.mtu ? { mtu: options.mtu } : {}),
          ...(address ? { address } : {}),
        },
        { flags: NLM_F_CREATE | NLM_F_EXCL },
      ),
    );
  }

  private async setLinkFlagUp(name: string, up: boolean): Promise<void> {
    const ctx = this.ctx(up ? 'set up' : 'set down', `'${name}'`);
    const index = await this.indexOf(name, ctx);
    await this.call(ctx.operation, ctx.object, () =>
      this.socket.setLink({ index, flags: up ? { up: true } : {}, change: { up: true } }),
    );
  }

  private async indexOrNull(name: string): Promise<number | null> {
    try {
      const msgs = await this.socket.getLink({}, { ifname: name });
      return msgs[0]?.data.index ?? null;
    } catch (e) {
      if (errnoName(e) === 'ENODEV') return null;
      throw kernelErrorFrom(e, this.ctx('look up link', `'${name}'`));
    }
  }

  private async indexOf(
    name: string,
    ctx: { operation: string; object: string; netns: string | null },
  ): Promise<number> {
    checkName(name, 'link name', ctx);
    if (this.closed) throw new KernelError('EBADF', ctx, 'the rtnetlink socket is closed');
    const index = await this.indexOrNull(name);
    if (index === null) throw new KernelError('ENODEV', ctx, `no link named '${name}' (ENODEV)`);
    return index;
  }

  private async indexNames(): Promise<Map<number, string>> {
    return new Map((await this.listLinks()).map((l) => [l.index, l.name]));
  }

  private async withNetnsFd<T>(
    netnsPath: string | null,
    ctx: { operation: string; object: string; netns: string | null },
    fn: (fd: number | null) => Promise<T>,
  ): Promise<T> {
    if (netnsPath === null) return fn(null);
    let fd: number;
    try {
      fd = openSync(netnsPath, 'r');
    } catch (e) {
      throw kernelErrorFrom(e, { ...ctx, object: `${ctx.object}: open ${netnsPath}` });
    }
    try {
      return await fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  private async resolveRoute(
    spec: RouteSpec,
    ctx: { operation: string; object: string; netns: string | null },
    needNextHop: boolean,
  ): Promise<ResolvedRoute> {
    let gateway: Buffer | null = null;
    let gatewayFamily: IpFamily | null = null;
    if (spec.gateway !== undefined) {
      const g = parseAddress(spec.gateway);
      if (!g) throw invalidArgument(ctx, 'gateway', `'${spec.gateway}' is not an IP address`);
      gateway = g.bytes;
      gatewayFamily = g.family;
    }
    let dst: IpPrefix;
    if (spec.destination === 'default') {
      const fam = gatewayFamily ?? 4;
      dst = { family: fam, bytes: Buffer.alloc(fam === 4 ? 4 : 16), prefix: 0 };
    } else {
      dst = parseIpPrefixOrThrow(spec.destination, 'destination', ctx);
      if (!isNetwork(dst))
        throw invalidArgument(
          ctx,
          'destination',
          `'${spec.destination}' has host bits set (a route goes to a network)`,
        );
    }
    if (gatewayFamily !== null && gatewayFamily !== dst.family) {
      throw invalidArgument(
        ctx,
        'gateway',
        `'${spec.gateway}' is IPv${gatewayFamily} but the destination is IPv${dst.family}`,
      );
    }
    if (needNextHop && gateway === null && spec.dev === undefined)
      throw invalidArgument(ctx, 'route', 'needs a gateway or a dev');
    if (spec.metric !== undefined && (!Number.isInteger(spec.metric) || spec.metric < 0 || spec.metric > 0xffffffff)) {
      throw invalidArgument(ctx, 'metric', `${spec.metric} is not an integer 0..4294967295`);
    }
    const oif = spec.dev !== undefined ? await this.indexOf(spec.dev, ctx) : null;
    return { dst, gateway, oif };
  }
}

interface ResolvedRoute {
  readonly dst: IpPrefix;
  readonly gateway: Buffer | null;
  readonly oif: number | null;
}

function describeRoute(spec: RouteSpec): string {
  return [
    spec.destination,
    spec.gateway ? `via ${spec.gateway}` : '',
    spec.dev ? `dev '${spec.dev}'` : '',
    spec.metric !== undefined ? `metric ${spec.metric}` : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
}

function checkName(
  name: string,
  field: string,
  ctx: { operation: string; object: string; netns: string | null },
): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    Buffer.byteLength(name) > MAX_IFNAME_BYTES ||
    /[\s/:]/.test(name) ||
    name === '.' ||
    name === '..'
  ) {
    throw invalidArgument(
      ctx,
      field,
      `'${String(name)}' is not a Linux interface name (1..${MAX_IFNAME_BYTES} bytes, no '/', ':' or whitespace)`,
    );
  }
}

function checkMtu(mtu: number, ctx: { operation: string; object: string; netns: string | null }): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)
    throw invalidArgument(ctx, 'mtu', `${mtu} is not an MTU (68..65535)`);
}

function parseIpPrefixOrThrow(
  text: string,
  field: string,
  ctx: { operation: string; object: string; netns: string | null },
): IpPrefix {
  const p = typeof text === 'string' ? parseIpPrefix(text) : null;
  if (!p)
    throw invalidArgument(ctx, field, `'${String(text)}' is not an address with prefix length (e.g. 10.0.0.1/24)`);
  return p;
}
