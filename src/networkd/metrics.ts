/**
 * networkd's Prometheus series. Per peer, the names and labels of prometheus_wireguard_exporter
 * (so its dashboards work); zmesh's own start with `zmesh_`. Scrapes read a snapshot: a sampler
 * asks the data plane every `--metrics-interval` seconds (one device status per NR and one wgd
 * `list` for the drop counters), and reconcile passes are observed as they end. A scrape itself
 * touches neither the kernel nor a socket, whatever the number of NRs.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { perNetworkGauge } from '../metrics/per-network-gauge.js';
import type { ReconcileReport } from './views.js';

/** What the sampler reads of one network (the shape of GET /v1/networks' entries). */
export interface SampledNetwork {
  readonly network: string;
  readonly revision: number;
  readonly node: string;
  readonly hidden: boolean;
  readonly nrExists: boolean;
  /** Members of the network other than this node. */
  readonly otherNodes: number;
  readonly device: {
    readonly name: string;
    readonly peers: readonly {
      readonly node: string | null;
      readonly publicKey: string;
      readonly lastHandshakeAgeSeconds: number | null;
      readonly rxBytes: number;
      readonly txBytes: number;
    }[];
  } | null;
  readonly workloads: number;
}

export interface Sample {
  /** Unix seconds when it was taken. */
  readonly time: number;
  readonly networks: readonly SampledNetwork[];
  /** Per WireGuard device (userspace only: kernel WireGuard does not count drops by reason). */
  readonly drops: ReadonlyMap<string, Readonly<Record<string, number>>>;
  readonly seconds: number;
}

/** A peer whose last handshake is younger than this is up (WireGuard re-keys every 2 minutes). */
export const HANDSHAKE_FRESH_SECONDS = 180;

type SampledPeer = NonNullable<SampledNetwork['device']>['peers'][number];

const PEER_LABELS = ['network', 'interface', 'peer_node', 'public_key'] as const;

/** Counters whose value is a total kept elsewhere: each collect sets them to it. */
function setTotal<L extends string>(counter: Counter<L>, labels: Record<L, string>, value: number): void {
  counter.inc(labels, value);
}

export class NetworkdMetrics {
  readonly registry = new Registry();
  #sample: Sample | null = null;
  readonly #reconcileSeconds: Histogram<string>;
  readonly #reconcileSteps: Counter<'kind'>;
  readonly #reconcileErrors: Counter<string>;
  readonly #reconciles: Counter<string>;
  readonly #aggregatorSwitches: Counter<'network' | 'to' | 'reason'>;

