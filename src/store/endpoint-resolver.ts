/**
 * The store's endpoints resolved by zmesh, not by grpc: the etcd client is given numeric
 * `ip:port` addresses, so a DNS failure never takes the store away from a running agent. A name
 * that resolves updates its last good address; one that fails keeps the last good one (the same
 * rule, and the same code, as WireGuard endpoints in networkd). A name that never resolved is left
 * out; the client gets the endpoints that have an address. Logged once per change of state.
 */

import { parseEndpoint } from '../netdef/index.js';
import {
  EndpointResolver,
  type HostResolver,
  type ResolvedEndpoint,
  systemResolver,
} from '../networkd/endpoint-resolver.js';

/** How often a running agent resolves the store's names again (also on every re-list). */
export const RESOLVE_EVERY_MS = 30_000;

export interface StoreAddresses {
  /** Numeric `ip:port` per usable endpoint, in the URL's order; empty when none has an address. */
  readonly addresses: readonly string[];
  /** Whether `addresses` differs from the previous resolution's. */
  readonly changed: boolean;
}

/** What one endpoint's resolution says, as a line for the log (null: nothing worth a line). */
function describe(previous: ResolvedEndpoint | undefined, now: ResolvedEndpoint): string | null {
  if (now.source === 'literal') return null;
  const host = now.host ?? '?';
  if (previous?.source === now.source && previous.endpoint === now.endpoint) return null;
  switch (now.source) {
    case 'dns':
      return previous === undefined || previous.source === 'dns'
        ? `store endpoint ${host} resolves to ${now.endpoint}`
        : `store endpoint ${host} resolves again: ${now.endpoint}`;
    case 'last-good':
      return `store endpoint ${host} does not resolve; keeping its last good address ${now.endpoint}`;
    case 'unresolved':
      return `store endpoint ${host} does not resolve and has no last good address: left out until it does`;
  }
}

export class StoreEndpoints {
  readonly #endpoints: readonly string[];
  readonly #resolver: EndpointResolver;
  readonly #log: (message: string) => void;
  #lastGood: Record<string, string> = {};
  #previous: ResolvedEndpoint[] = [];

  constructor(
    endpoints: readonly string[],
    log: (message: string) => void,
    resolve: HostResolver = systemResolver(),
    timeoutMs?: number,
  ) {
    this.#endpoints = endpoints;
    this.#resolver = new EndpointResolver(resolve, timeoutMs);
    this.#log = log;
  }

  /** Whether any endpoint is a host name (otherwise resolving is a no-op). */
  get hasNames(): boolean {
    return this.#endpoints.some((e) => {
      const parsed = parseEndpoint(e, true);
      return parsed.ok && parsed.value.host.kind === 'hostname';
    });
  }

  async resolve(): Promise<StoreAddresses> {
    const { endpoints, lastGood } = await this.#resolver.resolveAll(this.#endpoints, this.#lastGood);
    this.#lastGood = lastGood;
    endpoints.forEach((now, i) => {
      const line = describe(this.#previous[i], now);
      if (line !== null) this.#log(line);
    });
    const before = this.#previous.flatMap((r) => (r.endpoint === null ? [] : [r.endpoint]));
    this.#previous = endpoints;
    const addresses = endpoints.flatMap((r) => (r.endpoint === null ? [] : [r.endpoint]));
    return { addresses, changed: addresses.join(',') !== before.join(',') };
  }
}
