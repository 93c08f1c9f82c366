/**
 * The one schema of the network definition and of the node record (TypeBox). It yields the
 * TypeScript types (`Static<>`) and the published JSON Schema files (see json-schema.ts), and is
 * the structural half of parsing; semantic rules (ranges, overlaps, roles) live in validate.ts.
 *
 * `title` and `description` of string schemas are reused in error messages (structural.ts).
 */

import { type Static, Type } from '@sinclair/typebox';
import { IPV4_ADDRESS_PATTERN, IPV4_CIDR_PATTERN } from './ipv4.js';
import { KEY_PATTERN, SEALED_KEY_PATTERN, SIGNATURE_PATTERN } from './keys.js';

export const DEFINITION_VERSION = 1;
export const NODE_ID_PATTERN = '^[a-z0-9-]{1,32}$';
export const NETWORK_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
export const MAX_RESOURCES = 65536;
export const MAX_ENDPOINTS = 16;
/** The most aggregators a network may name (each one is a peer of every hidden NR). */
export const MAX_AGGREGATORS = 8;

const NodeId = Type.String({
  pattern: NODE_ID_PATTERN,
  title: 'node id',
  description: '1-32 characters of a-z, 0-9 and "-"',
});

const PublicKeyText = Type.String({
  pattern: KEY_PATTERN,
  title: 'key',
  description: 'an X25519 public key: standard base64 of 32 bytes, as wg(8) prints it',
});

const SealedKey = Type.String({
  pattern: SEALED_KEY_PATTERN,
  title: 'sealed key',
  description: "the NR's WireGuard private key sealed to identityKey (libsodium sealed box, base64 of 80 bytes)",
});

const AdminKey = Type.String({
  pattern: KEY_PATTERN,
  title: 'admin key',
  description: "an admin's Ed25519 public key: standard base64 of 32 bytes, as `zmesh admin init` prints it",
});

/** The admin's signature over the canonical encoding of the rest of the definition (signature.ts). */
export const SignatureSchema = Type.Object(
  {
    key: AdminKey,
    value: Type.String({
      pattern: SIGNATURE_PATTERN,
      title: 'signature',
      description: 'an Ed25519 signature: standard base64 of 64 bytes',
    }),
  },
  { additionalProperties: false, title: 'signature' },
);

/**
 * One change of the admin keys nodes trust (trust-log.ts): numbered, and signed by a key trusted
 * once the changes before it are applied. A definition carries every change still needed (its
 * trust log, oldest first), so a node that skipped revisions catches up from the latest one.
 */
export const TrustChangeSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, maximum: 1_000_000, description: "the change's number: 1, 2, 3… without gaps" }),
    add: Type.Array(AdminKey, { maxItems: 16 }),
    remove: Type.Array(AdminKey, { maxItems: 16 }),
    signature: SignatureSchema,
  },
  { additionalProperties: false, title: 'trust change' },
);

/** The definition's trust log: consecutive changes, oldest first. */
export const TrustLogSchema = Type.Array(TrustChangeSchema, { maxItems: 64, title: 'trust log' });

/** The pinned fields of an NR: a node's peers refuse a change of them without a record naming it. */
export const PINNED_FIELDS = ['wgPublicKey', 'subnet'] as const;
export type PinnedField = (typeof PINNED_FIELDS)[number];

/**
 * An explicit identity change of one node (pinning.ts): written by `net rotate-key` and `net
 * reprovision` at `revision`; the latest one per node is kept, so a node that skipped revisions
 * still finds it.
 */
export const IdentityChangeSchema = Type.Object(
  {
    node: NodeId,
    revision: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'the revision that made the change',
    }),
    kind: Type.Union([Type.Literal('rotate-key'), Type.Literal('reprovision')]),
    fields: Type.Array(Type.Union(PINNED_FIELDS.map((f) => Type.Literal(f))), {
      minItems: 1,
      maxItems: PINNED_FIELDS.length,
    }),
  },
  { additionalProperties: false, title: 'identity change' },
);

const Ipv4Cidr = (description: string) => Type.String({ pattern: IPV4_CIDR_PATTERN, title: 'CIDR', description });

const Endpoint = (description: string) => Type.String({ minLength: 1, maxLength: 300, title: 'endpoint', description });

const Port = Type.Integer({ minimum: 1, maximum: 65535, title: 'port', description: 'UDP port 1-65535' });

