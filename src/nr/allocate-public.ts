/**
 * The NR's address on ndmz's NR bridge: 100.127.X.Y/16, one per NR of a node. networkd stores the
 * address it allocated and passes it back on every apply, so an NR keeps its address for life;
 * this module only picks a free one and checks one that is given.
 *
 * Not allocatable: 100.127.0.0 (the network), 100.127.0.1 (ndmz's br-nr) and 100.127.255.255
 * (broadcast).
 */
import { formatIpv4, parseIpv4 } from '../netdef/index.js';
import { NrError, invalidInput } from './errors.js';

export const PUBLIC_NETWORK = '100.127.0.0/16';
export const PUBLIC_PREFIX_LENGTH = 16;
export const PUBLIC_GATEWAY = '100.127.0.1';
const BASE = 0x647f0000; // 100.127.0.0
const FIRST = 2; // .0.0 network, .0.1 gateway
const LAST = 0xfffe; // .255.255 broadcast

declare const publicAddressBrand: unique symbol;
/** An allocatable 100.127.X.Y, checked. */
export type PublicAddress = string & { readonly [publicAddressBrand]: true };

/** Checks an address given by the caller (networkd's store); EINVAL naming `field` otherwise. */
export function parsePublicAddress(value: unknown, field = 'publicAddress'): PublicAddress {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string such as 100.127.0.2');
  const n = parseIpv4(value);
  if (n === undefined) throw invalidInput(field, `"${value.slice(0, 40)}" is not a dotted-quad IPv4 address`);
  if ((n & 0xffff0000) >>> 0 !== BASE) throw invalidInput(field, `${value} is outside ${PUBLIC_NETWORK}`);
  const host = n & 0xffff;
  if (host < FIRST || host > LAST)
    throw invalidInput(field, `${value} is reserved (network, ndmz gateway or broadcast)`);
  return value as PublicAddress;
}

/**
 * The lowest free address given the ones in use (a deterministic choice: the same store gives the
 * same answer). Entries of `used` that are not public addresses are ignored.
 */
export function allocatePublicAddress(used: Iterable<string>): PublicAddress {
  const taken = new Set<number>();
  for (const text of used) {
    const n = parseIpv4(text);
    if (n !== undefined && (n & 0xffff0000) >>> 0 === BASE) taken.add(n & 0xffff);
  }
  for (let host = FIRST; host <= LAST; host++) {
    if (!taken.has(host)) return formatIpv4((BASE | host) >>> 0) as PublicAddress;
  }
  throw new NrError('EALLOC', `no free address left in ${PUBLIC_NETWORK} (${LAST - FIRST + 1} NRs on this node)`, {
    field: 'publicAddress',
  });
}
