/**
 * What a soak submitted to the nodes' provisiond, and the audit of it against provisiond's own
 * history and networkd's state: no task lost (every submitted id recorded once and succeeded, its
 * effect present) and none duplicated (no id recorded twice, no task nobody submitted, no
 * attempt that did the work again instead of networkd replaying its answer, no workload attached
 * twice). Submission retries while provisiond is not answering (it may be restarting after a
 * SIGKILL): the same id, so a retried submission is the same task.
 */
import { join } from 'node:path';
import { ProvisiondClient } from '../provisiond/client.js';
import { ProvisiondError } from '../provisiond/errors.js';
import type { SimNode } from './node.js';

export interface LedgerEntry {
  readonly node: SimNode;
  readonly id: string;
  readonly type: 'workload.attach' | 'workload.detach';
  readonly network: string;
  readonly workload: string;
}

export interface LedgerAudit {
  readonly submitted: number;
  readonly succeeded: number;
  /** "node/id: why" per task that did not end succeeded, or whose effect is missing. */
  readonly lost: readonly string[];
  /** "node/id: why" per task recorded or performed more than once, or recorded unsubmitted. */
  readonly duplicated: readonly string[];
}

export function provisiondOf(node: SimNode): ProvisiondClient {
  return new ProvisiondClient(join(node.stateDir, 'provisiond.sock'), 30_000);
}

export class TaskLedger {
  readonly entries: LedgerEntry[] = [];

  /** Submits `entry` as a task to its node's provisiond (retried while it is not answering). */
  async submit(entry: LedgerEntry, body: Record<string, unknown>, timeoutMs = 60_000): Promise<void> {
    this.entries.push(entry);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await provisiondOf(entry.node).submit({ id: entry.id, type: entry.type, network: entry.network, ...body });
        return;
      } catch (e) {
        if (!(e instanceof ProvisiondError && e.code === 'EUNAVAILABLE') || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Blocks until every submitted task is in a final state on its node (or the deadline). */
  async settled(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const node of new Set(this.entries.map((e) => e.node))) {
      for (;;) {
        const open = (await provisiondOf(node).list({ limit: 100_000 })).filter(
          (t) => t.state === 'pending' || t.state === 'running',
        );
        if (open.length === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Compares what was submitted with each node's provisiond history and networkd's workloads of
   * `network`; `expectedWorkloads` per node id are the workloads attached outside the ledger.
   */
  async audit(
    nodes: readonly SimNode[],
    network: string,
    expectedWorkloads: Map<string, Set<string>>,
  ): Promise<LedgerAudit> {
    const lost: string[] = [];
    const duplicated: string[] = [];
    let succeeded = 0;
    for (const node of nodes) {
      const mine = this.entries.filter((e) => e.node === node);
      const ids = new Set(mine.map((e) => e.id));
      const recorded = (await provisiondOf(node).list({ limit: 100_000 })).filter((t) => t.source !== 'store');
      const seen = new Map<string, number>();
      for (const t of recorded) {
        seen.set(t.id, (seen.get(t.id) ?? 0) + 1);
        if (!ids.has(t.id)) duplicated.push(`${node.id}/${t.id}: recorded but never submitted`);
      }
      const attached = new Set(expectedWorkloads.get(node.id) ?? []);
      for (const e of mine) {
        const n = seen.get(e.id) ?? 0;
        if (n > 1) duplicated.push(`${node.id}/${e.id}: recorded ${n} times`);
        const t = recorded.find((x) => x.id === e.id);
        if (!t) {
          lost.push(`${node.id}/${e.id}: not in provisiond's history`);
          continue;
        }
        if (t.state !== 'succeeded') {
          lost.push(`${node.id}/${e.id}: ${t.state} ${JSON.stringify(t.error).slice(0, 200)}`);
          continue;
        }
        succeeded++;
        const { history } = await provisiondOf(node).show(e.id);
        const done = (history as { outcome: string | null; replayed: boolean }[]).filter(
          (a) => a.outcome === 'succeeded' && !a.replayed,
        );
        if (done.length > 1) duplicated.push(`${node.id}/${e.id}: performed by ${done.length} attempts`);
        if (e.type === 'workload.attach') attached.add(e.workload);
        else attached.delete(e.workload);
      }
      const live = ((await node.api.getNetwork(network)) as { workloads: { workload: string }[] }).workloads.map(
        (w) => w.workload,
      );
      for (const w of attached) if (!live.includes(w)) lost.push(`${node.id}: workload ${w} not attached in networkd`);
      for (const w of new Set(live)) {
        const count = live.filter((x) => x === w).length;
        if (count > 1) duplicated.push(`${node.id}: workload ${w} attached ${count} times`);
        if (!attached.has(w)) duplicated.push(`${node.id}: workload ${w} attached but detached or never asked for`);
      }
    }
    return { submitted: this.entries.length, succeeded, lost, duplicated };
  }
}
