/**
 * WireGuard endpoints in namespaces, for the zmesh-wg interoperability tests: start a userspace
 * WireGuard interface (zmesh-wg or Debian's wireguard-go — same command line, same UAPI) inside
 * a namespace of a harness World, configure it with the real wg(8), read `wg show dump` back as
 * numbers, and build the common "two endpoints joined by a veth" world over an IPv4 or IPv6
 * underlay.
 *
 * Owns: the implementations' launch details, key files (0600, private keys never leave them or
 * reach an assertion message), the parsing of `wg show dump`, and removing the UAPI sockets the
 * run left in the machine-wide /var/run/wireguard (interface names carry the run's prefix, so a
 * parallel run never collides with ours and teardown removes only our own).
 */
import type { ExecutionContext } from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ping,
  waitFor,
  type BackgroundProcess,
  type CommandResult,
  type Namespace,
  type World,
} from '../harness/index.js';
import { worldFor } from '../harness/ava.js';

export type WgImplementation = 'zmesh-wg' | 'wireguard-go';
export type Family = 4 | 6;

export const SOCKET_DIRECTORY = '/var/run/wireguard';
/** The launcher under test; it runs the compiled code in dist/ (`npm run build:ts`). */
export const ZMESH_WG_BIN = resolve(fileURLToPath(new URL('../../bin/zmesh-wg', import.meta.url)));
const ZMESH_WG_DIST = resolve(fileURLToPath(new URL('../../dist/cli/zmesh-wg.js', import.meta.url)));
export const WG = '/usr/bin/wg';
export const WIREGUARD_GO = '/usr/bin/wireguard-go';

/** Inner (tunnel) addresses of the two sides of a pair. */
export const INNER = { a: '10.99.0.1', b: '10.99.0.2' } as const;
/** Underlay addresses of the two sides of a pair, per family. */
export const UNDERLAY = {
  4: { a: '192.0.2.1', b: '192.0.2.2', prefix: 24 },
  6: { a: 'fd00:99::1', b: 'fd00:99::2', prefix: 64 },
} as const;

/** A WireGuard keypair: the private key lives only in a 0600 file that wg(8) reads. */
export interface WgKeys {
  readonly privateKeyFile: string;
  readonly publicKey: string;
}

let keyCounter = 0;

/** A fresh X25519 keypair, private key written to a 0600 file in the world's private temp dir. */
export function generateKeys(w: World): WgKeys {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  const x = publicKey.export({ format: 'jwk' }).x;
  if (!d || !x) throw new Error('x25519 key export returned no key material');
  const privateKeyFile = join(w.tempDir(), `key${keyCounter++}`);
  writeFileSync(privateKeyFile, Buffer.from(d, 'base64url').toString('base64') + '\n', { mode: 0o600 });
  return { privateKeyFile, publicKey: Buffer.from(x, 'base64url').toString('base64') };
}

/** One peer line of `wg show IF dump`. */
export interface PeerDump {
  readonly publicKey: string;
  readonly hasPresharedKey: boolean;
  /** `ip:port` / `[v6]:port`, or null when none is known. */
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  /** Seconds since the epoch; 0 = never. */
  readonly latestHandshake: number;
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
  /** Seconds, or null when off. */
  readonly persistentKeepalive: number | null;
}

/** `wg show IF dump`, without the private key. */
export interface DeviceDump {
  readonly publicKey: string;
  readonly listenPort: number;
  readonly fwmark: string;
  readonly peers: readonly PeerDump[];
}

/** Parses `wg show IF dump`; the device line's private key (field 1) is dropped here. */
export function parseDump(text: string): DeviceDump {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const device = lines[0]?.split('\t');
  if (device?.length !== 4)
    throw new Error(`wg show dump: the device line has ${device?.length ?? 0} fields, expected 4`);
  const peers = lines.slice(1).map((line, i): PeerDump => {
    const f = line.split('\t');
    if (f.length !== 8) throw new Error(`wg show dump: peer line ${i + 1} has ${f.length} fields, expected 8`);
    return {
      publicKey: f[0]!,
      hasPresharedKey: f[1] !== '(none)',
      endpoint: f[2] === '(none)' ? null : f[2]!,
      allowedIps: f[3] === '(none)' ? [] : f[3]!.split(','),
      latestHandshake: Number(f[4]),
      rxBytes: BigInt(f[5]!),
      txBytes: BigInt(f[6]!),
      persistentKeepalive: f[7] === 'off' ? null : Number(f[7]),
    };
  });
  return { publicKey: device[1]!, listenPort: Number(device[2]), fwmark: device[3]!, peers };
}

