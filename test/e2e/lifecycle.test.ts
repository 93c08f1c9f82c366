// End to end, changes over time on the simulated world (2 public + 2 hidden nodes, each with its
// own networkd and wgd): a node joins and leaves while traffic flows, a network is deleted, and
// networkd is killed (-9) in the middle of an apply. One world for the file; each scenario
// uses its own network so that they stay independent.
import test from 'ava';
import { readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { ping, runCommand, systemTool } from '../harness/index.js';
import { netIdOf } from '../../src/netdef/index.js';
import { ContinuousPing } from '../../src/sim/continuous-ping.js';
import { STANDARD_NODES, peersOf, waitForHandshakes } from '../../src/sim/mesh.js';
import { dumpNode, uapiSockets } from '../../src/sim/node-dump.js';
import { SimWorld, type SimWorkload } from '../../src/sim/world.js';
import type { SimNode } from '../../src/sim/node.js';

let world: SimWorld;

test.before(async () => {
  world = await SimWorld.create(STANDARD_NODES);
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(world?.diagnostics());
});

test.after.always(async () => {
  await world?.teardown();
});

/** What a node keeps of a network after it left: nothing but the node-level ndmz. */
async function residue(node: SimNode): Promise<string[]> {
  const found: string[] = [];
  for (const ns of node.ownedNamespaces()) if (ns !== `${node.prefix}ndmz`) found.push(`namespace ${ns}`);
  for (const sock of uapiSockets(node)) found.push(`UAPI socket ${sock}`);
  const ndmzLinks = (
    await runCommand(systemTool('ip'), ['-n', `${node.prefix}ndmz`, '-j', 'link', 'show'], { check: false })
  ).stdout;
  for (const l of JSON.parse(ndmzLinks || '[]') as Array<{ ifname: string }>)
    if (l.ifname.startsWith('p-')) found.push(`ndmz port ${l.ifname}`);
  const listed = (await node.api.listNetworks()) as { networks: unknown[] };
  if (listed.networks.length > 0) found.push(`${listed.networks.length} network(s) still listed by networkd`);
  // Only networkd and wgd may run in the node's namespace.
  const daemons = new Set([node.networkd?.pid, ...node.wgdPids()]);
  for (const pid of node.processes()) if (!daemons.has(pid)) found.push(`process ${pid}`);
  return found;
}

test.serial(
  'a node joining and a node leaving leave existing flows untouched, and the leaving node keeps no residue',
  async (t) => {
    const [alpha, bravo, hid1, hid2] = ['alpha', 'bravo', 'hid1', 'hid2'].map((id) => world.node(id)) as [
      SimNode,
      SimNode,
      SimNode,
      SimNode,
    ];
    const net = await world.createNetwork('grow', '10.3.0.0/16', [alpha, bravo, hid1]);
    // Whatever happens below, the next scenario starts without this network.
    t.teardown(() => world.undeployEverywhere(net));
    await world.deploy(net);
    const ws: Record<string, SimWorkload> = {};
    for (const n of [alpha, bravo, hid1]) ws[n.id] = await world.attachWorkload(net, n);
    await waitForHandshakes(world, net, 20_000);
    const flows = [
      await ContinuousPing.start(ws.alpha!.ns, ws.bravo!.ip),
      await ContinuousPing.start(ws.hid1!.ns, ws.bravo!.ip),
    ];

    await net.addNode(hid2);
    await world.deploy(net);
    const w4 = await world.attachWorkload(net, hid2);
    await waitForHandshakes(world, net, 20_000);
    t.true((await ping(ws.alpha!.ns, w4.ip, { count: 3, timeoutMs: 5_000 })).received > 0, 'the new node is reachable');
    t.true((await ping(w4.ns, ws.hid1!.ip, { count: 3, timeoutMs: 5_000 })).received > 0, 'new hidden ↔ old hidden');

    await net.removeNode(hid2);
    await world.deploy(net);
    await world.undeploy(net, hid2);

    for (const [i, f] of flows.entries()) {
      const report = await f.stop();
      t.true(report.sent >= 10, `flow ${i} ran (${report.sent} requests)`);
      t.deepEqual(report.lost, [], `flow ${i} lost requests`);
    }
    t.deepEqual(await residue(hid2), []);
    const links = await w4.ns.links();
    t.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
      "the workload's veth went with the NR",
    );
    const alphaPeers = await peersOf(world, net, 'alpha');
    t.false(
      alphaPeers.some((p) => p.node === 'hid2'),
      'the aggregator forgot the removed node',
    );
  },
);

