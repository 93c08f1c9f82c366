/**
 * The I/O around failover.ts: every poll, for each network with several aggregators, reads the
 * NR device's receive counters (the same status the API shows), runs the switch rule and tells
 * the service what it decided — a switch moves allowed IPs, a re-dial re-adds a silent
 * aggregator's peer. It also runs the carriage signal (carriage.ts) over the network's in-band
 * channel: a hidden NR says hello to its current aggregator, an aggregator announces the hidden
 * NRs it hears, and every public NR routes each hidden NR to the aggregator that carries it.
 * Nothing here talks to the control plane: every NR decides alone, by the same rules, from what
 * its own device and the tunnel tell it.
 */
import { native } from '../native/binding.js';
import { CarriageChannel } from './carriage-channel.js';
import { type CarriageState, type Carried, announcedCarrier, carriageStep, initialCarriageState } from './carriage.js';
import type { DataPlane } from './data-plane.js';
import { type FailoverState, confirmReturn, failoverStep, initialFailoverState } from './failover.js';
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

interface Tracked {
  readonly key: string;
  readonly state: FailoverState;
  readonly carriage: CarriageState;
  readonly channel: CarriageChannel | null;
  /** The namespace the channel was opened in: a re-created NR gets a new one, and a new channel. */
  readonly channelNetns: number | null;
}

export class FailoverMonitor {
  readonly #options: FailoverMonitorOptions;
  readonly #states = new Map<string, Tracked>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  /** A kick arrived while a poll ran. */
  #again = false;

  constructor(options: FailoverMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#kick(), this.#options.pollMs ?? FAILOVER_POLL_MS);
  }

