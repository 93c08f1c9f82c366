/**
 * What lives under each key (one TypeBox schema per kind) and the checks applied to every value
 * read from the store: JSON, structure, and that it belongs under its key. A bad value is an
 * EBADVALUE naming the key and the JSON path; the reader changes nothing because of it.
 */

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  IPV4_CIDR_PATTERN,
  NETWORK_NAME_PATTERN,
  NODE_ID_PATTERN,
  type NodeRecord,
  ResourceSchema,
  type Resource,
  AssociationSchema,
  ExternalPeerSchema,
  GroupSchema,
  ISO_TIME_PATTERN,
  IdentityChangeSchema,
  MAX_AGGREGATORS,
  MAX_ASSOCIATIONS,
  MAX_EXTERNAL_PEERS,
  MAX_GROUPS,
  MAX_SERVICES,
  RotateAfter,
  ServiceSchema,
  SignatureSchema,
  TrustLogSchema,
  parseNodeRecord,
} from '../netdef/index.js';
import { StructuralCheck } from '../netdef/structural.js';
import { StoreError } from './errors.js';
import { parseKey } from './keys.js';

export const META_VERSION = 1;

const NodeId = Type.String({
  pattern: NODE_ID_PATTERN,
  title: 'node id',
  description: '1-32 characters of a-z, 0-9 and "-"',
});

export const NetworkMetaSchema = Type.Object(
  {
    version: Type.Literal(META_VERSION),
    name: Type.String({ pattern: NETWORK_NAME_PATTERN, title: 'network name' }),
    revision: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    ipRange: Type.String({ pattern: IPV4_CIDR_PATTERN, title: 'CIDR' }),
    aggregator: Type.Optional(NodeId),
    aggregators: Type.Optional(Type.Array(NodeId, { minItems: 1, maxItems: MAX_AGGREGATORS })),
    exit: Type.Optional(NodeId),
    /** How many resource keys belong to this revision. */
    resourceCount: Type.Integer({ minimum: 0, maximum: 65536 }),
    /** sha256 (hex) over the resources in order: a reader proves it saw exactly this revision's NRs. */
    resourcesDigest: Type.String({ pattern: '^[0-9a-f]{64}$', title: 'digest' }),
    /** The definition's other parts, as in the definition: access control, identity changes, trust, signature. */
    groups: Type.Optional(Type.Array(GroupSchema, { maxItems: MAX_GROUPS })),
    associations: Type.Optional(Type.Array(AssociationSchema, { maxItems: MAX_ASSOCIATIONS })),
    externalPeers: Type.Optional(Type.Array(ExternalPeerSchema, { maxItems: MAX_EXTERNAL_PEERS })),
    services: Type.Optional(Type.Array(ServiceSchema, { maxItems: MAX_SERVICES })),
    rotateAfter: Type.Optional(RotateAfter),
    identityChanges: Type.Optional(Type.Array(IdentityChangeSchema, { maxItems: 65536 })),
    trust: Type.Optional(TrustLogSchema),
    signature: Type.Optional(SignatureSchema),
  },
  { additionalProperties: false, title: 'network meta' },
);
export type NetworkMeta = Static<typeof NetworkMetaSchema>;

/** One NR and its place in the definition's resource list (kept so a definition round-trips exactly). */
export const StoredResourceSchema = Type.Object(
  { position: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), resource: ResourceSchema },
  { additionalProperties: false, title: 'stored resource' },
);
export interface StoredResource {
  readonly position: number;
  readonly resource: Resource;
}

export const STATUS_STATES = ['applied', 'deleted', 'failed', 'invalid'] as const;
export type StatusState = (typeof STATUS_STATES)[number];

/**
 * A redemption the node accepted as an invitation's via NR (networkd's record, public keys only):
 * `zmesh net redeem --store` folds it into the next signed revision.
 */
