/**
 * What networkd needs from the layers below (src/nr and the WireGuard backend), as one narrow
 * interface: the daemon's logic depends on this, and nr-data-plane.ts is the one file that
 * wires it to NetworkResources. Everything here is prefix-scoped by the implementation: it only
 * sees and touches what carries this networkd's prefix.
 */
import type { NodeResource, PrivateKey } from '../netdef/index.js';
import type { ForbiddenNamespace } from './workload-namespace.js';

/** One NR as networkd wants it: this node's resource (endpoints already numeric), its address, its key. */
export interface NrSpec {
  readonly resource: NodeResource;
  /** 100.127.X.Y, the NR's address on the ndmz bridge. */
  readonly publicAddress: string;
  /** The unsealed WireGuard private key: goes to the backend only, never stored or logged. */
  readonly privateKey: PrivateKey;
  /** Each attached workload's id → its address: where the NR routes the services named for it. */
  readonly workloadAddresses: ReadonlyMap<string, string>;
}

export interface PeerStatus {
  readonly publicKey: string;
  readonly endpoint: string | null;
  /** Seconds since the last handshake, null when there was none. */
  readonly lastHandshakeAgeSeconds: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface DeviceStatus {
  readonly name: string;
  readonly listenPort: number | null;
  readonly peers: readonly PeerStatus[];
}

export interface NrStatus {
  /** The NR namespace's name. */
  readonly namespace: string;
  readonly exists: boolean;
  readonly device: DeviceStatus | null;
}

export interface DataPlane {
  readonly wgBackend: 'userspace' | 'kernel';
  /** Makes sure the node's ndmz exists as planned. Idempotent. */
  ensureNdmz(): Promise<void>;
  /** Makes one NR exactly as specified; resolves to the number of kernel/device steps taken (0 when it already was). */
  applyNr(spec: NrSpec): Promise<{ steps: number }>;
  /** Removes an NR (namespace, its links, its WireGuard device). Missing is fine. */
  removeNr(netId: string): Promise<void>;
  /** NetIds of the NRs that exist (found by their prefix-scoped namespace names). */
  listNrs(): Promise<string[]>;
  /** Every namespace this networkd owns (the ndmz, every NR, present or left over): never a workload's. */
  ownNamespaces(): ForbiddenNamespace[];
  /** Path of an NR's namespace (for workload veths). */
  nrNetnsPath(netId: string): string;
  inspectNr(netId: string): Promise<NrStatus>;
  /** Removes WireGuard devices of NRs not in `wanted` (netIds); resolves to the removed device names. */
  removeUnwantedDevices(wanted: ReadonlySet<string>): Promise<string[]>;
  /** Removes every NR and the ndmz (tests, `zmesh networkd --teardown`). */
  teardownAll(): Promise<void>;
}