export interface PeerSettings {
  readonly endpoint?: string;
  readonly allowedIps?: readonly string[];
  readonly persistentKeepalive?: number;
}

/** A running userspace WireGuard interface in a namespace of a world. */
export class WgInterface {
  readonly ns: Namespace;
  readonly ifname: string;
  readonly implementation: WgImplementation;
  keys: WgKeys;
  /** The foreground process (tracked by the world: stopped at teardown). */
  readonly process: BackgroundProcess;

  constructor(ns: Namespace, ifname: string, implementation: WgImplementation, keys: WgKeys, proc: BackgroundProcess) {
    this.ns = ns;
    this.ifname = ifname;
    this.implementation = implementation;
    this.keys = keys;
    this.process = proc;
  }

  get socketPath(): string {
    return socketPathOf(this.ifname);
  }

  get publicKey(): string {
    return this.keys.publicKey;
  }

  /** wg(8) run inside the interface's namespace. Throws on a non-zero exit unless check is false. */
  wg(args: readonly string[], opts: { check?: boolean } = {}): Promise<CommandResult> {
    return this.ns.exec(WG, args, { check: opts.check ?? true, timeoutMs: 10_000 });
  }

  async dump(): Promise<DeviceDump> {
    return parseDump((await this.wg(['show', this.ifname, 'dump'])).stdout);
  }

  /** The dump line of one peer; throws when the interface does not have it. */
  async peer(publicKey: string): Promise<PeerDump> {
    const p = (await this.dump()).peers.find((x) => x.publicKey === publicKey);
    if (!p) throw new Error(`${this.ifname} has no peer ${publicKey}`);
    return p;
  }

  async listenPort(): Promise<number> {
    return (await this.dump()).listenPort;
  }

  /** `wg set IF peer KEY [endpoint E] [allowed-ips L] [persistent-keepalive N]`. */
  async setPeer(publicKey: string, s: PeerSettings = {}): Promise<void> {
    const args = ['set', this.ifname, 'peer', publicKey];
    if (s.endpoint !== undefined) args.push('endpoint', s.endpoint);
    if (s.allowedIps !== undefined) args.push('allowed-ips', s.allowedIps.join(','));
    if (s.persistentKeepalive !== undefined) args.push('persistent-keepalive', String(s.persistentKeepalive));
    await this.wg(args);
  }

  async removePeer(publicKey: string): Promise<void> {
    await this.wg(['set', this.ifname, 'peer', publicKey, 'remove']);
  }

  /** Installs a new private key (from a fresh 0600 file); `keys` and `publicKey` follow it. */
  async changePrivateKey(keys: WgKeys): Promise<void> {
    await this.wg(['set', this.ifname, 'private-key', keys.privateKeyFile]);
    this.keys = keys;
  }

  /** Adds an inner address (CIDR) to the interface and brings it up. */
  async addressUp(cidr: string): Promise<void> {
    await this.ns.addAddress(this.ifname, cidr);
    await this.ns.setUp(this.ifname);
  }

  /** Packets the implementation wrote into its TUN (what the kernel received from the tunnel). */
  async tunRxPackets(): Promise<number> {
    const r = await this.ns.ip(['-j', '-s', 'link', 'show', 'dev', this.ifname]);
    const [link] = JSON.parse(r.stdout) as Array<{ stats64?: { rx?: { packets?: number } } }>;
    const n = link?.stats64?.rx?.packets;
    if (typeof n !== 'number') throw new Error(`no RX counter for ${this.ifname}`);
    return n;
  }

  /** `wg showconf` as a SHA-256 digest, so a comparison never prints the private key it contains. */
  async showconfDigest(): Promise<string> {
    return createHash('sha256')
      .update((await this.wg(['showconf', this.ifname])).stdout)
      .digest('hex');
  }
}

export function socketPathOf(ifname: string): string {
  return join(SOCKET_DIRECTORY, `${ifname}.sock`);
}

/**
 * A world for WireGuard tests: the harness world, plus removal of the UAPI sockets named with its
 * prefix after the world's own teardown (an implementation killed with SIGKILL leaves its socket).
 */
