/**
 * IP addresses, allowed-IP prefixes and endpoints of the configuration model: parsed strictly
 * from text once, held in canonical form, printed the way wireguard-go prints them.
 *
 * Canonical means: IPv6 in RFC 5952 form (lowercase, longest zero run as `::`, an IPv4-mapped
 * address as `::ffff:a.b.c.d`; the byte-level parser and formatter are src/common/ip.ts), and an allowed IP with its host bits cleared — as wg and the
 * kernel store it — so `10.0.0.5/24` and `10.0.0.0/24` are one prefix and equal by `text`.
 * Zones (`fe80::1%eth0`) are refused: a zone names an interface of one host and has no meaning
 * in a configuration that networkd may carry to another.
 */
import { formatIp, type IpFamily, parseIpBytes } from '../../common/ip.js';
import type { Endpoint } from '../endpoint.js';
import { invalid, type UapiErrorContext } from './errors.js';

export { formatIp, type IpFamily };

/** A value quoted for an error message, cut short so a huge line cannot flood a log. */
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** Parses a numeric IPv4 or IPv6 address (no zone, no host name). */
export function parseIp(text: string, context: UapiErrorContext): Uint8Array {
  const bytes = parseIpBytes(text);
  if (!bytes) {
    const reason = text.includes('%') ? 'IPv6 zones are not supported' : 'not a numeric IPv4 or IPv6 address';
    throw invalid(`${quote(text)}: ${reason}`, context);
  }
  return bytes;
}

/** Parses a decimal integer the way Go's strconv.ParseUint(s, 10, bits) does: digits only. */
export function parseDecimal(text: string, max: number, context: UapiErrorContext): number {
  if (!/^\d{1,20}$/.test(text)) throw invalid(`${quote(text)} is not a decimal number`, context);
  const value = Number(text);
  if (value > max) throw invalid(`${text} is out of range (0..${max})`, context);
  return value;
}

/** An allowed-IP prefix, host bits cleared. Equal prefixes have equal `text`. */
export class AllowedIp {
  readonly family: IpFamily;
  readonly prefixLength: number;
  readonly text: string;
  readonly #address: Uint8Array;

  private constructor(address: Uint8Array, prefixLength: number) {
    this.family = address.length === 4 ? 4 : 6;
    this.prefixLength = prefixLength;
    this.#address = address;
    this.text = `${formatIp(address)}/${prefixLength}`;
  }

  /** `addr/len`; the length is required (wg always sends it) and has no leading zeros. */
  static parse(text: string, context: UapiErrorContext = { key: 'allowed_ip' }): AllowedIp {
    const slash = text.lastIndexOf('/');
    if (slash < 0) throw invalid(`${quote(text)}: expected address/prefix-length`, context);
    const address = parseIp(text.slice(0, slash), context);
    const lengthText = text.slice(slash + 1);
    const max = address.length * 8;
    if (!/^(0|[1-9]\d{0,2})$/.test(lengthText) || Number(lengthText) > max) {
      throw invalid(`${quote(text)}: prefix length must be 0..${max}`, context);
    }
    return AllowedIp.fromBytes(address, Number(lengthText));
  }

  /** Clears the host bits, as the kernel and wireguard-go do when a prefix is inserted. */
  static fromBytes(address: Uint8Array, prefixLength: number): AllowedIp {
    const masked = new Uint8Array(address);
    for (let bit = prefixLength; bit < masked.length * 8; bit++) masked[bit >> 3]! &= ~(0x80 >> (bit & 7));
    return new AllowedIp(masked, prefixLength);
  }

  addressBytes(): Uint8Array {
    return new Uint8Array(this.#address);
  }

  equals(other: AllowedIp): boolean {
    return this.text === other.text;
  }

  toString(): string {
    return this.text;
  }
}

/** A peer's UDP endpoint as the UAPI parses and prints it: numeric address and port, `a.b.c.d:p` or `[v6]:p`. */
export class UapiEndpoint implements Endpoint {
  readonly family: IpFamily;
  readonly address: string;
  readonly port: number;
  readonly text: string;
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array, port: number) {
    this.#bytes = bytes;
    this.family = bytes.length === 4 ? 4 : 6;
    this.address = formatIp(bytes);
    this.port = port;
    this.text = this.family === 4 ? `${this.address}:${port}` : `[${this.address}]:${port}`;
  }

  static parse(text: string, context: UapiErrorContext = { key: 'endpoint' }): UapiEndpoint {
    let host: string;
    let portText: string;
    if (text.startsWith('[')) {
      const close = text.indexOf(']');
      if (close < 0 || text[close + 1] !== ':') throw invalid(`${quote(text)}: expected [IPv6]:port`, context);
      host = text.slice(1, close);
      portText = text.slice(close + 2);
      if (!host.includes(':')) throw invalid(`${quote(text)}: brackets are for IPv6 addresses`, context);
    } else {
      const colon = text.lastIndexOf(':');
      if (colon < 0) throw invalid(`${quote(text)}: expected address:port`, context);
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host.includes(':')) throw invalid(`${quote(text)}: an IPv6 endpoint needs brackets: [address]:port`, context);
    }
    const bytes = parseIp(host, context);
    const port = parseDecimal(portText, 0xffff, context);
    return new UapiEndpoint(bytes, port);
  }

  static fromBytes(address: Uint8Array, port: number): UapiEndpoint {
    if (address.length !== 4 && address.length !== 16)
      throw invalid(`an address has 4 or 16 bytes, got ${address.length}`, { key: 'endpoint' });
    if (!Number.isInteger(port) || port < 0 || port > 0xffff)
      throw invalid(`port ${port} is out of range (0..65535)`, { key: 'endpoint' });
    return new UapiEndpoint(new Uint8Array(address), port);
  }

  addressBytes(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }

  equals(other: UapiEndpoint): boolean {
    return this.text === other.text;
  }

  toString(): string {
    return this.text;
  }
}