test.serial(
  'deleting a network leaves no namespace, link, nft table, socket or process behind on any node',
  async (t) => {
    const net = await world.createNetwork('gone', '10.4.0.0/16', world.nodes);
    // Whatever happens below, the next scenario starts without this network.
    t.teardown(() => world.undeployEverywhere(net));
    await world.deploy(net);
    const ws: SimWorkload[] = [];
    for (const n of world.nodes) ws.push(await world.attachWorkload(net, n));
    await waitForHandshakes(world, net, 20_000);
    t.true((await ping(ws[2]!.ns, ws[3]!.ip, { count: 2, timeoutMs: 5_000 })).received > 0, 'the network worked');
    for (const n of world.nodes)
      t.true(
        n.ownedNamespaces().some((x) => x.includes('n-')),
        `${n.id} has its NR`,
      );

    for (const n of world.nodes) await world.undeploy(net, n);
    for (const n of world.nodes) t.deepEqual(await residue(n), [], n.id);
    for (const w of ws)
      t.deepEqual(
        (await w.ns.links()).map((l) => l.ifname),
        ['lo'],
        `${w.label} has no veth left`,
      );
    // What stays is node-level (the host's and ndmz's zmesh tables): nothing in them names the network.
    const netId = netIdOf(net.name);
    for (const n of world.nodes) {
      const host = (await n.host.exec('nft', ['list', 'ruleset'])).stdout;
      const ndmz = (
        await runCommand(systemTool('ip'), ['netns', 'exec', `${n.prefix}ndmz`, systemTool('nft'), 'list', 'ruleset'])
      ).stdout;
      t.true(host.includes('zmesh') && ndmz.includes('zmesh'), `${n.id}: the node-level tables are there to look at`);
      t.false(
        host.includes(netId) || ndmz.includes(netId),
        `${n.id}: no nft rule or table of network ${netId} in the host or ndmz`,
      );
    }
  },
);

test.serial(
  'kill -9 of networkd in the middle of an apply, then a restart, converges to exactly the state of an uninterrupted apply, and traffic never stops',
  async (t) => {
    const [alpha, bravo, hid1] = ['alpha', 'bravo', 'hid1'].map((id) => world.node(id)) as [SimNode, SimNode, SimNode];
    const net = await world.createNetwork('crash', '10.5.0.0/16', [alpha, bravo, hid1]);
    // Whatever happens below, the next scenario starts without this network.
    t.teardown(() => world.undeployEverywhere(net));
    await world.deploy(net);
    const ws: Record<string, SimWorkload> = {};
    for (const n of [alpha, bravo, hid1]) ws[n.id] = await world.attachWorkload(net, n);
    await waitForHandshakes(world, net, 20_000);
    const flows = [
      await ContinuousPing.start(ws.bravo!.ns, ws.alpha!.ip),
      await ContinuousPing.start(ws.hid1!.ns, ws.bravo!.ip),
    ];

    // Revision 2 makes alpha the exit: bravo's default route, its peer's allowed IPs and its nft
    // rules change. alpha and hid1 get it normally; bravo's networkd is killed once it has
    // written the new revision to its store (state is written before the kernel is touched).
    await net.setExit(alpha);
    await world.deploy(net, [alpha, hid1]);
    const storeFile = join(bravo.stateDir, 'networkd', 'networks', `${net.name}.json`);
    const revision = net.view().revision;
    const stored = () => {
      try {
        return (
          (JSON.parse(readFileSync(storeFile, 'utf8')) as { definition: { revision: number } }).definition.revision ===
          revision
        );
      } catch {
        return false;
      }
    };
    const watcher = watch(join(bravo.stateDir, 'networkd', 'networks'));
    const killed = new Promise<void>((resolve) => {
      watcher.on('change', () => {
        if (!stored()) return;
        watcher.close();
        void bravo.killNetworkd('SIGKILL').then(resolve);
      });
    });
    const put = bravo.api.raw('PUT', `/v1/networks/${net.name}`, net.definition()).then(
      (a) => `answered ${a.status}`,
      (e: Error) => `cut: ${e.message}`,
    );
    await killed;
    t.log(`the interrupted PUT was ${await put}`);
    t.true(bravo.wgdPids().length === 1, 'wgd survives networkd');

    await bravo.startNetworkd();
    const afterRestart = await dumpNode(bravo);
    const restartedFlows = await Promise.all(flows.map((f) => f.stop()));
    for (const [i, r] of restartedFlows.entries()) {
      t.true(r.sent >= 5, `flow ${i} ran (${r.sent} requests)`);
      t.deepEqual(r.lost, [], `flow ${i} lost requests while networkd was down`);
    }
    t.deepEqual(
      await world.egress(ws.bravo!.ns, 5_000),
      { ok: true, source: alpha.publicAddress },
      'revision 2 is in force: egress through the exit',
    );

    // The reference: the same revision applied without interruption, from nothing.
    await world.undeploy(net, bravo);
    await world.deploy(net, [bravo]);
    const w = ws.bravo!;
    await bravo.api.attach(net.name, w.id, w.ns.path, 'eth0', w.ip);
    const uninterrupted = await dumpNode(bravo);
    t.deepEqual(afterRestart, uninterrupted);
  },
);
