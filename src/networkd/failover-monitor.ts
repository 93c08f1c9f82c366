/**
 * The I/O around failover.ts: every poll, for each network with several aggregators, reads the
 * NR device's receive counters (the same status the API shows), runs the switch rule and tells
 * the service what it decided — a switch moves allowed IPs, a re-dial re-adds a silent
 * aggregator's peer. Nothing here talks to the control plane: every NR decides alone, by the
 * same rule, from what its own device sees.
 */
import type { DataPlane } from './data-plane.js';
import { type FailoverState, failoverStep, initialFailoverState } from './failover.js';
import type { NetworkService } from './service.js';

/** Half a keepalive interval: a dead aggregator is noticed within DOWN_AFTER_MS + this. */
export const FAILOVER_POLL_MS = 500;

export interface FailoverMonitorOptions {
  readonly service: NetworkService;
  readonly plane: DataPlane;
  readonly log: (message: string) => void;
  readonly pollMs?: number;
  /** Told each switch (metrics). */
  readonly onSwitch?: (network: string, to: string, reason: 'down' | 'returned') => void;
  readonly now?: () => number;
}

export class FailoverMonitor {
  readonly #options: FailoverMonitorOptions;
  readonly #states = new Map<string, { key: string; state: FailoverState }>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: FailoverMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      // A poll still running (a slow apply) is not doubled: the next tick tries again.
      this.#running ??= this.poll().finally(() => {
        this.#running = null;
      });
    }, this.#options.pollMs ?? FAILOVER_POLL_MS);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** One pass over the networks (also called directly by tests). */
  async poll(): Promise<void> {
    const { service, plane, log } = this.#options;
    const targets = service.failoverTargets();
    service.forgetFailover(new Set(targets.map((t) => t.network)));
    for (const name of this.#states.keys()) if (!targets.some((t) => t.network === name)) this.#states.delete(name);
    for (const { network, netId, resource } of targets) {
      const plan = resource.failover;
      if (!plan) continue;
      const now = this.#now();
      // A new list of aggregators (another revision) starts over from its preferred one.
      const key = plan.aggregators.join(',');
      let entry = this.#states.get(network);
      if (entry?.key !== key) entry = { key, state: initialFailoverState(plan.aggregators, now) };
      let status: Awaited<ReturnType<DataPlane['inspectNr']>>;
      try {
        status = await plane.inspectNr(netId);
      } catch (error) {
        log(`failover: network ${network}: cannot read the device: ${(error as Error).message}`);
        continue;
      }
      const nodeOfKey = new Map(resource.peers.map((p) => [p.publicKey, p.node]));
      const rxBytes = new Map<string, number>();
      const handshaken = new Set<string>();
      for (const peer of status.device?.peers ?? []) {
        const node = nodeOfKey.get(peer.publicKey);
        if (node === undefined || !plan.aggregators.includes(node)) continue;
        rxBytes.set(node, peer.rxBytes);
        if (peer.lastHandshakeAgeSeconds !== null) handshaken.add(node);
      }
      const step = failoverStep(entry.state, {
        aggregators: plan.aggregators,
        self: resource.node,
        hidden: resource.hidden,
        rxBytes,
        handshaken,
        now,
      });
      this.#states.set(network, { key, state: step.state });
      try {
        await service.chooseAggregator(network, step.state.current, Object.fromEntries(step.up), step.switched);
        if (step.switched) this.#options.onSwitch?.(network, step.switched.to, step.switched.reason);
        for (const aggregator of step.redial) await service.redialAggregator(network, aggregator);
      } catch (error) {
        log(`failover: network ${network}: ${(error as Error).message}`);
      }
    }
  }
}
