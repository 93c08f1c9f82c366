/**
 * Endpoints given as host names, resolved for the WireGuard backend (which takes numeric
 * `ip:port` only). A name that resolves updates the last good address; one that fails or times
 * out falls back to the last good address, so a DNS outage never takes a peer away. Only a name
 * that never resolved leaves its peer without an endpoint (it can still dial in). The resolver
 * is injected: tests give a scripted one, the daemon node:dns with a short timeout.
 */
import { lookup } from 'node:dns/promises';
import { parseEndpoint } from '../netdef/index.js';

/** Resolves a host name to one IP address (v4 or v6, no brackets); rejects when it cannot. */
export type HostResolver = (host: string) => Promise<string>;

export type EndpointSource = 'literal' | 'dns' | 'last-good' | 'unresolved';

export interface ResolvedEndpoint {
  /** Numeric `ip:port` / `[v6]:port`, or null when there is no usable address. */
  readonly endpoint: string | null;
  readonly source: EndpointSource;
  /** The host name, when the endpoint was one. */
  readonly host?: string;
}

export const DEFAULT_DNS_TIMEOUT_MS = 2000;

/** node:dns lookup (getaddrinfo: /etc/hosts, then DNS), bounded by `timeoutMs`. */
export function systemResolver(timeoutMs = DEFAULT_DNS_TIMEOUT_MS): HostResolver {
  return (host) =>
    withTimeout(
      lookup(host).then((r) => r.address),
      timeoutMs,
      host,
    );
}

function withTimeout<T>(promise: Promise<T>, ms: number, host: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`resolving ${host} took longer than ${ms} ms`), { code: 'ETIMEOUT' })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function formatAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The same host names with the same addresses, in whatever order. */
function sameAddresses(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => Object.hasOwn(b, name) && b[name] === a[name]);
}

export class EndpointResolver {
  readonly #resolve: HostResolver;
  readonly #timeoutMs: number;

  constructor(resolve: HostResolver, timeoutMs = DEFAULT_DNS_TIMEOUT_MS) {
    this.#resolve = resolve;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Resolves every endpoint (null stays null). `lastGood` maps host names to their last good
   * address; the returned `lastGood` is the updated map (only names still in use are kept), and
   * `changed` says whether it differs from the one given (so that it is stored only then).
   */
  async resolveAll(
    endpoints: readonly (string | null)[],
    lastGood: Readonly<Record<string, string>>,
  ): Promise<{ endpoints: ResolvedEndpoint[]; lastGood: Record<string, string>; changed: boolean }> {
    const hosts = new Map<string, Promise<string | null>>();
    const parsed = endpoints.map((text) => (text === null ? null : parseEndpoint(text, true)));
    for (const p of parsed) {
      if (p?.ok && p.value.host.kind === 'hostname' && !hosts.has(p.value.host.text)) {
        const host = p.value.host.text;
        hosts.set(
          host,
          withTimeout(this.#resolve(host), this.#timeoutMs, host).catch(() => null),
        );
      }
    }
    const fresh = new Map<string, string | null>();
    for (const [host, promise] of hosts) fresh.set(host, await promise);
    const updated: Record<string, string> = {};
    const results = parsed.map((p, index): ResolvedEndpoint => {
      if (p === null) return { endpoint: null, source: 'unresolved' };
      if (!p.ok || p.value.port === undefined)
        return { endpoint: null, source: 'unresolved', host: endpoints[index] ?? '' }; // validated definitions never get here
      const { host, port } = p.value;
      if (host.kind !== 'hostname') return { endpoint: formatAddress(host.text, port), source: 'literal' };
      const now = fresh.get(host.text) ?? null;
      if (now !== null) {
        updated[host.text] = now;
        return { endpoint: formatAddress(now, port), source: 'dns', host: host.text };
      }
      const previous = Object.hasOwn(lastGood, host.text) ? lastGood[host.text] : undefined;
      if (previous !== undefined) {
        updated[host.text] = previous;
        return { endpoint: formatAddress(previous, port), source: 'last-good', host: host.text };
      }
      return { endpoint: null, source: 'unresolved', host: host.text };
    });
    return { endpoints: results, lastGood: updated, changed: !sameAddresses(updated, lastGood) };
  }
}