  constructor(labels: { readonly node: string; readonly backend: string }) {
    const registry = this.registry;
    const metrics = this;
    // The exporter's byte counters: one per direction, the same labels.
    for (const [name, help, bytes] of [
      ['wireguard_sent_bytes_total', 'Bytes sent to the peer', (p: SampledPeer) => p.txBytes],
      ['wireguard_received_bytes_total', 'Bytes received from the peer', (p: SampledPeer) => p.rxBytes],
    ] as const) {
      new Counter({
        name,
        help,
        labelNames: PEER_LABELS,
        registers: [registry],
        collect() {
          this.reset();
          for (const { network, device, peer } of metrics.#peers())
            setTotal(this, peerLabels(network, device, peer), bytes(peer));
        },
      });
    }
    new Gauge({
      name: 'wireguard_latest_handshake_seconds',
      help: 'Unix time of the latest handshake with the peer (0: none yet)',
      labelNames: PEER_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const time = metrics.#sample?.time ?? 0;
        for (const { network, device, peer } of metrics.#peers()) {
          this.set(
            peerLabels(network, device, peer),
            peer.lastHandshakeAgeSeconds === null ? 0 : Math.round(time - peer.lastHandshakeAgeSeconds),
          );
        }
      },
    });
    new Gauge({
      name: 'zmesh_networkd_info',
      help: 'This networkd: its node and WireGuard backend (always 1)',
      labelNames: ['node', 'backend'],
      registers: [registry],
      collect() {
        this.set({ node: labels.node, backend: labels.backend }, 1);
      },
    });
    const perNetwork = (name: string, help: string, value: (n: SampledNetwork) => number) =>
      perNetworkGauge(registry, name, help, () => metrics.#sample?.networks ?? [], value);
    perNetwork(
      'zmesh_nr_up',
      'Whether the network resource (namespace and WireGuard device) exists on this node',
      (n) => (n.nrExists && n.device ? 1 : 0),
    );
    perNetwork(
      'zmesh_network_applied_revision',
      'Revision of the network definition applied on this node',
      (n) => n.revision,
    );
    perNetwork('zmesh_workloads', 'Workloads attached to the network on this node', (n) => n.workloads);
    perNetwork('zmesh_peers', 'WireGuard peers of the network resource', (n) => n.device?.peers.length ?? 0);
    perNetwork(
      'zmesh_peers_handshake_recent',
      `Peers whose latest handshake is younger than ${HANDSHAKE_FRESH_SECONDS} s`,
      (n) =>
        (n.device?.peers ?? []).filter(
          (p) => p.lastHandshakeAgeSeconds !== null && p.lastHandshakeAgeSeconds < HANDSHAKE_FRESH_SECONDS,
        ).length,
    );
    new Gauge({
      name: 'zmesh_nodes_reached',
      help: 'Other members of the network by path: direct (a WireGuard peer) or relayed (through the aggregator)',
      labelNames: ['network', 'path'],
      registers: [registry],
      collect() {
        this.reset();
        for (const n of metrics.#sample?.networks ?? []) {
          const direct = new Set((n.device?.peers ?? []).map((p) => p.node).filter((x) => x !== null)).size;
          this.set({ network: n.network, path: 'direct' }, direct);
          this.set({ network: n.network, path: 'relayed' }, Math.max(0, n.otherNodes - direct));
        }
      },
    });
    new Counter({
      name: 'zmesh_dataplane_drops_total',
      help: 'Packets the userspace WireGuard data plane dropped, by reason (C counters, per device)',
      labelNames: ['interface', 'reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [device, counts] of metrics.#sample?.drops ?? []) {
          for (const [reason, count] of Object.entries(counts)) setTotal(this, { interface: device, reason }, count);
        }
      },
    });
    new Gauge({
      name: 'zmesh_metrics_sample_age_seconds',
      help: 'Age of the data-plane sample the per-peer series come from',
      registers: [registry],
      collect() {
        this.set(metrics.#sample ? Math.max(0, Date.now() / 1000 - metrics.#sample.time) : 0);
      },
    });
    new Gauge({
      name: 'zmesh_metrics_sample_duration_seconds',
      help: 'How long taking the latest data-plane sample took',
      registers: [registry],
      collect() {
        this.set(metrics.#sample?.seconds ?? 0);
      },
    });
    this.#reconcileSeconds = new Histogram({
      name: 'zmesh_reconcile_duration_seconds',
      help: 'Duration of reconcile passes',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.#reconcileSteps = new Counter({
      name: 'zmesh_reconcile_steps_total',
      help: 'What reconcile passes did, by kind: kernel/device steps, NRs and devices removed, workloads re-attached or forgotten',
      labelNames: ['kind'],
      registers: [registry],
    });
    for (const kind of STEP_KINDS) this.#reconcileSteps.inc({ kind }, 0);
    this.#reconcileErrors = new Counter({
      name: 'zmesh_reconcile_errors_total',
      help: 'Networks a reconcile pass failed to bring to their definition',
      registers: [registry],
    });
    this.#reconciles = new Counter({
      name: 'zmesh_reconciles_total',
      help: 'Reconcile passes run',
      registers: [registry],
    });
    this.#aggregatorSwitches = new Counter({
      name: 'zmesh_aggregator_switches_total',
      help: 'Switches of the aggregator this NR relays through, by network, new aggregator and reason (down, returned)',
      labelNames: ['network', 'to', 'reason'],
      registers: [registry],
    });
  }

  /** The failover monitor moved a network's relayed prefixes to another aggregator. */
  observeAggregatorSwitch(network: string, to: string, reason: 'down' | 'returned'): void {
    this.#aggregatorSwitches.inc({ network, to, reason });
  }

  /** A pass ended: its duration, its steps by kind, its errors. */
  observeReconcile(report: ReconcileReport): void {
    this.#reconciles.inc();
    this.#reconcileSeconds.observe(report.ms / 1000);
    const byKind: Record<(typeof STEP_KINDS)[number], number> = {
      applied: report.steps,
      nr_removed: report.removedNrs.length,
      device_removed: report.removedDevices.length,
      workload_reattached: report.reattached,
      workload_forgotten: report.forgotten.length,
    };
    for (const kind of STEP_KINDS) if (byKind[kind] > 0) this.#reconcileSteps.inc({ kind }, byKind[kind]);
    if (report.errors.length > 0) this.#reconcileErrors.inc(report.errors.length);
  }

  /** The sampler's latest reading; scrapes serve it until the next. */
  setSample(sample: Sample): void {
    this.#sample = sample;
  }

  *#peers() {
    for (const network of this.#sample?.networks ?? []) {
      if (!network.device) continue;
      for (const peer of network.device.peers) yield { network, device: network.device, peer };
    }
  }
}

const STEP_KINDS = ['applied', 'nr_removed', 'device_removed', 'workload_reattached', 'workload_forgotten'] as const;

function peerLabels(
  network: SampledNetwork,
  device: { name: string },
  peer: { node: string | null; publicKey: string },
) {
  return { network: network.network, interface: device.name, peer_node: peer.node ?? '', public_key: peer.publicKey };
}
