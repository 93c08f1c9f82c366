/**
 * Store URLs: `file:DIR` (the embedded default) and `etcd://host:port,host:port,…` with optional
 * client-certificate TLS as query parameters (`?ca=FILE&cert=FILE&key=FILE`; all three or none).
 * Hosts may be names: provisiond's agent resolves them itself (endpoint-resolver.ts, keeping the
 * last good address); the tool's short runs leave them to grpc, per connection attempt.
 */

import { StoreError } from './errors.js';

export interface EtcdTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface EtcdLocation {
  readonly kind: 'etcd';
  /** `host:port` each. */
  readonly endpoints: readonly string[];
  readonly tls?: EtcdTls;
}

export type StoreLocation = { readonly kind: 'file'; readonly dir: string } | EtcdLocation;

/** The environment variable that names the store when --store is not given. */
export const STORE_ENV = 'ZMESH_STORE';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

export function parseStoreUrl(url: string): StoreLocation {
  const bad = (reason: string) => new StoreError('EURL', `store URL "${url}": ${reason}`, { store: url });
  if (url.startsWith('file:')) {
    const dir = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (dir === '') throw bad('file: needs a directory (file:DIR)');
    return { kind: 'file', dir };
  }
  if (!url.startsWith('etcd://')) throw bad('expected file:DIR or etcd://HOST:PORT[,HOST:PORT…]');
  const [hostList = '', query] = url.slice('etcd://'.length).split('?', 2);
  const endpoints = hostList.split(',').filter((h) => h !== '');
  if (endpoints.length === 0) throw bad('no endpoint (etcd://HOST:PORT[,HOST:PORT…])');
  for (const e of endpoints) {
    const m = HOST_PORT.exec(e);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw bad(`endpoint "${e}" is not HOST:PORT`);
  }
  if (query === undefined) return { kind: 'etcd', endpoints };
  const params = new URLSearchParams(query);
  for (const k of params.keys())
    if (!['ca', 'cert', 'key'].includes(k)) throw bad(`unknown parameter "${k}" (ca, cert, key)`);
  const caFile = params.get('ca');
  const certFile = params.get('cert');
  const keyFile = params.get('key');
  if (!caFile || !certFile || !keyFile) throw bad('TLS needs all of ca=FILE, cert=FILE and key=FILE');
  return { kind: 'etcd', endpoints, tls: { caFile, certFile, keyFile } };
}

/** The URL without secrets' paths mattering: for messages. */
export function describeLocation(location: StoreLocation): string {
  return location.kind === 'file'
    ? `file:${location.dir}`
    : `etcd://${location.endpoints.join(',')}${location.tls ? ' (TLS)' : ''}`;
}
