/**
 * The one interface of the store, whatever its kind: where the tool reads and edits network
 * definitions and node records. `file:DIR` is the embedded default (one JSON file per network,
 * as the tool always wrote them); `etcd://…` is the fleet's coordinator. The node's agent and
 * the fleet views (status, export) use the etcd kind's own API beside this.
 */

import type { NetworkDefinition, NodeRecord } from '../netdef/index.js';

/** One edit of a definition: given the latest stored version, returns the next one (or throws). */
export type DefinitionChange = (current: NetworkDefinition) => NetworkDefinition | Promise<NetworkDefinition>;

export interface EditResult {
  readonly before: NetworkDefinition;
  readonly after: NetworkDefinition;
  /** How many times the change ran (1 unless another writer won a race). */
  readonly attempts: number;
}

/** Everything the store holds that an operator defined, read at one point in time. */
export interface StoreSnapshot {
  /** etcd's revision of the read (0 for the file store). */
  readonly revision: number;
  readonly networks: readonly NetworkDefinition[];
  readonly records: readonly NodeRecord[];
}

export interface DefinitionStore {
  readonly kind: 'file' | 'etcd';
  /** For messages: `file:/path` or `etcd://h:p,…`. */
  readonly description: string;
  /** The network, validated; null when it does not exist. A bad stored value throws EBADVALUE. */
  readNetwork(name: string): Promise<NetworkDefinition | null>;
  listNetworks(): Promise<string[]>;
  /** Writes a new network; EEXISTS unless `replace`. */
  createNetwork(def: NetworkDefinition, opts?: { replace?: boolean }): Promise<void>;
  /**
   * Compare-and-swap on the network's revision: reads, runs `change`, writes only if nobody wrote
   * meanwhile; a lost race re-reads and runs `change` again. An error from `change` writes nothing.
   */
  editNetwork(name: string, change: DefinitionChange): Promise<EditResult>;
  deleteNetwork(name: string): Promise<void>;
  putNodeRecord(record: NodeRecord): Promise<void>;
  readNodeRecord(id: string): Promise<NodeRecord | null>;
  /** Networks and node records (not the nodes' own status/alive keys); a bad value throws. */
  snapshot(): Promise<StoreSnapshot>;
  close(): Promise<void>;
}
