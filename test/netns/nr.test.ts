// src/nr against the real kernel: NetworkResources applies NRs into namespaces it creates, with
// the real `zmesh wgd` (in a simulated node namespace) as WireGuard backend, reads them back,
// applies only differences, and removes them without residue. Checks use ip(8), nft(8) and the
// filesystem besides src/nr's own inspection, so they do not only trust the code under test.
import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { worldFor } from '../harness/ava.js';
import { waitFor } from '../harness/index.js';
import { diffNdmz, diffNr, planNdmz, planNr } from '../../src/nr/index.js';
import {
  buildNetwork,
  initKeys,
  nodeInput,
  withExit,
  withNode,
  withoutNode,
  type TestNetwork,
} from '../unit/nr/fixtures.js';
import { inNetns, namespacesStartingWith, simNode, stepKinds, type SimNode } from './nr-world.js';

test.before(initKeys);

function network(name: string): TestNetwork {
  return buildNetwork(
    name,
    '10.1.0.0/16',
    [
      { id: 'a', hidden: false, host: '198.51.100.11' },
      { id: 'b', hidden: false, host: '198.51.100.12' },
      { id: 'h', hidden: true },
    ],
    { aggregator: 'a' },
  );
}

async function expectConverged(
  t: import('ava').ExecutionContext,
  node: SimNode,
  net: TestNetwork,
  id: string,
): Promise<void> {
  const { resource, ctx } = nodeInput(net, id, { prefix: node.prefix });
  const observed = await node.nr.inspectNr(resource.netId);
  t.deepEqual(diffNr(planNr(resource, ctx), observed), [], 'inspect equals desired');
}

async function ipJson(netns: string, args: string[]): Promise<any[]> {
  return JSON.parse(await inNetns(netns, '/usr/sbin/ip', ['-j', ...args])) as any[];
}