export async function wgWorld(t: ExecutionContext): Promise<World> {
  if (!existsSync(ZMESH_WG_DIST)) throw new Error(`${ZMESH_WG_DIST} is missing: run npm run build:ts first`);
  const w = await worldFor(t);
  t.teardown(async () => {
    try {
      await w.teardown();
    } finally {
      removeSocketsOf(w.prefix);
    }
  });
  return w;
}

export function removeSocketsOf(prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(SOCKET_DIRECTORY);
  } catch {
    return;
  }
  for (const n of names)
    if (n.startsWith(prefix) && n.endsWith('.sock')) rmSync(join(SOCKET_DIRECTORY, n), { force: true });
}

export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

export interface StartOptions {
  /** Private key (default: a fresh one). */
  keys?: WgKeys;
  /** listen-port (default: the implementation's random port). */
  listenPort?: number;
  /** Inner address with prefix length, configured and brought up. */
  address?: string;
}

/**
 * Starts `implementation -f IFNAME` in `ns` (IFNAME = world prefix + short), waits for its UAPI
 * socket and TUN, and sets its private key (and port). The process is tracked by the world.
 */
export async function startWg(
  w: World,
  ns: Namespace,
  short: string,
  implementation: WgImplementation,
  opts: StartOptions = {},
): Promise<WgInterface> {
  const ifname = w.ifname(short);
  const bin = implementation === 'zmesh-wg' ? ZMESH_WG_BIN : WIREGUARD_GO;
  // wireguard-go refuses to run where kernel WireGuard exists unless told; harmless here.
  const proc = ns.spawn(bin, ['-f', ifname], {
    env: { LOG_LEVEL: 'error', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
  });
  await waitFor(
    () => {
      if (!proc.running) throw new Error(`${implementation} exited: ${proc.stderr.slice(-500)}`);
      return isSocket(socketPathOf(ifname));
    },
    { what: `${implementation} ${ifname} to create its UAPI socket`, timeoutMs: 15_000 },
  );
  const keys = opts.keys ?? generateKeys(w);
  const wg = new WgInterface(ns, ifname, implementation, keys, proc);
  const args = ['set', ifname, 'private-key', keys.privateKeyFile];
  if (opts.listenPort !== undefined) args.push('listen-port', String(opts.listenPort));
  await wg.wg(args);
  if (opts.address !== undefined) await wg.addressUp(opts.address);
  return wg;
}

export interface PairOptions {
  a: WgImplementation;
  b: WgImplementation;
  /** Underlay family of the endpoints (default 4). */
  underlay?: Family;
  /**
   * Which side knows the other's endpoint and so can initiate (default 'both'). With 'a', B has
   * no endpoint for A until A's first authenticated packet: only A can start the handshake.
   */
  initiator?: 'a' | 'b' | 'both';
  /** Persistent keepalive on both sides, seconds. */
  persistentKeepalive?: number;
}

export interface WgPair {
  readonly a: WgInterface;
  readonly b: WgInterface;
  readonly underlay: { readonly a: string; readonly b: string };
  /** A's and B's listen ports. */
  readonly ports: { readonly a: number; readonly b: number };
}

/** `address:port` or `[address]:port`. */
export function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Two namespaces `<prefix>a` and `<prefix>b` joined by a veth ua↔ub, each with a WireGuard
 * interface (`<prefix>wa`, `<prefix>wb`; inner 10.99.0.1/24 and .2/24) that has the other as its
 * one peer (allowed IPs = the other's inner /32).
 */
export async function wgPair(w: World, opts: PairOptions): Promise<WgPair> {
  const family = opts.underlay ?? 4;
  const u = UNDERLAY[family];
  const nsA = await w.namespace('a');
  const nsB = await w.namespace('b');
  await w.link(nsA, 'ua', nsB, 'ub', { addressA: `${u.a}/${u.prefix}`, addressB: `${u.b}/${u.prefix}` });
  const [a, b] = await Promise.all([
    startWg(w, nsA, 'wa', opts.a, { address: `${INNER.a}/24` }),
    startWg(w, nsB, 'wb', opts.b, { address: `${INNER.b}/24` }),
  ]);
  const ports = { a: await a.listenPort(), b: await b.listenPort() };
  const initiator = opts.initiator ?? 'both';
  const keepalive = opts.persistentKeepalive === undefined ? {} : { persistentKeepalive: opts.persistentKeepalive };
  await a.setPeer(b.publicKey, {
    allowedIps: [`${INNER.b}/32`],
    ...(initiator !== 'b' ? { endpoint: endpointText(u.b, ports.b) } : {}),
    ...keepalive,
  });
  await b.setPeer(a.publicKey, {
    allowedIps: [`${INNER.a}/32`],
    ...(initiator !== 'a' ? { endpoint: endpointText(u.a, ports.a) } : {}),
    ...keepalive,
  });
  return { a, b, underlay: { a: u.a, b: u.b }, ports };
}

/** Pings until one answer comes back (the first packets wait for the handshake), with a deadline. */
export async function pingUntilAnswered(from: Namespace, to: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await ping(from, to, { count: 1, timeoutMs: 1_000 })).received === 1, {
    what: `${to} to answer a ping from ${from.name}`,
    timeoutMs,
    intervalMs: 0,
  });
}

