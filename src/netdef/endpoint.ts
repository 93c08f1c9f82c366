/**
 * WireGuard endpoints as written in node records and definitions: `IPv4[:port]`,
 * `[IPv6][:port]` or `hostname[:port]`. Parsing canonicalises (lower-case host names, compressed
 * IPv6) so that equal endpoints compare equal. Host names are kept: networkd resolves them.
 */

import { parseIpv4 } from './ipv4.js';

export type EndpointHost =
  | { readonly kind: 'ipv4'; readonly text: string }
  | { readonly kind: 'ipv6'; readonly text: string } // without brackets, canonical
  | { readonly kind: 'hostname'; readonly text: string };

export interface ParsedEndpoint {
  readonly host: EndpointHost;
  readonly port: number | undefined;
}

export type EndpointParse = { ok: true; value: ParsedEndpoint } | { ok: false; reason: string };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const PORT = /^[0-9]{1,5}$/;

function fail(reason: string): EndpointParse {
  return { ok: false, reason };
}

function parsePort(text: string): number | string {
  if (!PORT.test(text)) return `port "${text}" is not a number`;
  const port = Number(text);
  if (port < 1 || port > 65535) return `port ${port} is outside 1-65535`;
  return port;
}

function canonicalIpv6(text: string): string | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  try {
    // The WHATWG URL parser implements RFC 5952 serialisation; it is pure (no I/O).
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

function parseHostname(text: string): EndpointHost | string {
  const lower = text.toLowerCase();
  if (lower.length > 253) return 'host name is longer than 253 characters';
  const labels = lower.split('.');
  if (labels.some((label) => !LABEL.test(label))) {
    return 'not an IPv4 address, [IPv6] address or host name';
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return 'looks like an IPv4 address but is not one';
  }
  return { kind: 'hostname', text: lower };
}

/** Parses an endpoint; `requirePort` for definitions, where endpoints are stored fully qualified. */
export function parseEndpoint(text: string, requirePort: boolean): EndpointParse {
  let hostText: string;
  let portText: string | undefined;
  let host: EndpointHost;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail('IPv6 address is missing its closing "]"');
    hostText = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return fail('expected ":port" after "]"');
    portText = rest === '' ? undefined : rest.slice(1);
    const ipv6 = canonicalIpv6(hostText);
    if (ipv6 === undefined) return fail(`"${hostText}" is not an IPv6 address`);
    host = { kind: 'ipv6', text: ipv6 };
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) return fail('an IPv6 address must be written in brackets: [IPv6]:port');
    const colon = text.indexOf(':');
    hostText = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (hostText === '') return fail('host is empty');
    const ipv4 = parseIpv4(hostText);
    if (ipv4 !== undefined) {
      host = { kind: 'ipv4', text: hostText };
    } else {
      const hostname = parseHostname(hostText);
      if (typeof hostname === 'string') return fail(hostname);
      host = hostname;
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    const parsed = parsePort(portText);
    if (typeof parsed === 'string') return fail(parsed);
    port = parsed;
  } else if (requirePort) {
    return fail('port is missing (expected host:port)');
  }
  return { ok: true, value: { host, port } };
}

/** Canonical text of an endpoint, with `defaultPort` when it has none. */
export function formatEndpoint(endpoint: ParsedEndpoint, defaultPort?: number): string {
  const host = endpoint.host.kind === 'ipv6' ? `[${endpoint.host.text}]` : endpoint.host.text;
  const port = endpoint.port ?? defaultPort;
  return port === undefined ? host : `${host}:${port}`;
}