test.serial(
  'applyNr builds ndmz and the NR in a node namespace; what the kernel holds equals the plan; a second apply does nothing',
  async (t) => {
    const w = await worldFor(t);
    const node = await simNode(t, w, 'a');
    const net = network(`nr-${w.prefix}`);
    const { resource, ctx } = nodeInput(net, 'a', { prefix: node.prefix });
    const ns = `${node.prefix}n-${resource.netId}`;

    const first = await node.nr.applyNr(resource, ctx);
    t.true(first.steps.length >= 30, `ndmz and NR built (${first.steps.length} steps)`);
    t.deepEqual(diffNdmz(planNdmz(node.prefix), await node.nr.inspectNdmz()), []);
    await expectConverged(t, node, net, 'a');

    // Independent read-back with ip(8) and nft(8).
    const addresses = (await ipJson(ns, ['-4', 'addr']))
      .flatMap((l) => l.addr_info.map((a: any) => `${l.ifname} ${a.local}/${a.prefixlen}`))
      .sort();
    t.deepEqual(
      addresses,
      [
        'br0 10.1.0.1/24',
        '127.0.0.1/8'.replace(/^/, 'lo '),
        `public 100.127.0.2/16`,
        `w-${resource.netId} 100.64.1.0/16`,
      ].sort(),
    );
    const routes = (await ipJson(ns, ['-4', 'route']))
      .map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`)
      .sort();
    t.deepEqual(
      routes,
      [
        '10.1.0.0/16 dev w-' + resource.netId,
        '10.1.0.0/24 dev br0',
        '100.127.0.0/16 dev public',
        '100.64.0.0/16 dev w-' + resource.netId,
        'default via 100.127.0.1 dev public',
      ].sort(),
    );
    const port = (await ipJson(`${node.prefix}ndmz`, ['link', 'show', `p-${resource.netId}`]))[0];
    t.is(port.master, 'br-nr');
    t.regex(await inNetns(ns, '/usr/sbin/nft', ['list', 'table', 'inet', 'zmesh']), /iifname "public" drop/);
    t.regex(
      await node.ns.exec('nft', ['list', 'table', 'inet', `${node.prefix}zmesh`]).then((r) => r.stdout),
      /oifname "\w+ndmz0" drop/,
    );
    const devices = await node.wgd.list();
    t.deepEqual(
      devices.map((d) => [d.name, d.listenPort, d.peers]),
      [[`w-${resource.netId}`, resource.listenPort, 2]],
    );

    const second = await node.nr.applyNr(resource, ctx);
    t.deepEqual(second.steps, [], 'nothing differs, nothing is done');

    // Drift behind zmesh's back is seen (the table is not just remembered) and repaired.
    await inNetns(ns, '/usr/sbin/nft', ['add', 'rule', 'inet', 'zmesh', 'input', 'accept']);
    const repaired = await node.nr.applyNr(resource, ctx);
    t.deepEqual(
      repaired.steps.map((s) => s.step),
      [`[${ns}] replace-nft-table inet zmesh`],
    );
    await inNetns(`${node.prefix}ndmz`, '/usr/sbin/nft', ['delete', 'table', 'bridge', 'zmesh']);
    t.deepEqual(
      (await node.nr.ensureNdmz()).steps.map((s) => s.step),
      [`[${node.prefix}ndmz] replace-nft-table bridge zmesh`],
    );
    t.deepEqual((await node.nr.applyNr(resource, ctx)).steps, []);
    t.log(
      `first apply ${first.totalMs.toFixed(1)} ms (${first.steps.length} steps), no-op ${second.totalMs.toFixed(1)} ms`,
    );
  },
);

test.serial(
  'changes apply only the difference and leave no old state: peers added/removed, allowed IPs, a moved route, exit on and off',
  async (t) => {
    const w = await worldFor(t);
    const node = await simNode(t, w, 'a');
    let net = network(`nr-${w.prefix}`);
    await node.nr.applyNr(nodeInput(net, 'b', { prefix: node.prefix }).resource, nodeInput(net, 'b').ctx);
    const apply = async (id: string) => {
      const { resource, ctx } = nodeInput(net, id, { prefix: node.prefix });
      return node.nr.applyNr(resource, ctx);
    };
    const netId = nodeInput(net, 'b').resource.netId;
    const ns = `${node.prefix}n-${netId}`;
    const peersOf = async () =>
      (await node.nr.inspectNr(netId)).wireguard!.peers.map((p) => [p.publicKey, [...p.allowedIps].sort()]);

    // A hidden node joins (b's peer a now also carries h2's prefixes) and c joins as a new peer.
    net = withNode(withNode(net, { id: 'h2', hidden: true }), { id: 'c', hidden: false, host: '198.51.100.13' });
    let report = await apply('b');
    t.deepEqual(stepKinds(report), ['configure-wg']);
    await expectConverged(t, node, net, 'b');
    t.is((await peersOf()).length, 2);

    // c leaves: its peer is removed from the device.
    const cKey = net.def.resources.find((r) => r.node === 'c')!.wgPublicKey;
    net = withoutNode(net, 'c');
    report = await apply('b');
    t.deepEqual(stepKinds(report), ['configure-wg']);
    t.false(
      (await peersOf()).some(([key]) => key === cKey),
      'the removed peer is gone from the device',
    );

    // A route moves (hand-edited resource: the range route goes to another prefix).
    const { resource, ctx } = nodeInput(net, 'b', { prefix: node.prefix });
    const moved = { ...resource, routes: [{ destination: '10.9.0.0/16', via: 'mesh' as const }] };
    report = await node.nr.applyNr(moved, ctx);
    t.deepEqual(
      report.steps.map((s) => s.step),
      [`[${ns}] replace-route 10.9.0.0/16 dev w-${netId}`, `[${ns}] remove-route 10.1.0.0/16 dev w-${netId}`],
    );
    const dsts = (await ipJson(ns, ['-4', 'route'])).map((r) => r.dst);
    t.true(dsts.includes('10.9.0.0/16'));
    t.false(dsts.includes('10.1.0.0/16'), 'the old route is gone');
    report = await apply('b');
    t.is(report.steps.length, 2, 'and back');

    // Exit on: b egresses through a; exit off: back through ndmz.
    net = withExit(net, 'a');
    report = await apply('b');
    t.deepEqual(
      report.steps.map((s) => s.step),
      [
        `[${ns}] replace-route 0.0.0.0/0 dev w-${netId}`,
        `configure-wg w-${netId} port ${nodeInput(net, 'b').resource.listenPort} peers 1`,
      ],
    );
    t.deepEqual((await ipJson(ns, ['-4', 'route', 'show', 'default']))[0]?.dev, `w-${netId}`);
    await expectConverged(t, node, net, 'b');
    net = withExit(net, undefined);
    report = await apply('b');
    t.deepEqual(stepKinds(report), ['configure-wg', 'replace-route']);
    t.deepEqual((await ipJson(ns, ['-4', 'route', 'show', 'default']))[0]?.gateway, '100.127.0.1');
    await expectConverged(t, node, net, 'b');
    t.deepEqual((await apply('b')).steps, []);
  },
);

test.serial(
  'removeNr leaves no namespace, ndmz port, nft table, wgd device or UAPI socket; teardownAll leaves nothing with the prefix',
  async (t) => {
    const w = await worldFor(t);
    const node = await simNode(t, w, 'a');
    const one = network(`nr-${w.prefix}-1`);
    const two = network(`nr-${w.prefix}-2`);
    for (const net of [one, two]) {
      const { resource, ctx } = nodeInput(net, 'a', { prefix: node.prefix });
      await node.nr.applyNr(resource, ctx);
    }
    const idOne = nodeInput(one, 'a').resource.netId;
    const idTwo = nodeInput(two, 'a').resource.netId;
    t.deepEqual(node.nr.listNrs(), [idOne, idTwo].sort());
    const socket = path.join(node.uapiDir, `w-${idOne}.sock`);
    t.true(existsSync(socket));

    const removed = await node.nr.removeNr(idOne);
    t.deepEqual(stepKinds(removed), ['delete-link', 'delete-namespace', 'remove-wg-device']);
    t.false(existsSync(`/run/netns/${node.prefix}n-${idOne}`));
    t.false(existsSync(socket), 'UAPI socket removed');
    t.deepEqual(
      (await node.wgd.list()).map((d) => d.name),
      [`w-${idTwo}`],
    );
    // Gone when removeNr returns (the kernel destroys a deleted namespace's links only later).
    t.true(
      (await ipJson(`${node.prefix}ndmz`, ['link'])).every((l) => l.ifname !== `p-${idOne}`),
      'ndmz port of the removed NR gone',
    );
    t.deepEqual(node.nr.listNrs(), [idTwo]);
    t.deepEqual((await node.nr.removeNr(idOne)).steps, [], 'removing again does nothing');

    // A witness veth from the remaining NR to the node: its node end goes only when the kernel
    // destroys the NR namespace, which nothing (no fd held by wgd or by us) may keep alive.
    const witness = w.ifname('wit');
    await inNetns(`${node.prefix}n-${idTwo}`, '/usr/sbin/ip', [
      ...['link', 'add', w.ifname('wiu'), 'type', 'veth'],
      ...['peer', 'name', witness, 'netns', node.ns.name],
    ]);
    await node.nr.teardownAll();
    t.deepEqual(await namespacesStartingWith(node.prefix), []);
    await waitFor(async () => !(await node.ns.exec('ip', ['-j', 'link'])).stdout.includes(witness), {
      what: 'the NR namespace destroyed',
      timeoutMs: 10_000,
    });
    t.deepEqual(await node.wgd.list(), []);
    await waitFor(async () => !(await node.ns.exec('ip', ['-j', 'link'])).stdout.includes(`${node.prefix}ndmz0`), {
      what: 'host veth end gone',
      timeoutMs: 10_000,
    });
    t.notRegex((await node.ns.exec('nft', ['list', 'tables'])).stdout, /zmesh/);
  },
);

test.serial(
  'two NRs on two nodes reach each other through WireGuard: ping between their gateway addresses over the mesh',
  async (t) => {
    const w = await worldFor(t);
    const [a, b] = [await simNode(t, w, 'a'), await simNode(t, w, 'b')];
    await w.link(a.ns, 'uplink', b.ns, 'uplink', { addressA: '198.51.100.11/24', addressB: '198.51.100.12/24' });
    const net = buildNetwork(`mesh-${w.prefix}`, '10.1.0.0/16', [
      { id: 'a', hidden: false, host: '198.51.100.11' },
      { id: 'b', hidden: false, host: '198.51.100.12' },
    ]);
    for (const [node, id] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const { resource, ctx } = nodeInput(net, id, { prefix: node.prefix });
      await node.nr.applyNr(resource, ctx);
    }
    const netId = nodeInput(net, 'a').resource.netId;
    let out: string;
    try {
      out = await inNetns(`${a.prefix}n-${netId}`, '/usr/bin/ping', [
        '-n',
        '-c',
        '3',
        '-i',
        '0.2',
        '-w',
        '10',
        '-I',
        '10.1.0.1',
        '10.1.1.1',
      ]);
    } catch (error) {
      t.log(
        'a:',
        JSON.stringify((await a.nr.inspectNr(netId)).wireguard),
        'b:',
        JSON.stringify((await b.nr.inspectNr(netId)).wireguard),
      );
      t.log(
        await a.ns.exec('ss', ['-Hnua']).then((r) => r.stdout),
        await b.ns.exec('ss', ['-Hnua']).then((r) => r.stdout),
      );
      throw error;
    }
    t.regex(out, /3 packets transmitted, 3 received/);
    const status = (await a.nr.inspectNr(netId)).wireguard!;
    t.not(status.peers[0]!.lastHandshake, null, 'a handshake happened');
    t.true(status.peers[0]!.rxBytes > 0);
  },
);
