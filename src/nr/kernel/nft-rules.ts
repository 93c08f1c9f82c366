/**
 * Builders for the nftables statements docs/network-resources.md needs, producing exactly the
 * libnftables-json form that `nft -j` lists back (nft 1.0.6), so that a table built from them and
 * read back with readTable deep-equals what was written. Compose a rule as an array:
 *
 *   [iifname('npub'), drop()]                                  // iifname "npub" drop
 *   [ctState(['established', 'related']), accept()]            // ct state established,related accept
 *   [iifname('br-nr'), ipDaddrIn(['10.0.0.0/8', ...]), drop()] // ip daddr { ... } drop
 *   [tcpFlagsSyn(), clampMssToPmtu()]                          // tcp flags syn tcp option maxseg size set rt mtu
 *   [ipSaddr('100.126.0.0/30'), oifname('ndmz0', '!='), masquerade()]
 */
import type { NftStatement } from './nft.js';

export type NftCompare = '==' | '!=';
export type CtState = 'established' | 'related' | 'new' | 'invalid' | 'untracked';

function prefixOf(cidr: string): NftStatement | string {
  const [addr, len] = cidr.split('/');
  // nft lists a full-length prefix as the bare address.
  if (len === undefined || (addr!.includes(':') ? len === '128' : len === '32')) return addr!;
  return { prefix: { addr, len: Number(len) } };
}

export function accept(): NftStatement {
  return { accept: null };
}

export function drop(): NftStatement {
  return { drop: null };
}

export function masquerade(): NftStatement {
  return { masquerade: null };
}

export function counter(): NftStatement {
  return { counter: { packets: 0, bytes: 0 } };
}

/** `ct state a,b`: one state is listed as a plain value, several as a set (op "in"). */
export function ctState(states: readonly CtState[]): NftStatement {
  return { match: { op: 'in', left: { ct: { key: 'state' } }, right: states.length === 1 ? states[0] : [...states] } };
}

export function iifname(name: string, op: NftCompare = '=='): NftStatement {
  return { match: { op, left: { meta: { key: 'iifname' } }, right: name } };
}

export function oifname(name: string, op: NftCompare = '=='): NftStatement {
  return { match: { op, left: { meta: { key: 'oifname' } }, right: name } };
}

/** `ip saddr CIDR` (IPv4). */
export function ipSaddr(cidr: string, op: NftCompare = '=='): NftStatement {
  return { match: { op, left: { payload: { protocol: 'ip', field: 'saddr' } }, right: prefixOf(cidr) } };
}

/** `ip daddr CIDR` (IPv4). */
export function ipDaddr(cidr: string, op: NftCompare = '=='): NftStatement {
  return { match: { op, left: { payload: { protocol: 'ip', field: 'daddr' } }, right: prefixOf(cidr) } };
}

/** `ip daddr { CIDR, ... }` (an anonymous set; IPv4). */
export function ipDaddrIn(cidrs: readonly string[], op: NftCompare = '=='): NftStatement {
  // nft keeps an interval set ordered by address and lists it that way.
  const sorted = [...cidrs].sort((x, y) => ipv4Number(x) - ipv4Number(y));
  return { match: { op, left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { set: sorted.map(prefixOf) } } };
}

/**
 * `ip saddr|daddr VALUE` for a list of IPv4 CIDRs, in the form nft lists it back: the covered
 * intervals sorted and merged (overlapping and adjacent ones become one), each shown as a prefix
 * (or bare address) when it is exactly one, else as a range; one element is a plain value, more an
 * anonymous set.
 */
export function ipAddrIn(field: 'saddr' | 'daddr', cidrs: readonly string[]): NftStatement {
  const intervals = mergedIntervals(cidrs.map(intervalOf), 0xffffffff);
  const items = intervals.map(([first, last]) => {
    const size = last - first + 1;
    const len = 32 - Math.log2(size);
    if (Number.isInteger(len) && first % size === 0) return prefixOf(`${dotted(first)}/${len}`);
    return { range: [dotted(first), dotted(last)] };
  });
  return { match: { op: '==', left: { payload: { protocol: 'ip', field } }, right: items.length === 1 ? items[0] : { set: items } } };
}

function intervalOf(cidr: string): [number, number] {
  const [addr, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len ?? 32));
  const first = ipv4Number(addr!) - (ipv4Number(addr!) % size);
  return [first, first + size - 1];
}

function dotted(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Sorted intervals with overlapping and adjacent ones merged (as nft's interval sets keep them). */
function mergedIntervals(intervals: readonly [number, number][], max: number): [number, number][] {
  const merged: [number, number][] = [];
  for (const [first, last] of [...intervals].sort((a, b) => a[0] - b[0] || a[1] - b[1])) {
    const top = merged[merged.length - 1];
    if (top && first <= Math.min(top[1] + 1, max)) top[1] = Math.max(top[1], last);
    else merged.push([first, last]);
  }
  return merged;
}

/** `meta l4proto NAME` (any transport, e.g. icmp). */
export function l4proto(name: 'tcp' | 'udp' | 'icmp'): NftStatement {
  return { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: name } };
}

/**
 * `tcp dport { N, N-M, ... }` (or udp), merged and shown as nft lists it (one element: plain).
 * The payload match implies `meta l4proto`, which nft does not list separately.
 */
export function dportIn(protocol: 'tcp' | 'udp', ranges: readonly { first: number; last: number }[]): NftStatement {
  const merged = mergedIntervals(ranges.map((r) => [r.first, r.last]), 65535);
  const items = merged.map(([first, last]) => (first === last ? first : { range: [first, last] }));
  return { match: { op: '==', left: { payload: { protocol, field: 'dport' } }, right: items.length === 1 ? items[0] : { set: items } } };
}

function ipv4Number(cidr: string): number {
  return cidr
    .split('/')[0]!
    .split('.')
    .reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** `tcp flags syn` (the SYN bit is set). */
export function tcpFlagsSyn(): NftStatement {
  return { match: { op: 'in', left: { payload: { protocol: 'tcp', field: 'flags' } }, right: 'syn' } };
}

/** `tcp option maxseg size set rt mtu`: clamp the MSS to the route's MTU (use after tcpFlagsSyn). */
export function clampMssToPmtu(): NftStatement {
  return { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } };
}

/** `jump CHAIN` to a regular chain of the same table. */
export function jump(chain: string): NftStatement {
  return { jump: { target: chain } };
}
