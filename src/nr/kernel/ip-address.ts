/**
 * IP addresses and prefixes as the kernel layer needs them: parsed once from text into a family,
 * the raw bytes (what rtnetlink carries) and a prefix length, and formatted back. IPv4 and IPv6.
 * Strict: a value that is not exactly an address or CIDR is refused, never guessed (the address
 * parser and formatter are src/common/ip.ts, shared with the UAPI).
 */
import { formatIp, type IpFamily, parseIpBytes } from '../../common/ip.js';

export type { IpFamily };

export interface IpPrefix {
  readonly family: IpFamily;
  /** Network-order bytes: 4 for IPv4, 16 for IPv6. */
  readonly bytes: Buffer;
  readonly prefix: number;
}

export const AF_INET = 2;
export const AF_INET6 = 10;

export function afOf(family: IpFamily): number {
  return family === 4 ? AF_INET : AF_INET6;
}

export function familyOfAf(af: number): IpFamily | null {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : null;
}

/** Bytes of a numeric address, or null when `text` is not one. */
export function parseAddress(text: string): { family: IpFamily; bytes: Buffer } | null {
  const bytes = parseIpBytes(text);
  return bytes ? { family: bytes.length === 4 ? 4 : 6, bytes: Buffer.from(bytes) } : null;
}

/**
 * `addr/len`, IPv4 or IPv6, as the bytes rtnetlink carries (netdef's parseCidr is the IPv4 prefix of
 * definitions, as a number); null when malformed. 'default' is not accepted here (see parseDestination).
 */
export function parseIpPrefix(text: string): IpPrefix | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const addr = parseAddress(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!addr || !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
  const prefix = Number(lenText);
  if (prefix > (addr.family === 4 ? 32 : 128)) return null;
  return { family: addr.family, bytes: addr.bytes, prefix };
}

/** True when no bit beyond the prefix is set (a route destination must be a network). */
export function isNetwork(p: IpPrefix): boolean {
  for (let bit = p.prefix; bit < p.bytes.length * 8; bit++) {
    if ((p.bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

export { formatIp as formatAddress };

export function formatIpPrefix(p: IpPrefix): string {
  return `${formatIp(p.bytes)}/${p.prefix}`;
}
