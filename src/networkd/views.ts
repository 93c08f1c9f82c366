/**
 * What networkd's API answers — the reads (GET /v1/networks, GET /v1/networks/{name},
 * GET /v1/health) and the answers of the changes: the contract that the tool's status, the
 * simulated world, metrics and the CNI plugin read. Each is a TypeBox schema and its type, so
 * the one definition gives both the type the service builds and the check the API tests make of
 * live answers (objects are closed: a field added or dropped without changing this fails them).
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const closed = <T extends Record<string, TSchema>>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** PUT /v1/networks/{name} */
export const ApplyResult = closed({
  network: Type.String(),
  netId: Type.String(),
  revision: Type.Integer(),
  applied: closed({ steps: Type.Integer(), ms: Type.Number() }),
});
export type ApplyResult = Static<typeof ApplyResult>;

/** POST /v1/networks/{name}/workloads */
export const AttachResult = closed({
  workload: Type.String(),
  ip: Type.String(),
  prefix: Type.Literal(24),
  gateway: Type.String(),
  routes: Type.Array(closed({ destination: Type.String(), via: Type.String() })),
  mtu: Type.Integer(),
  ifname: Type.String(),
  netns: Type.String(),
  /** The workload interface's MAC address (null when it could not be read). */
  mac: nullable(Type.String()),
});
export type AttachResult = Static<typeof AttachResult>;

/** DELETE /v1/networks/{name} */
export const DeleteResult = closed({
  network: Type.String(),
  netId: Type.String(),
  deleted: Type.Literal(true),
  workloadsDetached: Type.Integer(),
});
export type DeleteResult = Static<typeof DeleteResult>;

/** DELETE /v1/networks/{name}/workloads/{workload} */
export const DetachResult = closed({ workload: Type.String(), ip: Type.String(), detached: Type.Literal(true) });
export type DetachResult = Static<typeof DetachResult>;

/** POST /v1/networks/{name}/workloads/gc: the CNI workloads released, and each one that failed. */
export const GcResult = closed({
  released: Type.Array(Type.String()),
  kept: Type.Integer(),
  errors: Type.Array(closed({ workload: Type.String(), message: Type.String() })),
});
export type GcResult = Static<typeof GcResult>;

/** What a reconcile pass did (GET /v1/health: the last one). */
export const ReconcileReport = closed({
  steps: Type.Integer(),
  networks: Type.Integer(),
  removedNrs: Type.Array(Type.String()),
  removedDevices: Type.Array(Type.String()),
  reattached: Type.Integer(),
  forgotten: Type.Array(Type.String()),
  errors: Type.Array(Type.String()),
  ms: Type.Number(),
});
export type ReconcileReport = Static<typeof ReconcileReport>;

/** A peer of the NR's WireGuard device, named by the node whose key it is (null: a key of no member). */
export const PeerView = closed({
  node: nullable(Type.String()),
  publicKey: Type.String(),
  endpoint: nullable(Type.String()),
  /** Seconds since the last handshake, null when there was none. */
  lastHandshakeAgeSeconds: nullable(Type.Number()),
  rxBytes: Type.Integer(),
  txBytes: Type.Integer(),
});
export type PeerView = Static<typeof PeerView>;

export const DeviceView = closed({
  name: Type.String(),
  listenPort: nullable(Type.Integer()),
  peers: Type.Array(PeerView),
});
export type DeviceView = Static<typeof DeviceView>;

export const WorkloadView = closed({
  workload: Type.String(),
  ip: Type.String(),
  netns: Type.String(),
  ifname: Type.String(),
  /** The NR side of the workload's veth. */
  link: Type.String(),
  /** Who attached it: the API's callers or a container runtime through zmesh-cni. */
  owner: Type.Union([Type.Literal('api'), Type.Literal('cni')]),
  /** The runtime's container id (owner "cni"), else null. */
  containerId: nullable(Type.String()),
});
export type WorkloadView = Static<typeof WorkloadView>;

/** Aggregator failover of one network on this node (src/networkd/failover.ts). */
export const FailoverView = closed({
  /** Preference order, as the definition names them. */
  aggregators: Type.Array(Type.String()),
  /** The aggregator whose entry carries the relayed prefixes now. */
  current: Type.String(),
  /** Liveness as this NR sees it (the NR itself always up); empty before the first poll. */
  up: Type.Record(Type.String(), Type.Boolean()),
  /** Hidden NR → the aggregator that carries it for this NR (in-band announcements); empty on a hidden NR. */
  carriers: Type.Record(Type.String(), Type.String()),
  /** Switches since networkd started, newest last (at most 20). */
  switches: Type.Array(
    closed({
      from: Type.String(),
      to: Type.String(),
      reason: Type.Union([Type.Literal('down'), Type.Literal('returned')]),
      at: Type.String(),
    }),
  ),
});
export type FailoverView = Static<typeof FailoverView>;

/** GET /v1/networks/{name}: this node's part of a network, with the live state of its NR. */
export const NetworkView = closed({
  network: Type.String(),
  netId: Type.String(),
  revision: Type.Integer(),
  ipRange: Type.String(),
  node: Type.String(),
  subnet: Type.String(),
  gateway: Type.String(),
  wgAddress: Type.String(),
  /** 100.127.X.Y, the NR's address on the ndmz bridge. */
  publicAddress: Type.String(),
  hidden: Type.Boolean(),
  role: closed({ aggregator: Type.Boolean(), exit: Type.Boolean() }),
  egress: Type.Union([Type.Literal('ndmz'), Type.Literal('mesh')]),
  /** The NR namespace's name; null when it could not be read (see liveError). */
  namespace: nullable(Type.String()),
  nrExists: Type.Boolean(),
  device: nullable(DeviceView),
  /** The device's bound port, or the planned one while there is no device. */
  listenPort: nullable(Type.Integer()),
  workloads: Type.Array(WorkloadView),
  forgottenWorkloads: Type.Array(closed({ workload: Type.String(), reason: Type.String(), at: Type.String() })),
  /** Redemptions this node accepted as the via NR (`zmesh-redeem-v2.…`, no secret): for `zmesh net redeem`. */
  redemptions: Type.Optional(Type.Array(Type.String())),
  /** Why the live state could not be read (the rest is the stored state). */
  liveError: Type.Optional(Type.String()),
  /** With several aggregators: the one this NR uses now, which are up, and the switches so far. */
  failover: Type.Optional(FailoverView),
});
export type NetworkView = Static<typeof NetworkView>;

/** GET /v1/networks */
export const NetworkListView = closed({ networks: Type.Array(NetworkView) });
export type NetworkListView = Static<typeof NetworkListView>;

/** GET /v1/health */
export const HealthView = closed({
  ok: Type.Literal(true),
  pid: Type.Integer(),
  node: Type.String(),
  prefix: Type.String(),
  wg: closed({
    backend: Type.Union([Type.Literal('userspace'), Type.Literal('kernel')]),
    wgdPid: nullable(Type.Integer()),
  }),
  lastReconcile: nullable(ReconcileReport),
});
export type HealthView = Static<typeof HealthView>;