  /**
   * A poll now; while one runs (a slow apply), one more right after it: news that arrives during
   * a poll (a hand-over announced) must not wait for the next tick, up to FAILOVER_POLL_MS later.
   */
  #kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.poll()
      .catch((error: Error) => this.#options.log(`failover: poll failed: ${error.stack ?? error.message}`))
      .finally(() => {
        this.#running = null;
        if (this.#again && this.#timer) {
          this.#again = false;
          this.#kick();
        }
      });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#again = false;
    await this.#running;
    for (const entry of this.#states.values()) entry.channel?.close();
    this.#states.clear();
  }

  /**
   * The network's channel, opened once its NR exists and again when the NR's namespace was
   * re-created (a failure is logged and retried next poll).
   */
  #channel(network: string, netId: string, address: string, entry: Tracked): Pick<Tracked, 'channel' | 'channelNetns'> {
    const netnsPath = this.#options.plane.nrNetnsPath(netId);
    try {
      const netns = native().netnsId(netnsPath);
      if (entry.channel && entry.channelNetns === netns) return { channel: entry.channel, channelNetns: netns };
      entry.channel?.close();
      const channel = CarriageChannel.open(netnsPath, netId, address, this.#options.log);
      // Only a running monitor acts on news (tests call poll() directly).
      channel.onNews(() => {
        if (this.#timer) this.#kick();
      });
      return { channel, channelNetns: netns };
    } catch (error) {
      this.#options.log(`failover: network ${network}: no in-band channel yet: ${(error as Error).message}`);
      entry.channel?.close();
      return { channel: null, channelNetns: null };
    }
  }

  /** One pass over the networks (also called directly by tests). */
  async poll(): Promise<void> {
    const { service, plane, log } = this.#options;
    const targets = service.failoverTargets();
    service.forgetFailover(new Set(targets.map((t) => t.network)));
    for (const [name, entry] of this.#states) {
      if (targets.some((t) => t.network === name)) continue;
      entry.channel?.close();
      this.#states.delete(name);
    }
    for (const { network, netId, resource } of targets) {
      const plan = resource.failover;
      if (!plan) continue;
      const now = this.#now();
      // A new list of aggregators (another revision) starts over from its preferred one.
      const key = plan.aggregators.join(',');
      const known = this.#states.get(network);
      const entry: Tracked =
        known?.key === key
          ? known
          : {
              key,
              state: initialFailoverState(plan.aggregators, now),
              carriage: initialCarriageState,
              channel: null,
              channelNetns: null,
            };
      if (known && known !== entry) known.channel?.close();
      let status: Awaited<ReturnType<DataPlane['inspectNr']>>;
      try {
        status = await plane.inspectNr(netId);
      } catch (error) {
        log(`failover: network ${network}: cannot read the device: ${(error as Error).message}`);
        continue;
      }
      const nodeOfKey = new Map(resource.peers.map((p) => [p.publicKey, p.node]));
      const hidden = plan.moves.flatMap((move) => (move.hidden === undefined ? [] : [move.hidden]));
      const rxBytes = new Map<string, number>();
      const hiddenRx = new Map<string, number>();
      const handshaken = new Set<string>();
      for (const peer of status.device?.peers ?? []) {
        const node = nodeOfKey.get(peer.publicKey);
        if (node !== undefined && hidden.includes(node)) hiddenRx.set(node, peer.rxBytes);
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
      const opened = status.exists ? this.#channel(network, netId, resource.wgAddress, entry) : entry;
      const channel = opened.channel;
      // Announcements count from aggregators only (carriage.ts), hellos from the hidden NRs.
      channel?.allow(new Map(Object.entries(plan.addresses)));
      const carriage = carriageStep(entry.carriage, {
        aggregators: plan.aggregators,
        self: resource.node,
        hidden,
        rxBytes: hiddenRx,
        received: channel?.drain() ?? [],
        hellos: channel?.drainHellos() ?? [],
        up: step.up,
        current: step.state.current,
        now,
      });
      // A hidden NR returning moves the moment the aggregator it returns to is heard claiming it:
      // the same announcement moves it on every public NR (FailoverState.returning).
      const returned =
        resource.hidden && step.state.returning !== null
          ? announcedCarrier(
              carriage.state,
              { aggregators: plan.aggregators, self: resource.node, up: step.up, current: step.state.current },
              resource.node,
            ) === step.state.returning.to
            ? confirmReturn(step.state)
            : null
          : null;
      const state = returned?.state ?? step.state;
      const switched = returned?.switched ?? step.switched;
      this.#states.set(network, {
        key,
        state,
        carriage: carriage.state,
        channel,
        channelNetns: opened.channelNetns,
      });
      try {
        // An aggregator announces before it applies: a hand-over moves the hidden NR's prefixes
        // off its own entry, after which its announcement to that hidden NR would leave by another
        // aggregator and fail the hidden NR's source check (it still routes everything to us).
        if (channel && !resource.hidden) this.#speak(channel, resource, state, carriage.carries);
        await service.chooseAggregator(
          network,
          state.current,
          Object.fromEntries(step.up),
          switched,
          Object.fromEntries(carriage.carriers),
        );
        if (switched) this.#options.onSwitch?.(network, switched.to, switched.reason);
        // After the apply: a hidden NR's first hello after a switch goes over its new aggregator's entry.
        if (channel && resource.hidden) this.#speak(channel, resource, state, carriage.carries);
        for (const aggregator of step.redial) await service.redialAggregator(network, aggregator);
      } catch (error) {
        log(`failover: network ${network}: ${(error as Error).message}`);
      }
    }
  }

  /**
   * A hidden NR's hello to its current aggregator (while returning, naming the one it moves to:
   * the hand-over, carriage.ts); an aggregator's announcement to every other NR. Hidden NRs need
   * no announcement to route, but it is what they hear their current aggregator by (its
   * keepalives stop while the hellos arrive: WireGuard restarts the timer on every packet
   * received) and how a returning one learns that its hand-over was announced.
   */
  #speak(channel: CarriageChannel, resource: NodeResourceOf, state: FailoverState, carries: readonly Carried[]): void {
    const plan = resource.failover!;
    if (resource.hidden) {
      const address = plan.addresses[state.current];
      if (address !== undefined) channel.hello(address, resource.node, state.current, state.returning?.to ?? null);
      return;
    }
    if (!plan.aggregators.includes(resource.node)) return;
    for (const [node, address] of Object.entries(plan.addresses)) {
      if (node !== resource.node) channel.announce(address, resource.node, carries);
    }
  }
}

type NodeResourceOf = ReturnType<NetworkService['failoverTargets']>[number]['resource'];
