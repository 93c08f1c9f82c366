/**
 * IP addresses and prefixes as the kernel layer needs them: parsed once from text into a family,
 * the raw bytes (what rtnetlink carries) and a prefix length, and formatted back. IPv4 and IPv6.
 * Strict: a value that is not exactly an address or CIDR is refused, never guessed.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

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
  if (isIPv4(text)) return { family: 4, bytes: Buffer.from(text.split('.').map(Number)) };
  if (isIPv6(text)) return { family: 6, bytes: ipv6Bytes(text) };
  return null;
}

/** `addr/len`; null when malformed. 'default' is not accepted here (see parseDestination). */
export function parseCidr(text: string): IpPrefix | null {
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

export function formatAddress(bytes: Buffer | Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new Error(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: the longest run (≥ 2) of zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatCidr(p: IpPrefix): string {
  return `${formatAddress(p.bytes)}/${p.prefix}`;
}

function ipv6Bytes(text: string): Buffer {
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const words = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = piece.split('.').map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const h = words(head);
  const t = words(tail);
  const all = dbl >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}
