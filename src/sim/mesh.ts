// The standard simulated mesh shared by the demo and the e2e tests: two public nodes (alpha,
// bravo) and two hidden ones behind NAT (hid1, hid2), one network over all four (alpha is the
// aggregator), deployed through each node's networkd, with one workload namespace on every NR.
import type { PeerView } from '../networkd/views.js';
import { SimError } from './errors.js';
import type { SimNetwork } from './network.js';
import type { SimNodeSpec } from './node.js';
import { SimWorld, type SimWorldOptions, type SimWorkload } from './world.js';

export const STANDARD_NODES: readonly SimNodeSpec[] = [
  { id: 'alpha' },
  { id: 'bravo' },
  { id: 'hid1', hidden: true },
  { id: 'hid2', hidden: true },
];

/** Four public nodes (alpha, bravo, charlie, delta) and two hidden behind NAT (hid1, hid2). */
export const FOUR_PUBLIC_TWO_HIDDEN_NODES: readonly SimNodeSpec[] = [
  { id: 'alpha' },
  { id: 'bravo' },
  { id: 'charlie' },
  { id: 'delta' },
  { id: 'hid1', hidden: true },
  { id: 'hid2', hidden: true },
];

export interface StandardMesh {
  readonly world: SimWorld;
  readonly net: SimNetwork;
  /** One per node, in node order. */
  readonly workloads: readonly SimWorkload[];
}

export interface StandardMeshOptions extends SimWorldOptions {
  networkName?: string;
  ipRange?: string;
  /** How long to wait for every hidden NR's first handshake with the aggregator (default 20 s). */
  handshakeTimeoutMs?: number;
}

/** Builds the world and the network, deploys it and attaches the workloads; tears down on failure. */
export async function buildStandardMesh(opts: StandardMeshOptions = {}): Promise<StandardMesh> {
  const world = await SimWorld.create(STANDARD_NODES, opts);
  try {
    const nodes = world.nodes;
    const net = await world.createNetwork(opts.networkName ?? 'demo', opts.ipRange ?? '10.1.0.0/16', nodes, {
      aggregator: world.node('alpha'),
    });
    await world.deploy(net);
    const workloads: SimWorkload[] = [];
    for (const n of nodes) workloads.push(await world.attachWorkload(net, n));
    await waitForHandshakes(world, net, opts.handshakeTimeoutMs ?? 20_000);
    return { world, net, workloads };
  } catch (e) {
    await world.teardown().catch(() => {});
    throw e;
  }
}

/** The peers of a node's NR as networkd reports them (GET /v1/networks/{name}). */
export async function peersOf(world: SimWorld, net: SimNetwork, nodeId: string): Promise<PeerView[]> {
  const body = await world.node(nodeId).api.getNetwork(net.name);
  return [...(body.device?.peers ?? [])];
}

/**
 * Hidden NRs cannot be dialled: until each has dialled the aggregator, traffic towards it has
 * nowhere to go. Wait (polling networkd's live status, there is no event) until every hidden
 * member has a handshake with the aggregator.
 */
export async function waitForHandshakes(world: SimWorld, net: SimNetwork, timeoutMs: number): Promise<void> {
  const view = net.view();
  const hidden = view.resources.filter((r) => r.hidden).map((r) => r.node);
  // With several aggregators, the preferred one (the others are handshaken with just the same).
  const aggregator = view.aggregators?.[0] ?? view.aggregator;
  if (hidden.length === 0 || !aggregator) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const peers = await peersOf(world, net, aggregator);
    const missing = hidden.filter((h) => !peers.some((p) => p.node === h && p.lastHandshakeAgeSeconds !== null));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new SimError(
        'NOT_READY',
        `network ${net.name}: no handshake between the aggregator ${aggregator} and ${missing.join(', ')} within ${timeoutMs} ms`,
        {
          network: net.name,
        },
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
