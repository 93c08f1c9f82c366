/**
 * The redemptions the nodes reported for a network (each node's nodes/<id>/status/<net>, as the
 * store agent writes it), for `zmesh net redeem --store`. A node's bad status value does not hide
 * the others: it is returned beside them (EBADVALUE naming the key and path).
 */

import type { ReportedRedemption } from '../netdef/index.js';
import { rangePrefix } from './etcd-client.js';
import type { EtcdStore } from './etcd-store.js';
import { StoreError } from './errors.js';
import { NODES, parseKey } from './keys.js';
import { readStatus } from './values.js';

export interface RedemptionReports {
  readonly reports: readonly ReportedRedemption[];
  /** Status values that failed validation: their reports are unknown. */
  readonly bad: readonly StoreError[];
}

export async function readRedemptionReports(store: EtcdStore, network: string): Promise<RedemptionReports> {
  const { kvs } = await store.call('read node status', () => rangePrefix(store.client, NODES));
  const reports: ReportedRedemption[] = [];
  const bad: StoreError[] = [];
  for (const kv of kvs) {
    const key = kv.key.toString();
    const parsed = parseKey(key);
    if (parsed.kind !== 'status' || parsed.network !== network) continue;
    try {
      const status = readStatus(key, kv.value.toString());
      for (const r of status.redemptions ?? []) reports.push({ node: parsed.node, redemption: { network, ...r } });
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      bad.push(error);
    }
  }
  return { reports, bad };
}
