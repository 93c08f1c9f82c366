/**
 * WireGuard's "birthplace namespace" topology (wireguard.com/netns) for the userspace devices, and
 * bulk TCP with iperf3 across it: two interfaces created in one namespace (`home`), whose loopback
 * carries their UDP, each then moved into a namespace of its own, where its inner addresses (IPv4
 * and IPv6) live. The UDP sockets stay in the birthplace; the packets enter and leave the tunnel
 * in the new namespaces.
 *
 * Owns: the birthplace world, moving an interface (addresses and MTU are per namespace: a moved
 * link arrives down and bare, so they are set again), and iperf3 runs on a non-default port.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Namespace, World } from '../harness/index.js';
import { endpointText, INNER, startWg, type WgImplementation, type WgInterface } from './wg-pair.js';

/** Inner IPv6 addresses of the two sides (the IPv4 ones are INNER). */
export const INNER6 = { a: 'fd99::1', b: 'fd99::2' } as const;

/** Where an interface lives now and what it carries there. */
export interface Placement {
  readonly ns: Namespace;
  readonly inner4: string;
  readonly inner6: string;
}

export interface BirthplacePair {
  /** Where both were created: their processes, UAPI sockets and UDP sockets stay here. */
  readonly home: Namespace;
  /** The interfaces; wg(8) talks to them from `home` (a UAPI socket is a file, not a link). */
  readonly a: WgInterface;
  readonly b: WgInterface;
  readonly nsA: Namespace;
  readonly nsB: Namespace;
}

export interface BirthplaceOptions {
  readonly a: WgImplementation;
  readonly b: WgImplementation;
  /** Tunnel MTU of both interfaces (default: the implementation's). */
  readonly mtu?: number;
  /** A preshared key on the peer entries (default true). */
  readonly presharedKey?: boolean;
}

/** A 256-bit preshared key in a 0600 file (never printed). */
async function presharedKeyFile(w: World, home: Namespace): Promise<string> {
  const file = join(w.tempDir(), 'psk');
  writeFileSync(file, (await home.exec('wg', ['genpsk'])).stdout, { mode: 0o600 });
  return file;
}

/**
 * Moves the interface into `to` and gives it its addresses, MTU and state there again (a moved
 * link arrives down, without addresses, with its MTU).
 */
export async function moveInterface(
  from: Namespace,
  ifname: string,
  to: Namespace,
  place: { inner4: string; inner6: string; mtu?: number },
): Promise<void> {
  await from.ip(['link', 'set', ifname, 'netns', to.name]);
  await to.ip(['address', 'add', `${place.inner4}/24`, 'dev', ifname]);
  await to.ip(['address', 'add', `${place.inner6}/64`, 'dev', ifname, 'nodad']);
  if (place.mtu !== undefined) await to.setMtu(ifname, place.mtu);
  await to.setUp(ifname);
}

/**
 * Two interfaces born in `<prefix>h` (loopback underlay, 127.0.0.1), peered with each other (with a
 * preshared key unless told otherwise, allowed IPs = the other's inner /32 and /128), then moved
 * into `<prefix>a` and `<prefix>b`.
 */
export async function birthplacePair(w: World, opts: BirthplaceOptions): Promise<BirthplacePair> {
  const home = await w.namespace('h');
  const nsA = await w.namespace('a');
  const nsB = await w.namespace('b');
  const [a, b] = await Promise.all([startWg(w, home, 'wa', opts.a), startWg(w, home, 'wb', opts.b)]);
  const psk = opts.presharedKey === false ? [] : ['preshared-key', await presharedKeyFile(w, home)];
  const ports = { a: await a.listenPort(), b: await b.listenPort() };
  const sides = [
    [a, b, ports.b, `${INNER.b}/32,${INNER6.b}/128`],
    [b, a, ports.a, `${INNER.a}/32,${INNER6.a}/128`],
  ] as const;
  for (const [self, peer, port, allowed] of sides) {
    const endpoint = endpointText('127.0.0.1', port);
    await self.wg(['set', self.ifname, 'peer', peer.publicKey, ...psk, 'endpoint', endpoint, 'allowed-ips', allowed]);
  }
  const mtu = opts.mtu === undefined ? {} : { mtu: opts.mtu };
  await moveInterface(home, a.ifname, nsA, { inner4: INNER.a, inner6: INNER6.a, ...mtu });
  await moveInterface(home, b.ifname, nsB, { inner4: INNER.b, inner6: INNER6.b, ...mtu });
  return { home, a, b, nsA, nsB };
}

/** What an iperf3 TCP run moved. */
export interface IperfResult {
  /** What the client wrote: iperf3 exits 0 only after the connection delivered it. */
  readonly sentBytes: number;
  /** What the server counted within its measuring interval (the last bytes in flight at its end are not). */
  readonly receivedBytes: number;
  readonly gbps: number;
}

let iperfPort = 27_000 + Math.floor(Math.random() * 2_000);

/**
 * iperf3 TCP from `client` to a one-off server on `address` in `server` (a non-default port), of
 * exactly `bytes` bytes (iperf3 -n); returns what the receiver counted.
 */
export async function iperfTcp(
  client: Namespace,
  server: Namespace,
  address: string,
  bytes: number,
  timeoutMs = 60_000,
): Promise<IperfResult> {
  const port = String(iperfPort++);
  const srv = server.spawn('iperf3', ['-s', '-1', '-B', address, '-p', port, '--forceflush']);
  try {
    await srv.waitForOutput(/Server listening/, { timeoutMs: 10_000 });
    const args = ['-c', address, '-p', port, '-n', String(bytes), '-J'];
    const r = await client.exec('iperf3', args, { timeoutMs, check: false });
    if (r.exitCode !== 0 && !r.stdout.startsWith('{')) {
      throw new Error(`iperf3 to ${address} exited ${r.exitCode}: ${r.stderr.slice(-300)}`);
    }
    type Sum = { bytes?: number; bits_per_second?: number; seconds?: number };
    let j: { error?: string; end?: { sum_sent?: Sum; sum_received?: Sum } };
    try {
      j = JSON.parse(r.stdout) as typeof j;
    } catch {
      throw new Error(`iperf3 to ${address} printed no JSON (exit ${r.exitCode}): ${r.stderr.slice(-300)}`);
    }
    if (j.error) throw new Error(`iperf3 to ${address}: ${j.error}`);
    const sent = j.end?.sum_sent;
    const received = j.end?.sum_received;
    if (sent?.bytes === undefined || received?.bytes === undefined || received.bits_per_second === undefined) {
      throw new Error(`iperf3 to ${address}: no end.sum_sent / end.sum_received`);
    }
    return { sentBytes: sent.bytes, receivedBytes: received.bytes, gbps: received.bits_per_second / 1e9 };
  } finally {
    if (srv.running) await srv.stop();
  }
}
