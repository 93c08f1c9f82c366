// End to end on the simulated world (2 public + 2 hidden nodes, each with its own networkd and
// wgd): the "demo" network (10.1.0.0/16, aggregator alpha, egress through each node's ndmz) and
// the "blue" network (10.2.0.0/16, exit bravo) on the same four nodes, one workload namespace on
// every NR. One world for the whole file: the scenarios only read, or clean up what they add.
import test from 'ava';
import { ping, tcpTransfer } from '../harness/index.js';
import { boundedAll } from '../../src/sim/reachability.js';
import { buildStandardMesh, peersOf, waitForHandshakes, type StandardMesh } from '../../src/sim/mesh.js';
import { probeFromInternet } from '../../src/sim/checks.js';
import { askWhoAmI, connectionSources, startTcpListener, startWhoAmIServer, tcpProbe } from '../../src/sim/probes.js';
import type { SimNetwork } from '../../src/sim/network.js';
import type { SimWorkload } from '../../src/sim/world.js';

let mesh: StandardMesh;
let blue: SimNetwork;
const blueWorkloads: SimWorkload[] = [];

test.before(async () => {
  mesh = await buildStandardMesh();
  const { world } = mesh;
  blue = await world.createNetwork('blue', '10.2.0.0/16', world.nodes, {
    aggregator: world.node('alpha'),
    exit: world.node('bravo'),
  });
  await world.deploy(blue);
  for (const n of world.nodes) blueWorkloads.push(await world.attachWorkload(blue, n));
  await waitForHandshakes(world, blue, 20_000);
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(mesh?.world?.diagnostics());
});

test.after.always(async () => {
  await mesh?.world.teardown();
});

const byNode = (ws: readonly SimWorkload[], id: string): SimWorkload => {
  const w = ws.find((x) => x.node.id === id);
  if (!w) throw new Error(`no workload on ${id}`);
  return w;
};

test.serial('every workload pings every other workload, hidden ones included', async (t) => {
  // The default deadline covers one handshake retry: pairs that first talk at the same instant.
  const results = await mesh.world.reachability(mesh.workloads, { count: 3 });
  t.is(results.length, 12);
  t.deepEqual(
    results.filter((r) => !r.reachable).map((r) => `${r.from} → ${r.to}`),
    [],
  );
});

test.serial('TCP between every pair of workloads delivers 256 KiB intact', async (t) => {
  const ws = mesh.workloads;
  const pairs = ws.flatMap((a) => ws.filter((b) => b !== a).map((b) => [a, b] as const));
  const results = await boundedAll(
    pairs.map(([a, b]) => async () => ({
      pair: `${a.label} → ${b.label}`,
      from: a.ip,
      r: await tcpTransfer({ client: a.ns, server: b.ns, connectTo: b.ip, bytes: 256 * 1024, timeoutMs: 20_000 }),
    })),
    2,
  );
  for (const { pair, from, r } of results) {
    t.true(r.intact, `${pair}: ${r.receivedBytes} of ${r.sentBytes} bytes`);
    // No NAT inside the mesh: the server sees the client workload's own address.
    t.is(r.peerAddress, from, pair);
  }
});

test.serial(
  'hidden ↔ hidden traffic is relayed by the aggregator (its WireGuard counters for both hidden peers grow by the traffic)',
  async (t) => {
    const [h1, h2] = [byNode(mesh.workloads, 'hid1'), byNode(mesh.workloads, 'hid2')];
    const counters = async () => {
      const peers = await peersOf(mesh.world, mesh.net, 'alpha');
      const get = (id: string) => peers.find((p) => p.node === id) ?? { rxBytes: 0, txBytes: 0 };
      return { h1: get('hid1'), h2: get('hid2') };
    };
    const before = await counters();
    const p = await ping(h1.ns, h2.ip, { count: 20, size: 1000, intervalMs: 20, timeoutMs: 5_000 });
    t.is(p.received, 20);
    const after = await counters();
    // 20 requests of 1028-byte IP packets in from hid1 and out to hid2, 20 replies the other way.
    t.true(after.h1.rxBytes - before.h1.rxBytes >= 20 * 1028, `from hid1: ${after.h1.rxBytes - before.h1.rxBytes}`);
    t.true(after.h2.txBytes - before.h2.txBytes >= 20 * 1028, `to hid2: ${after.h2.txBytes - before.h2.txBytes}`);
    t.true(
      after.h2.rxBytes - before.h2.rxBytes >= 20 * 1028,
      `replies from hid2: ${after.h2.rxBytes - before.h2.rxBytes}`,
    );
    t.true(
      after.h1.txBytes - before.h1.txBytes >= 20 * 1028,
      `replies to hid1: ${after.h1.txBytes - before.h1.txBytes}`,
    );
  },
);

