/**
 * The store's key layout (one place): everything lives under /zmesh/v1/.
 *
 *   networks/<name>/meta               NetworkMeta: name, revision, range, roles, digest, trust update, signature
 *   networks/<name>/resources/<node>   one NR each (a value stays small; one NR change = O(1) keys)
 *   nodes/<id>/record                  the node record from `zmesh node init`
 *   nodes/<id>/alive                   bound to the node's ~10 s lease
 *   nodes/<id>/status/<network>        what the node last did for the network
 *
 * Names and ids are restricted by netdef's patterns (no "/"), so a key parses back unambiguously.
 */

export const PREFIX = '/zmesh/v1/';
export const NETWORKS = `${PREFIX}networks/`;
export const NODES = `${PREFIX}nodes/`;

export const networkPrefix = (name: string): string => `${NETWORKS}${name}/`;
export const metaKey = (name: string): string => `${NETWORKS}${name}/meta`;
export const resourcesPrefix = (name: string): string => `${NETWORKS}${name}/resources/`;
export const resourceKey = (name: string, node: string): string => `${NETWORKS}${name}/resources/${node}`;
export const nodePrefix = (id: string): string => `${NODES}${id}/`;
export const nodeRecordKey = (id: string): string => `${NODES}${id}/record`;
export const aliveKey = (id: string): string => `${NODES}${id}/alive`;
export const statusPrefix = (id: string): string => `${NODES}${id}/status/`;
export const statusKey = (id: string, network: string): string => `${NODES}${id}/status/${network}`;

/** What a key under the prefix is. */
export type ParsedKey =
  | { readonly kind: 'meta'; readonly network: string }
  | { readonly kind: 'resource'; readonly network: string; readonly node: string }
  | { readonly kind: 'record'; readonly node: string }
  | { readonly kind: 'alive'; readonly node: string }
  | { readonly kind: 'status'; readonly node: string; readonly network: string }
  | { readonly kind: 'unknown' };

export function parseKey(key: string): ParsedKey {
  if (!key.startsWith(PREFIX)) return { kind: 'unknown' };
  const parts = key.slice(PREFIX.length).split('/');
  const [top, a, b, c] = parts;
  if (top === 'networks' && a) {
    if (parts.length === 3 && b === 'meta') return { kind: 'meta', network: a };
    if (parts.length === 4 && b === 'resources' && c) return { kind: 'resource', network: a, node: c };
  }
  if (top === 'nodes' && a) {
    if (parts.length === 3 && b === 'record') return { kind: 'record', node: a };
    if (parts.length === 3 && b === 'alive') return { kind: 'alive', node: a };
    if (parts.length === 4 && b === 'status' && c) return { kind: 'status', node: a, network: c };
  }
  return { kind: 'unknown' };
}
