/**
 * IPv4 addresses and prefixes as numbers: strict parsing (dotted quad, no leading zeros),
 * canonical formatting, containment and overlap. Everything above this module works on the
 * parsed `Cidr` and never re-parses strings.
 */

declare const cidrBrand: unique symbol;

/** An IPv4 prefix; `address` is the unsigned 32-bit value, host bits may be set until checked. */
export type Cidr = { readonly address: number; readonly prefix: number } & { readonly [cidrBrand]: true };

/** One decimal octet, 0–255, no leading zeros: the grammar of every IPv4 check, schemas included. */
const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4_PREFIX_LENGTH = '(3[0-2]|[12]?[0-9])';
/** A dotted-quad IPv4 address, as a JSON Schema pattern. */
export const IPV4_ADDRESS_PATTERN = `^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`;
/** `a.b.c.d/n` (n 0–32), as a JSON Schema pattern. */
export const IPV4_CIDR_PATTERN = `^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}/${IPV4_PREFIX_LENGTH}$`;

const OCTET = new RegExp(`^${IPV4_OCTET}$`);
const PREFIX_LENGTH = new RegExp(`^${IPV4_PREFIX_LENGTH}$`);

/** Parses a dotted-quad IPv4 address; undefined when malformed (leading zeros are malformed). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIpv4(address: number): string {
  return `${(address >>> 24) & 255}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

export function makeCidr(address: number, prefix: number): Cidr {
  return { address: address >>> 0, prefix } as Cidr;
}

/** Parses `a.b.c.d/n` (n 0–32); undefined when malformed. Host bits are kept (see isNetworkAddress). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !PREFIX_LENGTH.test(prefixText)) return undefined;
  return makeCidr(address, Number(prefixText));
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function isNetworkAddress(cidr: Cidr): boolean {
  return (cidr.address & ~maskOf(cidr.prefix)) >>> 0 === 0;
}

/** The first and last address covered by the prefix. */
export function rangeOf(cidr: Cidr): { first: number; last: number } {
  const mask = maskOf(cidr.prefix);
  const first = (cidr.address & mask) >>> 0;
  return { first, last: (first | ~mask) >>> 0 };
}

export function containsAddress(cidr: Cidr, address: number): boolean {
  const mask = maskOf(cidr.prefix);
  return (address & mask) >>> 0 === (cidr.address & mask) >>> 0;
}

/** True when `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && containsAddress(outer, inner.address);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.address)}/${cidr.prefix}`;
}

/** Sort order of canonical CIDR lists: by address, then wider prefix first. */
export function compareCidr(a: Cidr, b: Cidr): number {
  return a.address - b.address || a.prefix - b.prefix;
}

/** Sorted, with prefixes inside an earlier (wider) one of the same list dropped. */
export function canonicalPrefixes(prefixes: Cidr[]): string[] {
  prefixes.sort(compareCidr);
  const kept: string[] = [];
  let coveredUpTo = -1;
  for (const prefix of prefixes) {
    const { first, last } = rangeOf(prefix);
    if (first <= coveredUpTo) continue; // CIDRs either nest or are disjoint: this one nests
    kept.push(formatCidr(prefix));
    coveredUpTo = last;
  }
  return kept;
}
