// Access control against the real kernel: three NRs on three simulated nodes (a and b public, h
// hidden behind the aggregator a), a workload in each, real WireGuard through `zmesh wgd`. For a
// sample of flows (TCP, UDP, ICMP; one-way associations tried in both directions; b ↔ h through
// the aggregator's relay hop) what really passes equals `explainFlow`'s verdict. And a source NR
// that enforces nothing cannot open what the destination NR refuses.
import test from 'ava';
import { type Flow, type NetworkDefinition, explainFlow, parseNetworkDefinition } from '../../src/netdef/index.js';
import { worldFor } from '../harness/ava.js';
import { type Namespace, waitFor } from '../harness/index.js';
import { buildNetwork, initKeys, nodeInput, type TestNetwork } from '../unit/nr/fixtures.js';
import { simNode, type SimNode } from './nr-world.js';
import { PROBE, expectTrafficMatchesExplain, passes, probeWorkload } from './access-flows.js';

test.before(initKeys);

test.serial(
  'real traffic between workloads of three NRs (one relayed by the aggregator) matches explain, in both directions',
  async (t) => {
    const w = await worldFor(t);
    const [a, b, h] = [await simNode(t, w, 'a'), await simNode(t, w, 'b'), await simNode(t, w, 'h')];
    await w.link(a.ns, 'uplink', b.ns, 'uplink', { addressA: '198.51.100.11/24', addressB: '198.51.100.12/24' });
    await w.link(a.ns, 'hlink', h.ns, 'uplink', { addressA: '203.0.113.1/24', addressB: '203.0.113.2/24' });
    await h.ns.addRoute('default', { via: '203.0.113.1' });
    const plain = buildNetwork(
      `acl-${w.prefix}`,
      '10.1.0.0/16',
      [
        { id: 'a', hidden: false, host: '198.51.100.11' },
        { id: 'b', hidden: false, host: '198.51.100.12' },
        { id: 'h', hidden: true },
      ],
      { aggregator: 'a' },
    );
    // a 10.1.0.0/24, b 10.1.1.0/24, h 10.1.2.0/24
    const parsed = parseNetworkDefinition({
      ...plain.def,
      groups: [
        { name: 'ga', cidrs: ['10.1.0.0/24'] },
        { name: 'gb', cidrs: ['10.1.1.0/24'] },
        { name: 'gh', cidrs: ['10.1.2.0/24'] },
      ],
      associations: [
        { from: 'ga', to: 'gb', protocol: 'tcp', ports: ['8080'] },
        { from: 'gb', to: 'gh', protocol: 'udp', ports: ['5353'] },
        { from: 'gh', to: 'ga', protocol: 'icmp' },
      ],
    });
    if (!parsed.ok) return t.fail(JSON.stringify(parsed.errors));
    const net: TestNetwork = { def: parsed.value, identities: plain.identities };
    const apply = async (node: SimNode, id: string, def: NetworkDefinition) => {
      const { resource, ctx } = nodeInput({ def, identities: net.identities }, id, { prefix: node.prefix });
      await node.nr.applyNr(resource, ctx);
      return resource.netId;
    };
    const netId = await apply(a, 'a', net.def);
    await apply(b, 'b', net.def);
    await apply(h, 'h', net.def);
    const workloads: Record<string, { ns: Namespace; ip: string }> = {};
    for (const [node, id, third] of [
      [a, 'a', 0],
      [b, 'b', 1],
      [h, 'h', 2],
    ] as const)
      workloads[id] = await probeWorkload(w, node, netId, id, third, [8080, 9090, 5353]);
    // Handshakes first (the hidden NR dials in): an allowed flow, retried until the tunnel is up.
    const warm: Flow = { from: workloads['h']!.ip, to: workloads['a']!.ip, protocol: 'icmp' };
    let up = false;
    for (let i = 0; i < 20 && !up; i++) up = await passes(workloads['h']!.ns, warm);
    t.true(up, 'h reaches a by the allowed icmp association once the tunnels are up');

    const samples: [string, string, Flow['protocol'], number?][] = [
      ['a', 'b', 'tcp', 8080],
      ['a', 'b', 'tcp', 9090],
      ['b', 'a', 'tcp', 8080],
      ['a', 'b', 'icmp'],
      ['b', 'h', 'udp', 5353],
      ['h', 'b', 'udp', 5353],
      ['b', 'h', 'tcp', 8080],
      ['h', 'a', 'icmp'],
      ['a', 'h', 'icmp'],
      ['b', 'h', 'udp', 9090],
    ];
    const verdicts = await expectTrafficMatchesExplain(
      t,
      net.def,
      samples.map(([from, to, protocol, port]): [Namespace, Flow] => [
        workloads[from]!.ns,
        { from: workloads[from]!.ip, to: workloads[to]!.ip, protocol, ...(port ? { port } : {}) },
      ]),
    );
    t.deepEqual(
      verdicts,
      [true, false, false, false, true, false, false, true, false, false],
      'the sample has both verdicts',
    );

    // A change cuts an established flow it now denies (h -> a ping) while an allowed one (a -> b
    // TCP) keeps flowing.
    const held = workloads['a']!.ns.spawn('node', [PROBE, 'hold', workloads['b']!.ip, '8080']);
    const pinging = workloads['h']!.ns.spawn('ping', ['-n', '-i', '0.2', workloads['a']!.ip]);
    const count = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line)).length;
    const echoes = () => count(held.stdout, /^echo /);
    const replies = () => count(pinging.stdout, /bytes from/);
    await waitFor(() => echoes() >= 3 && replies() >= 3, {
      what: 'the held TCP connection and the ping to flow',
      timeoutMs: 10_000,
    });
    const parsedChange = parseNetworkDefinition({
      ...net.def,
      revision: net.def.revision + 1,
      associations: net.def.associations!.slice(0, 2),
    });
    if (!parsedChange.ok) return t.fail(JSON.stringify(parsedChange.errors));
    const changed = parsedChange.value;
    for (const [node, id] of [
      [a, 'a'],
      [b, 'b'],
      [h, 'h'],
    ] as const)
      await apply(node, id, changed);
    await new Promise((resolve) => setTimeout(resolve, 300)); // packets in flight during the change
    const [echoesAfterChange, repliesAfterChange] = [echoes(), replies()];
    await new Promise((resolve) => setTimeout(resolve, 1500));
    t.true(
      echoes() >= echoesAfterChange + 5,
      `the allowed TCP connection kept flowing (${echoesAfterChange} -> ${echoes()} echoes)`,
    );
    t.is(replies(), repliesAfterChange, 'the denied ping was cut: no reply after the change');
    t.false(explainFlow(changed, { from: workloads['h']!.ip, to: workloads['a']!.ip, protocol: 'icmp' }).allow);
    await held.stop();
    await pinging.stop();

    // b stops enforcing (its own table opens everything): a still refuses what the policy denies.
    await apply(a, 'a', net.def);
    await apply(h, 'h', net.def);
    await apply(b, 'b', plain.def);
    const refused: Flow = { from: workloads['b']!.ip, to: workloads['a']!.ip, protocol: 'tcp', port: 8080 };
    t.false(explainFlow(net.def, refused).allow);
    t.false(await passes(workloads['b']!.ns, refused), 'the destination NR drops what the source NR let out');
    t.true(explainFlow(plain.def, refused).allow, "b's own definition (no associations) would allow it");
  },
);
