/**
 * provisiond's Prometheus series: the task queue by state, how long tasks' attempts take, and,
 * when it is the store's agent, whether the store answers and each network's published vs
 * applied revision. Scrapes read the queue's counts (one indexed SQLite count) and the agent's
 * memory; attempts are timed as they end.
 */
import { Gauge, Histogram, Registry } from 'prom-client';
import { perNetworkGauge } from '../metrics/per-network-gauge.js';
import type { TaskHandler } from './handler.js';
import type { StoreAgent } from './store-agent.js';
import type { TaskState } from './task-store.js';

export class ProvisiondMetrics {
  readonly registry = new Registry();
  readonly #attempts: Histogram<'type' | 'outcome'>;

  /** `agent` is given when provisiond is a store agent (its series exist only then). */
  constructor(counts: () => Record<TaskState, number>, agent: (() => StoreAgent | null) | null) {
    const registry = this.registry;
    new Gauge({
      name: 'zmesh_tasks',
      help: "Tasks in provisiond's queue by state",
      labelNames: ['state'],
      registers: [registry],
      collect() {
        for (const [state, count] of Object.entries(counts())) this.set({ state }, count);
      },
    });
    this.#attempts = new Histogram({
      name: 'zmesh_task_attempt_duration_seconds',
      help: 'Duration of task attempts sent to networkd, by task type and outcome',
      labelNames: ['type', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    if (agent) this.#storeSeries(agent);
  }

  #storeSeries(agent: () => StoreAgent | null): void {
    const registry = this.registry;
    new Gauge({
      name: 'zmesh_store_connected',
      help: 'Whether the store agent watches the store (1) or waits for it (0); absent without a store',
      registers: [registry],
      collect() {
        this.reset();
        const a = agent();
        if (a) this.set(a.phase === 'watching' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'zmesh_store_cursor_revision',
      help: 'The store revision the agent has taken in',
      registers: [registry],
      collect() {
        this.reset();
        const a = agent();
        if (a) this.set(a.cursor);
      },
    });
    const revisions = (name: string, help: string, pick: (r: { published: number; applied: number }) => number) =>
      perNetworkGauge(registry, name, help, () => agent()?.revisions() ?? [], pick);
    revisions(
      'zmesh_store_published_revision',
      'Revision of the network the store holds for this node (as the agent took it)',
      (r) => r.published,
    );
    revisions(
      'zmesh_store_applied_revision',
      'Revision of the network this node reported applied to the store (0: none yet)',
      (r) => r.applied,
    );
  }

  /** The handler, with each attempt timed by task type and outcome. */
  timed(handler: TaskHandler): TaskHandler {
    return async (task, attempt) => {
      const end = this.#attempts.startTimer({ type: task.type });
      try {
        const outcome = await handler(task, attempt);
        end({ outcome: outcome.kind });
        return outcome;
      } catch (error) {
        end({ outcome: 'error' });
        throw error;
      }
    };
  }
}
