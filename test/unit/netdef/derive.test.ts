import test from 'ava';
import {
  type NetworkDefinition,
  type NodeResource,
  UnknownNodeError,
  resourceFor,
  setExit,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let twoPublic: NetworkDefinition;
let withHidden: NetworkDefinition;

test.before(async () => {
  await initKeys();
  twoPublic = buildNetwork('pair', '10.1.0.0/16', [
    makeNode('a', false, '198.51.100.11'),
    makeNode('b', false, '198.51.100.12'),
  ]);
  withHidden = buildNetwork(
    'demo',
    '10.1.0.0/16',
    [
      makeNode('a', false, '198.51.100.11'),
      makeNode('b', false, 'b.example'),
      makeNode('h1', true),
      makeNode('h2', true),
    ],
    'a',
  );
});

function peersOf(
  resource: NodeResource,
): Record<string, { endpoint: string | null; allowedIps: string[]; keepalive: number | null }> {
  return Object.fromEntries(
    resource.peers.map((p) => [
      p.node,
      { endpoint: p.endpoint, allowedIps: p.allowedIps, keepalive: p.persistentKeepalive },
    ]),
  );
}

function port(def: NetworkDefinition, node: string): number {
  return def.resources.find((r) => r.node === node)!.listenPort;
}

test('two public NRs peer with each other: /24 + wg address, first endpoint, no keepalive', (t) => {
  const a = resourceFor(twoPublic, 'a');
  t.like(a, {
    network: 'pair',
    node: 'a',
    subnet: '10.1.0.0/24',
    gateway: '10.1.0.1',
    wgAddress: '100.64.1.0',
    wgAddressPrefix: 16,
    mtu: 1420,
    hidden: false,
    role: { aggregator: false, exit: false },
    egress: 'ndmz',
  });
  t.deepEqual(a.routes, [{ destination: '10.1.0.0/16', via: 'mesh' }]);
  t.deepEqual(peersOf(a), {
    b: {
      endpoint: `198.51.100.12:${port(twoPublic, 'b')}`,
      allowedIps: ['10.1.1.0/24', '100.64.1.1/32'],
      keepalive: null,
    },
  });
  t.deepEqual(peersOf(resourceFor(twoPublic, 'b')), {
    a: {
      endpoint: `198.51.100.11:${port(twoPublic, 'a')}`,
      allowedIps: ['10.1.0.0/24', '100.64.1.0/32'],
      keepalive: null,
    },
  });
});

test('the resource carries the NR key material and identity of the definition and is JSON-serialisable', (t) => {
  const a = resourceFor(twoPublic, 'a');
  const resource = twoPublic.resources[0]!;
  t.is(a.wgPublicKey, resource.wgPublicKey);
  t.is(a.wgPrivateKeySealed, resource.wgPrivateKeySealed);
  t.is(a.listenPort, resource.listenPort);
  t.is(a.revision, twoPublic.revision);
  t.regex(a.netId, /^[a-z2-7]{8}$/);
  t.deepEqual(JSON.parse(JSON.stringify(a)), a);
});

test('a hidden NR peers only with the aggregator: whole range + 100.64.0.0/16, keepalive 25', (t) => {
  const h1 = resourceFor(withHidden, 'h1');
  t.deepEqual(peersOf(h1), {
    a: {
      endpoint: `198.51.100.11:${port(withHidden, 'a')}`,
      allowedIps: ['10.1.0.0/16', '100.64.0.0/16'],
      keepalive: 25,
    },
  });
  t.is(h1.subnet, '10.1.2.0/24');
  t.is(h1.wgAddress, '100.64.1.2');
  t.deepEqual(h1.routes, [{ destination: '10.1.0.0/16', via: 'mesh' }]);
});

test('the aggregator has hidden NRs as endpoint-less peers with their /24 and wg address', (t) => {
  const a = resourceFor(withHidden, 'a');
  t.deepEqual(a.role, { aggregator: true, exit: false });
  t.deepEqual(peersOf(a), {
    b: {
      endpoint: `b.example:${port(withHidden, 'b')}`,
      allowedIps: ['10.1.1.0/24', '100.64.1.1/32'],
      keepalive: null,
    },
    h1: { endpoint: null, allowedIps: ['10.1.2.0/24', '100.64.1.2/32'], keepalive: null },
    h2: { endpoint: null, allowedIps: ['10.1.3.0/24', '100.64.1.3/32'], keepalive: null },
  });
});

test('another public NR reaches hidden NRs through the aggregator entry (one relay hop)', (t) => {
  t.deepEqual(peersOf(resourceFor(withHidden, 'b')), {
    a: {
      endpoint: `198.51.100.11:${port(withHidden, 'a')}`,
      allowedIps: ['10.1.0.0/24', '10.1.2.0/24', '10.1.3.0/24', '100.64.1.0/32', '100.64.1.2/32', '100.64.1.3/32'],
      keepalive: null,
    },
  });
});

test('with an exit: its entry is 0.0.0.0/0, the others route default into the mesh, the exit egresses via ndmz', (t) => {
  const def = setExit(withHidden, 'b');
  const a = resourceFor(def, 'a');
  t.deepEqual(peersOf(a).b?.allowedIps, ['0.0.0.0/0']);
  t.deepEqual(a.routes, [
    { destination: '10.1.0.0/16', via: 'mesh' },
    { destination: '0.0.0.0/0', via: 'mesh' },
  ]);
  t.is(a.egress, 'mesh');
  const b = resourceFor(def, 'b');
  t.deepEqual(b.role, { aggregator: false, exit: true });
  t.is(b.egress, 'ndmz');
  t.deepEqual(b.routes, [{ destination: '10.1.0.0/16', via: 'mesh' }]);
  // The exit relays hidden traffic back through the aggregator.
  t.deepEqual(peersOf(b).a?.allowedIps, [
    '10.1.0.0/24',
    '10.1.2.0/24',
    '10.1.3.0/24',
    '100.64.1.0/32',
    '100.64.1.2/32',
    '100.64.1.3/32',
  ]);
  const h1 = resourceFor(def, 'h1');
  t.deepEqual(peersOf(h1), {
    a: { endpoint: `198.51.100.11:${port(def, 'a')}`, allowedIps: ['0.0.0.0/0'], keepalive: 25 },
  });
  t.is(h1.egress, 'mesh');
});

test('aggregator = exit: public NRs send 0.0.0.0/0 (covering hidden /24s) to it; it egresses itself', (t) => {
  const def = setExit(withHidden, 'a');
  t.deepEqual(peersOf(resourceFor(def, 'b')).a?.allowedIps, ['0.0.0.0/0']);
  const a = resourceFor(def, 'a');
  t.is(a.egress, 'ndmz');
  t.deepEqual(a.role, { aggregator: true, exit: true });
  t.false(a.peers.some((p) => p.allowedIps.includes('0.0.0.0/0')));
  t.deepEqual(peersOf(resourceFor(def, 'h2')).a?.allowedIps, ['0.0.0.0/0']);
});

test('resourceFor of a node outside the network throws UnknownNodeError (ENONODE)', (t) => {
  const error = t.throws(() => resourceFor(twoPublic, 'zulu'), { instanceOf: UnknownNodeError });
  t.is(error?.code, 'ENONODE');
  t.is(error?.message, 'node "zulu" is not a member of network "pair"');
});