export const RedemptionReportSchema = Type.Object(
  {
    name: ExternalPeerSchema.properties.name,
    /** The invitation's temporary public key: which invitation of that name was redeemed. */
    inviteKey: ExternalPeerSchema.properties.inviteKey,
    /** The peer's permanent public key. */
    publicKey: ExternalPeerSchema.properties.inviteKey,
    redeemedAt: Type.String({ pattern: ISO_TIME_PATTERN, title: 'time', description: 'UTC, as 2026-01-02T03:04:05Z' }),
  },
  { additionalProperties: false, title: 'redemption report' },
);
export type RedemptionReport = Static<typeof RedemptionReportSchema>;

export const NodeStatusSchema = Type.Object(
  {
    network: Type.String({ pattern: NETWORK_NAME_PATTERN, title: 'network name' }),
    /** The network revision this status is about (the one applied, deleted or refused). */
    revision: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    state: Type.Union(STATUS_STATES.map((s) => Type.Literal(s))),
    error: Type.Optional(Type.String({ maxLength: 2000 })),
    /** ISO 8601. */
    time: Type.String({ maxLength: 40 }),
    /** Redemptions this node accepted as a via NR for the network (absent: none). */
    redemptions: Type.Optional(Type.Array(RedemptionReportSchema, { maxItems: MAX_EXTERNAL_PEERS })),
  },
  { additionalProperties: false, title: 'node status' },
);
export type NodeStatus = Static<typeof NodeStatusSchema>;

export const AliveSchema = Type.Object(
  { since: Type.String({ maxLength: 40 }), pid: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false, title: 'alive' },
);
export type Alive = Static<typeof AliveSchema>;

function parseJsonValue(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StoreError('EBADVALUE', `bad value at ${key}: not JSON (${(error as Error).message})`, { key });
  }
}

function checked<T extends TSchema>(schema: T) {
  let check: StructuralCheck<T> | undefined;
  return (key: string, text: string): Static<T> => {
    const value = parseJsonValue(key, text);
    check ??= new StructuralCheck(schema);
    if (check.check(value)) return value;
    const issue = check.issues(value)[0];
    const path = issue?.path ?? '';
    throw new StoreError('EBADVALUE', `bad value at ${key}: ${path || '/'}: ${issue?.message ?? 'invalid'}`, {
      key,
      path,
    });
  };
}

const checkMeta = checked(NetworkMetaSchema);
const checkResource = checked(StoredResourceSchema);
const checkStatus = checked(NodeStatusSchema);
const checkAlive = checked(AliveSchema);

export function readMeta(key: string, text: string, network: string): NetworkMeta {
  const meta = checkMeta(key, text);
  if (meta.name !== network) {
    throw new StoreError('EBADVALUE', `bad value at ${key}: /name: "${meta.name}" is not the network of this key`, {
      key,
      path: '/name',
    });
  }
  return meta;
}

export function readResource(key: string, text: string, node: string): StoredResource {
  const stored = checkResource(key, text) as StoredResource;
  if (stored.resource.node !== node) {
    throw new StoreError(
      'EBADVALUE',
      `bad value at ${key}: /resource/node: "${stored.resource.node}" is not the node of this key`,
      {
        key,
        path: '/resource/node',
      },
    );
  }
  return stored;
}

export function readNodeRecordValue(key: string, text: string, node: string): NodeRecord {
  const result = parseNodeRecord(parseJsonValue(key, text));
  if (!result.ok) {
    const issue = result.errors[0];
    throw new StoreError('EBADVALUE', `bad value at ${key}: ${issue?.path || '/'}: ${issue?.message ?? 'invalid'}`, {
      key,
      path: issue?.path ?? '',
    });
  }
  if (result.value.id !== node) {
    throw new StoreError('EBADVALUE', `bad value at ${key}: /id: "${result.value.id}" is not the node of this key`, {
      key,
      path: '/id',
    });
  }
  return result.value;
}

export function readStatus(key: string, text: string): NodeStatus {
  const status = checkStatus(key, text);
  const parsed = parseKey(key);
  if (parsed.kind === 'status' && parsed.network !== status.network) {
    throw new StoreError(
      'EBADVALUE',
      `bad value at ${key}: /network: "${status.network}" is not the network of this key`,
      { key, path: '/network' },
    );
  }
  return status;
}

export function readAlive(key: string, text: string): Alive {
  return checkAlive(key, text);
}