/** Days after which `zmesh net rotate-due` gives an NR a new key pair (optional scheduled rotation). */
export const RotateAfter = Type.Integer({ minimum: 1, maximum: 3650, title: 'rotate after', description: 'days' });

export const ResourceSchema = Type.Object(
  {
    node: NodeId,
    subnet: Ipv4Cidr('an IPv4 /24 inside ipRange, such as 10.1.2.0/24 (its .1 is the gateway)'),
    wgPublicKey: PublicKeyText,
    wgPrivateKeySealed: SealedKey,
    listenPort: Port,
    endpoints: Type.Array(Endpoint('where other NRs reach this one: IPv4:port, [IPv6]:port or hostname:port'), {
      maxItems: MAX_ENDPOINTS,
    }),
    hidden: Type.Boolean({ description: 'behind NAT: peers only with the aggregator' }),
    identityKey: PublicKeyText,
    keyCreatedAt: Type.Optional(
      Type.String({
        pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z$',
        title: 'key creation time',
        description: 'when the tool made wgPublicKey (UTC, ISO 8601): what rotateAfter counts from',
      }),
    ),
  },
  { additionalProperties: false, title: 'network resource' },
);

export const GROUP_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,31}$';
export const PORT_SPEC_PATTERN = '^[0-9]{1,5}(-[0-9]{1,5})?$';
export const ACCESS_PROTOCOLS = ['tcp', 'udp', 'icmp'] as const;
export const MAX_GROUPS = 4096;
export const MAX_ASSOCIATIONS = 65536;
export const MAX_GROUP_CIDRS = 1024;
export const MAX_ASSOCIATION_PORTS = 64;

const GroupName = Type.String({
  pattern: GROUP_NAME_PATTERN,
  title: 'group name',
  description: '1-32 characters of a-z, 0-9, "_" and "-", starting with a letter or digit',
});

/** A named set of CIDRs inside ipRange (access control, DESIGN.md "Access control"). */
export const GroupSchema = Type.Object(
  {
    name: GroupName,
    cidrs: Type.Array(Ipv4Cidr('a prefix inside ipRange, such as 10.1.2.0/25 or 10.1.2.7/32'), {
      minItems: 1,
      maxItems: MAX_GROUP_CIDRS,
    }),
    intraGroup: Type.Optional(Type.Boolean({ description: 'members of the group may open connections to each other' })),
  },
  { additionalProperties: false, title: 'group' },
);

/** `from` may open connections to `to` (replies always pass); both ways only when asked. */
export const AssociationSchema = Type.Object(
  {
    from: GroupName,
    to: GroupName,
    protocol: Type.Optional(
      Type.String({
        pattern: `^(${ACCESS_PROTOCOLS.join('|')})$`,
        title: 'protocol',
        description: 'tcp, udp or icmp (absent: any)',
      }),
    ),
    ports: Type.Optional(
      Type.Array(
        Type.String({
          pattern: PORT_SPEC_PATTERN,
          title: 'port',
          description: 'a destination port N or range N-M, 1-65535',
        }),
        {
          minItems: 1,
          maxItems: MAX_ASSOCIATION_PORTS,
        },
      ),
    ),
    bothWays: Type.Optional(Type.Boolean({ description: '`to` may also open connections to `from`' })),
  },
  { additionalProperties: false, title: 'association' },
);

export const ISO_TIME_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z$';
export const MAX_EXTERNAL_PEERS = 4096;

/**
 * A peer outside every NR (a laptop) that one public NR, `via`, peers with and routes for. It is
 * invited (inviteKey: the public half of a temporary WireGuard key whose private half only the
 * invitation holds; the via NR lets it reach only its enrolment endpoint) and becomes a full
 * WireGuard peer once redeemed (publicKey: the key the peer generated itself).
 */
export const ExternalPeerSchema = Type.Object(
  {
    name: GroupName,
    address: Type.String({
      pattern: IPV4_ADDRESS_PATTERN,
      title: 'address',
      description: 'an IPv4 address inside ipRange and outside every NR subnet',
    }),
    via: NodeId,
    inviteKey: PublicKeyText,
    expires: Type.String({ pattern: ISO_TIME_PATTERN, title: 'time', description: 'UTC, as 2026-01-02T03:04:05Z' }),
    publicKey: Type.Optional(PublicKeyText),
  },
  { additionalProperties: false, title: 'external peer' },
);

export const MAX_SERVICES = 4096;

/**
 * A service address (services.ts): a /32 of the range outside every NR subnet, owned by one NR
 * and optionally one workload there; moving it to another node is one revision.
 */