/**
 * Reads the two sides' views of each other until they are stable: A's dump, B's dump, and A's and
 * B's again after `settleMs`, all four agreeing with their repeat. A pair read this way cannot be
 * split by a packet in flight, so A.tx == B.rx holds exactly unless a counter is wrong.
 */
export async function quiescentCounters(
  a: WgInterface,
  b: WgInterface,
  settleMs = 300,
  timeoutMs = 8_000,
): Promise<{ a: PeerDump; b: PeerDump }> {
  const read = async () => ({ a: await a.peer(b.publicKey), b: await b.peer(a.publicKey) });
  const same = (x: PeerDump, y: PeerDump) =>
    x.rxBytes === y.rxBytes && x.txBytes === y.txBytes && x.latestHandshake === y.latestHandshake;
  return waitFor(
    async () => {
      const first = await read();
      await new Promise((r) => setTimeout(r, settleMs));
      const second = await read();
      return same(first.a, second.a) && same(first.b, second.b) ? second : null;
    },
    { what: `the counters of ${a.ifname} and ${b.ifname} to stop moving`, timeoutMs, intervalMs: 0 },
  );
}

/** The smallest WireGuard datagram (a keepalive) and the largest at the default MTU 1420 (+ 32 bytes of header and tag). */
export const MIN_DATAGRAM_BYTES = 32;
export const MAX_DATAGRAM_BYTES = 1420 + 32;

/**
 * UDP datagrams the kernel of `ns` received but could not hand to a socket (full receive buffer,
 * bad checksum): Udp InErrors + Udp6InErrors. The sender counted them in its tx bytes; the
 * receiving WireGuard never saw them, so they are the exact reason tx and rx may differ.
 */
export async function udpReceiveErrors(ns: Namespace): Promise<number> {
  const snmp = (await ns.exec('cat', ['/proc/net/snmp', '/proc/net/snmp6'])).stdout;
  const lines = snmp.split('\n');
  const udpHeader = lines.find((l) => l.startsWith('Udp: ') && !/\d/.test(l))?.split(/\s+/) ?? [];
  const udpValues = lines.find((l) => l.startsWith('Udp: ') && /^\S+\s+\d/.test(l))?.split(/\s+/) ?? [];
  const v4 = Number(udpValues[udpHeader.indexOf('InErrors')] ?? NaN);
  const v6 = Number(lines.find((l) => l.startsWith('Udp6InErrors'))?.split(/\s+/)[1] ?? NaN);
  if (!Number.isFinite(v4) || !Number.isFinite(v6)) throw new Error(`cannot read UDP InErrors in ${ns.name}`);
  return v4 + v6;
}

/**
 * Whether the bytes one side sent and the other received agree, given the datagrams the
 * receiver's kernel dropped: exactly equal without drops; otherwise short by between
 * MIN_DATAGRAM_BYTES and MAX_DATAGRAM_BYTES per dropped datagram.
 */
export function countersAgree(sentBytes: bigint, receivedBytes: bigint, droppedDatagrams: number): boolean {
  const missing = sentBytes - receivedBytes;
  const drops = BigInt(droppedDatagrams);
  return missing >= drops * BigInt(MIN_DATAGRAM_BYTES) && missing <= drops * BigInt(MAX_DATAGRAM_BYTES);
}
