/**
 * The etcd connection of the store: a client (npm etcd3) for the URL's endpoints with a deadline
 * on every unary call (never on the watch stream), optional client-certificate TLS, and the one
 * mapping of etcd's failures to StoreError codes. "no quorum" covers every way a write can fail
 * for want of a leader: all members down, two of three down, a partition.
 */

import { readFileSync } from 'node:fs';
import { ExponentialBackoff } from 'cockatiel';
import { Etcd3, EtcdPermissionDeniedError, type IKeyValue, type IOptions, Range } from 'etcd3';
import { StoreError } from './errors.js';
import type { EtcdLocation } from './url.js';

/** Unary calls fail after this long: a quorum-less cluster answers with a timeout, never a hang. */
export const CALL_DEADLINE_MS = 5_000;
/**
 * The longest wait between attempts to re-open a broken watch. etcd3's default grows to 30 s with
 * jitter, so an agent could stay deaf (and its node unreported) for a minute after the store came
 * back, as one node did after the e2e's cluster wipe; retrying a down store every 2 s costs nothing.
 */
export const WATCH_RETRY_MAX_MS = 2_000;
/** Keys per range request: a 5,000-NR network is read in pages, all at one revision. */
const PAGE = 1_000;

export function connectEtcd(location: EtcdLocation): Etcd3 {
  const tls = location.tls;
  const options: IOptions = {
    hosts: location.endpoints.map((e) => `${tls ? 'https' : 'http'}://${e}`),
    dialTimeout: 3_000,
    // etcd3 takes a backoff (not a factory) and asks it for the next one at each reconnection.
    faultHandling: {
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: WATCH_RETRY_MAX_MS }).next(),
    },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    ...(tls
      ? {
          credentials: {
            rootCertificate: readFileSync(tls.caFile),
            certChain: readFileSync(tls.certFile),
            privateKey: readFileSync(tls.keyFile),
          },
        }
      : {}),
  };
  return new Etcd3(options);
}

const UNAVAILABLE =
  /no leader|timed out|unavailable|deadline|ECONNREFUSED|No connection|connect|leader changed|too many requests|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/i;

/** Turns an etcd3/grpc error into a StoreError (a StoreError passes through). */
export function storeErrorOf(error: unknown, what: string, store: string): StoreError {
  if (error instanceof StoreError) return error;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (
    error instanceof EtcdPermissionDeniedError ||
    /permission denied|PermissionDenied|Unauthenticated|certificate/i.test(text)
  ) {
    return new StoreError(
      'EDENIED',
      `${what}: the store refused this client (${(error as Error).message})`,
      { store },
      { cause: error },
    );
  }
  if (UNAVAILABLE.test(text)) {
    return new StoreError(
      'EUNAVAILABLE',
      `${what}: no quorum — the store ${store} did not answer (${(error as Error).message})`,
      { store },
      { cause: error },
    );
  }
  return new StoreError(
    'EUNAVAILABLE',
    `${what}: store error (${(error as Error).message ?? text})`,
    { store },
    { cause: error },
  );
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: readonly IKeyValue[];
}

function prefixEnd(prefix: string): Buffer {
  return Range.prefix(prefix).end;
}

/** Every key under `prefix`, read in pages at one revision (the first page's, or `revision`). */
export async function rangePrefix(client: Etcd3, prefix: string, revision?: number): Promise<RangeResult> {
  const end = prefixEnd(prefix);
  let start: Buffer = Buffer.from(prefix);
  let at = revision;
  const kvs: IKeyValue[] = [];
  for (;;) {
    const builder = client.getAll().inRange(new Range(start, end)).limit(PAGE);
    if (at !== undefined) builder.revision(at);
    const page = await builder.exec();
    at ??= Number(page.header.revision);
    kvs.push(...page.kvs);
    const last = page.kvs[page.kvs.length - 1];
    if (!page.more || !last) return { revision: at, kvs };
    start = Buffer.concat([last.key, Buffer.from([0])]);
  }
}