export const ServiceSchema = Type.Object(
  {
    name: GroupName,
    address: Type.String({
      pattern: IPV4_ADDRESS_PATTERN,
      title: 'address',
      description: 'an IPv4 address inside ipRange and outside every NR subnet',
    }),
    node: NodeId,
    workload: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$',
        title: 'workload id',
        description: "the owner's workload that holds the address",
      }),
    ),
  },
  { additionalProperties: false, title: 'service' },
);

export const NetworkDefinitionSchema = Type.Object(
  {
    version: Type.Literal(DEFINITION_VERSION),
    name: Type.String({
      pattern: NETWORK_NAME_PATTERN,
      title: 'network name',
      description: '1-63 characters of A-Z, a-z, 0-9, ".", "_", "-", starting with a letter or digit',
    }),
    revision: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'bumped by every change; networkd refuses an older one',
    }),
    ipRange: Ipv4Cidr('an IPv4 range /8 to /24, such as 10.1.0.0/16'),
    resources: Type.Array(ResourceSchema, { maxItems: MAX_RESOURCES }),
    aggregator: Type.Optional(NodeId),
    aggregators: Type.Optional(
      Type.Array(NodeId, {
        minItems: 1,
        maxItems: MAX_AGGREGATORS,
        description: 'public NRs that relay for hidden NRs, in preference order (failover goes down the list)',
      }),
    ),
    exit: Type.Optional(NodeId),
    groups: Type.Optional(Type.Array(GroupSchema, { maxItems: MAX_GROUPS })),
    associations: Type.Optional(Type.Array(AssociationSchema, { maxItems: MAX_ASSOCIATIONS })),
    externalPeers: Type.Optional(Type.Array(ExternalPeerSchema, { maxItems: MAX_EXTERNAL_PEERS })),
    services: Type.Optional(Type.Array(ServiceSchema, { maxItems: MAX_SERVICES })),
    rotateAfter: Type.Optional(RotateAfter),
    identityChanges: Type.Optional(Type.Array(IdentityChangeSchema, { maxItems: MAX_RESOURCES })),
    trust: Type.Optional(TrustLogSchema),
    signature: Type.Optional(SignatureSchema),
  },
  {
    additionalProperties: false,
    $id: 'network-definition.schema.json',
    title: 'zmesh network definition',
  },
);

export const NodeRecordSchema = Type.Object(
  {
    id: NodeId,
    identityKey: PublicKeyText,
    endpoints: Type.Array(
      Endpoint('IPv4[:port], [IPv6][:port] or hostname[:port]; without a port the NR listen port is used'),
      { maxItems: MAX_ENDPOINTS },
    ),
    hidden: Type.Boolean({ description: 'behind NAT: cannot be dialled' }),
  },
  { additionalProperties: false, $id: 'node-record.schema.json', title: 'zmesh node record' },
);

declare const validatedBrand: unique symbol;

/** A definition as it appears in JSON, checked structurally only. */
export type NetworkDefinitionDocument = Static<typeof NetworkDefinitionSchema>;
export type ResourceDocument = Static<typeof ResourceSchema>;
export type SignatureDocument = Static<typeof SignatureSchema>;
export type TrustChange = Static<typeof TrustChangeSchema>;
export type IdentityChange = Static<typeof IdentityChangeSchema>;
export type Service = Static<typeof ServiceSchema>;
export type NodeRecordDocument = Static<typeof NodeRecordSchema>;
export type GroupDocument = Static<typeof GroupSchema>;
export type AssociationDocument = Static<typeof AssociationSchema>;
export type ExternalPeerDocument = Static<typeof ExternalPeerSchema>;

/** Deeply read-only view: validated values are shared between definitions, never mutated. */
type Frozen<T> = T extends readonly (infer U)[]
  ? readonly Frozen<U>[]
  : T extends object
    ? { readonly [K in keyof T]: Frozen<T[K]> }
    : T;

/** A network definition that passed structural and semantic validation (only parse.ts makes one). */
export type NetworkDefinition = Frozen<NetworkDefinitionDocument> & { readonly [validatedBrand]: 'NetworkDefinition' };
export type Resource = Frozen<ResourceDocument>;
export type Group = Frozen<GroupDocument>;
export type Association = Frozen<AssociationDocument>;
export type ExternalPeer = Frozen<ExternalPeerDocument>;
/** A node record that passed validation. */
export type NodeRecord = Frozen<NodeRecordDocument> & { readonly [validatedBrand]: 'NodeRecord' };
