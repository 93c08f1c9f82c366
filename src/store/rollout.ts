/**
 * A network's rollout across the fleet, as `zmesh net status` shows it: per member node whether
 * its agent is alive (nodes/<id>/alive), the revision it last reported (nodes/<id>/status/<net>)
 * against the network's, its state and last error, and a one-line summary. `summarizeRollout` is
 * pure (given the values and the time); `readRollout` reads them from the store at one revision.
 */

import type { NetworkDefinition } from '../netdef/index.js';
import { rangePrefix } from './etcd-client.js';
import type { EtcdStore } from './etcd-store.js';
import { StoreError } from './errors.js';
import { NODES, parseKey } from './keys.js';
import { type Alive, type NodeStatus, readAlive, readStatus } from './values.js';

export interface NodeRollout {
  readonly node: string;
  readonly alive: Alive | null;
  readonly status: NodeStatus | null;
  /** Applied the network's current revision. */
  readonly current: boolean;
}

export interface Rollout {
  readonly network: string;
  readonly revision: number;
  readonly nodes: readonly NodeRollout[];
  /** Alive members that have not applied the current revision. */
  readonly laggards: readonly string[];
  /**
   * Every alive member applied the current revision, and some member is alive (a network with no
   * members is done at once). With none alive nothing was confirmed: right after a store was
   * wiped and restored no agent has written its alive key yet, and "0/3 nodes" read as done.
   */
  readonly done: boolean;
  /** No member is alive (and the network has members). */
  readonly noneAlive: boolean;
  readonly summary: string;
}

function secondsSince(iso: string, now: number): string {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? 'unknown' : `${Math.max(0, Math.round((now - at) / 1000))} s`;
}

export function summarizeRollout(
  def: NetworkDefinition,
  alive: ReadonlyMap<string, Alive>,
  statuses: ReadonlyMap<string, NodeStatus>,
  now: number,
): Rollout {
  const nodes = def.resources.map((r): NodeRollout => {
    const status = statuses.get(r.node) ?? null;
    return {
      node: r.node,
      alive: alive.get(r.node) ?? null,
      status,
      current: status?.state === 'applied' && status.revision >= def.revision,
    };
  });
  const laggards = nodes.filter((n) => n.alive && !n.current).map((n) => n.node);
  const atRevision = nodes.filter((n) => n.current).length;
  const notes = [
    ...nodes
      .filter((n) => !n.alive)
      .map(
        (n) =>
          `${n.node} not alive (${n.status ? `last report ${secondsSince(n.status.time, now)} ago` : 'never reported'})`,
      ),
    ...nodes
      .filter((n) => n.alive && n.status && (n.status.state === 'failed' || n.status.state === 'invalid'))
      .map((n) => `${n.node} ${n.status?.state}: ${n.status?.error ?? ''}`),
  ];
  const summary = [`${atRevision}/${nodes.length} nodes at revision ${def.revision}`, ...notes].join('; ');
  const noneAlive = nodes.length > 0 && !nodes.some((n) => n.alive);
  return {
    network: def.name,
    revision: def.revision,
    nodes,
    laggards,
    done: laggards.length === 0 && !noneAlive,
    noneAlive,
    summary,
  };
}

/** Reads the network and every node's alive and status keys, at one revision. */
export async function readRollout(store: EtcdStore, name: string, now = Date.now()): Promise<Rollout> {
  const def = await store.readNetwork(name);
  if (!def) throw new StoreError('ENOTFOUND', `no network "${name}" in ${store.description}`, { network: name });
  const { kvs } = await store.call('read node status', () => rangePrefix(store.client, NODES));
  const alive = new Map<string, Alive>();
  const statuses = new Map<string, NodeStatus>();
  for (const kv of kvs) {
    const key = kv.key.toString();
    const parsed = parseKey(key);
    try {
      if (parsed.kind === 'alive') alive.set(parsed.node, readAlive(key, kv.value.toString()));
      else if (parsed.kind === 'status' && parsed.network === name)
        statuses.set(parsed.node, readStatus(key, kv.value.toString()));
    } catch (error) {
      // One node's bad value must not hide the others: that node shows as unknown.
      if (!(error instanceof StoreError)) throw error;
    }
  }
  return summarizeRollout(def, alive, statuses, now);
}
