/**
 * A network definition ↔ its keys: one meta value plus one stored resource per NR. Splitting
 * keeps every value small (a 5,000-NR network is 5,001 keys of < 1 KiB); assembling checks that
 * the resource keys are exactly the ones the meta's count and digest describe, then validates the
 * whole definition with netdef, so a reader either gets a definition netdef accepts or an error.
 */

import { createHash } from 'node:crypto';
import { type NetworkDefinition, type Resource, ResourceSchema, parseNetworkDefinition } from '../netdef/index.js';
import { StoreError } from './errors.js';
import { META_VERSION, type NetworkMeta, type StoredResource } from './values.js';

/** Field order of a resource: its JSON under this order is the digest's input. */
const RESOURCE_FIELDS = Object.keys(ResourceSchema.properties);

export function resourceJson(resource: Resource): string {
  return JSON.stringify(resource, RESOURCE_FIELDS);
}

/** sha256 over the resources in definition order. */
export function resourcesDigest(resources: readonly Resource[]): string {
  const hash = createHash('sha256');
  for (const r of resources) hash.update(`${resourceJson(r)}\n`);
  return hash.digest('hex');
}

export function metaOf(def: NetworkDefinition): NetworkMeta {
  return metaWithResources(def, def.resources);
}

/** The meta of `def` whose NRs are stored in the order of `resources` (see resourceChanges). */
export function metaWithResources(def: NetworkDefinition, resources: readonly Resource[]): NetworkMeta {
  return {
    version: META_VERSION,
    name: def.name,
    revision: def.revision,
    ipRange: def.ipRange,
    ...(def.aggregator === undefined ? {} : { aggregator: def.aggregator }),
    ...(def.aggregators === undefined ? {} : { aggregators: [...def.aggregators] }),
    ...(def.exit === undefined ? {} : { exit: def.exit }),
    resourceCount: resources.length,
    resourcesDigest: resourcesDigest(resources),
    ...optionalParts(def),
  };
}

/** The optional parts of a definition that live in its meta, copied when present (either way round). */
const OPTIONAL_PARTS = [
  'groups',
  'associations',
  'externalPeers',
  'services',
  'rotateAfter',
  'identityChanges',
  'trust',
  'signature',
] as const;

function optionalParts(from: NetworkDefinition | NetworkMeta): Partial<NetworkMeta> {
  const parts: Record<string, unknown> = {};
  for (const key of OPTIONAL_PARTS) if (from[key] !== undefined) parts[key] = from[key];
  return parts as Partial<NetworkMeta>;
}

/** The stored resources of a whole definition: position = index. */
export function storedResourcesOf(def: NetworkDefinition): StoredResource[] {
  return def.resources.map((resource, position) => ({ position, resource }));
}

/**
 * The definition the meta and resources describe. Throws EBADVALUE when the resource keys do not
 * match the meta (count or digest) or the assembled definition fails netdef's validation.
 */
export function assembleDefinition(
  metaKeyName: string,
  meta: NetworkMeta,
  stored: readonly StoredResource[],
): NetworkDefinition {
  const ordered = [...stored].sort((a, b) => a.position - b.position);
  const resources = ordered.map((s) => s.resource);
  if (resources.length !== meta.resourceCount || resourcesDigest(resources) !== meta.resourcesDigest) {
    throw new StoreError(
      'EBADVALUE',
      `bad value at ${metaKeyName}: the network's ${resources.length} resource keys do not match its meta ` +
        `(${meta.resourceCount} resources, digest ${meta.resourcesDigest.slice(0, 12)}…)`,
      { key: metaKeyName, network: meta.name, path: '/resourcesDigest' },
    );
  }
  const document = {
    version: 1,
    name: meta.name,
    revision: meta.revision,
    ipRange: meta.ipRange,
    resources,
    ...(meta.aggregator === undefined ? {} : { aggregator: meta.aggregator }),
    ...(meta.aggregators === undefined ? {} : { aggregators: meta.aggregators }),
    ...(meta.exit === undefined ? {} : { exit: meta.exit }),
    ...optionalParts(meta),
  };
  const result = parseNetworkDefinition(document);
  if (!result.ok) {
    const issue = result.errors[0];
    throw new StoreError(
      'EBADVALUE',
      `bad network "${meta.name}" in the store: ${issue?.path || '/'}: ${issue?.message ?? 'invalid'}`,
      {
        key: metaKeyName,
        network: meta.name,
        path: issue?.path ?? '',
      },
    );
  }
  return result.value;
}

/** The key changes from `before` (its stored resources) to `after`: positions kept, new NRs appended. */
export interface ResourceChanges {
  readonly put: readonly StoredResource[];
  readonly remove: readonly string[];
  /** The resulting stored resources (what `after` becomes in the store). */
  readonly stored: readonly StoredResource[];
}

export function resourceChanges(before: readonly StoredResource[], after: NetworkDefinition): ResourceChanges {
  const old = new Map(before.map((s) => [s.resource.node, s]));
  let next = before.reduce((max, s) => Math.max(max, s.position + 1), 0);
  const stored: StoredResource[] = [];
  const put: StoredResource[] = [];
  for (const resource of after.resources) {
    const previous = old.get(resource.node);
    const entry = { position: previous?.position ?? next++, resource };
    stored.push(entry);
    if (!previous || resourceJson(previous.resource) !== resourceJson(resource)) put.push(entry);
  }
  const kept = new Set(after.resources.map((r) => r.node));
  const remove = before.filter((s) => !kept.has(s.resource.node)).map((s) => s.resource.node);
  return { put, remove, stored };
}