test.serial(
  "each workload's egress reaches the TEST-NET server from its node's public address (the NAT's for a hidden node)",
  async (t) => {
    for (const w of mesh.workloads) {
      t.deepEqual(await mesh.world.egress(w.ns), { ok: true, source: w.node.publicAddress }, w.label);
    }
  },
);

test.serial(
  'new connections from the internet to workloads and NRs are dropped, even when routed to the node',
  async (t) => {
    // Control: the same probe reaches a listener on a public node itself.
    const alpha = mesh.world.node('alpha');
    const control = await startTcpListener(alpha.host, alpha.uplinkAddress, 7010);
    t.is(await tcpProbe(mesh.world.internet, alpha.uplinkAddress, 7010), 'connected');
    await control.stop({ graceMs: 500 });
    for (const w of mesh.workloads) {
      const listener = await startTcpListener(w.ns, '0.0.0.0', 7011);
      try {
        t.is(await probeFromInternet(mesh.world, w.node, w.ip, 7011), 'timeout', `workload ${w.label}`);
        t.is(await probeFromInternet(mesh.world, w.node, w.gateway, 7011), 'timeout', `NR gateway of ${w.label}`);
        const nr = (await w.node.api.getNetwork(mesh.net.name)) as { publicAddress: string };
        t.is(
          await probeFromInternet(mesh.world, w.node, nr.publicAddress, 7011),
          'timeout',
          `NR public address of ${w.label}`,
        );
      } finally {
        await listener.stop({ graceMs: 500 });
      }
    }
  },
);

test.serial(
  "two users' networks on one node reach neither each other nor the node's own addresses (through the exit, only as the internet does)",
  async (t) => {
    const exitNode = mesh.world.node('bravo');
    for (const id of ['alpha', 'hid1']) {
      const [demo, other] = [byNode(mesh.workloads, id), byNode(blueWorkloads, id)];
      const node = demo.node;
      // The node's listener tells who connected: nothing from inside the node may reach it.
      const nodeServer = await startWhoAmIServer(node.host, '0.0.0.0', 7020);
      const listeners = await Promise.all([
        startTcpListener(demo.ns, '0.0.0.0', 7020),
        startTcpListener(other.ns, '0.0.0.0', 7020),
      ]);
      try {
        // Controls: each workload is reachable inside its own network.
        t.is(await tcpProbe(byNode(mesh.workloads, 'bravo').ns, demo.ip, 7020), 'connected', `demo → ${demo.label}`);
        t.is(await tcpProbe(byNode(blueWorkloads, 'bravo').ns, other.ip, 7020), 'connected', `blue → ${other.label}`);
        t.not(await tcpProbe(demo.ns, other.ip, 7020, 1_000), 'connected', `${demo.label} → ${other.label}`);
        t.not(await tcpProbe(other.ns, demo.ip, 7020, 1_000), 'connected', `${other.label} → ${demo.label}`);
        for (const own of [node.uplinkAddress, '100.126.0.1']) {
          t.not(await tcpProbe(demo.ns, own, 7020, 1_000), 'connected', `${demo.label} → node ${own}`);
          // blue leaves through bravo: a public node's address is then an internet address like
          // any other, reached from the exit's address (never from inside this node); the rest
          // (ndmz0's address, a NAT'd uplink) is not reachable at all.
          const viaInternet = own === node.uplinkAddress && !node.hidden;
          const seen = await askWhoAmI(other.ns, own, 7020, viaInternet ? 3_000 : 1_000);
          if (viaInternet)
            t.deepEqual(seen, { ok: true, source: exitNode.publicAddress }, `${other.label} → node ${own}`);
          else t.false(seen.ok, `${other.label} → node ${own}: ${JSON.stringify(seen)}`);
        }
        t.false(
          connectionSources(nodeServer).some((source) => source !== exitNode.publicAddress),
          `${node.id} saw ${connectionSources(nodeServer).join(', ')}`,
        );
      } finally {
        await Promise.all([...listeners, nodeServer].map((l) => l.stop({ graceMs: 500 })));
      }
    }
  },
);

test.serial("with an exit set, every workload's egress leaves through the exit node's address", async (t) => {
  const exitNode = mesh.world.node('bravo');
  for (const w of blueWorkloads) {
    t.deepEqual(await mesh.world.egress(w.ns, 5_000), { ok: true, source: exitNode.publicAddress }, w.label);
  }
});
