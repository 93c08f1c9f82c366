// Service addresses (src/netdef/services.ts, derive.ts): validation, allocation and reuse, and
// the allowed IPs every other NR gets for the owner — through the aggregator for a hidden owner.
import test from 'ava';
import {
  type NetworkDefinition,
  addService,
  moveService,
  parseNetworkDefinition,
  removeService,
  resourceFor,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let def: NetworkDefinition;

test.before(async () => {
  await initKeys();
  // alpha 10.7.0.0/24 (aggregator), bravo 10.7.1.0/24, hid1 10.7.2.0/24 (hidden), hid2 10.7.3.0/24 (hidden)
  def = buildNetwork(
    'svc',
    '10.7.0.0/16',
    [makeNode('alpha', false), makeNode('bravo', false), makeNode('hid1', true), makeNode('hid2', true)],
    'alpha',
  );
});

const allowed = (d: NetworkDefinition, on: string, peer: string) =>
  resourceFor(d, on).peers.find((p) => p.node === peer)?.allowedIps ?? [];

test('a service on a public NR: every other public NR and the aggregator carry its /32 on the owner entry; hidden NRs reach it via the aggregator', (t) => {
  const d = addService(def, { name: 'db', address: '10.7.200.5', node: 'bravo', workload: 'bravo-db' });
  t.true(allowed(d, 'alpha', 'bravo').includes('10.7.200.5/32'));
  t.deepEqual(
    allowed(d, 'hid1', 'alpha'),
    ['10.7.0.0/16', '100.64.0.0/16'],
    "a hidden NR's one entry (the aggregator) covers the range",
  );
  t.deepEqual(resourceFor(d, 'bravo').services, [{ name: 'db', address: '10.7.200.5', workload: 'bravo-db' }]);
  t.is(resourceFor(d, 'alpha').services, undefined);
});

test('a service on a hidden NR: the aggregator entry for it and the other NRs entry for the aggregator carry the /32', (t) => {
  const d = addService(def, { name: 'cam', address: '10.7.200.9', node: 'hid1' });
  t.true(allowed(d, 'alpha', 'hid1').includes('10.7.200.9/32'));
  t.true(allowed(d, 'bravo', 'alpha').includes('10.7.200.9/32'));
  t.false(allowed(d, 'alpha', 'hid2').includes('10.7.200.9/32'));
});

test('move: the /32 leaves the old owner entry and appears on the new one in one revision; no device has it twice', (t) => {
  const d = addService(def, { name: 'db', address: '10.7.200.5', node: 'bravo' });
  const moved = moveService(d, 'db', 'alpha');
  t.is(moved.revision, d.revision + 1);
  t.true(allowed(moved, 'bravo', 'alpha').includes('10.7.200.5/32'));
  for (const node of ['alpha', 'bravo']) {
    const all = resourceFor(moved, node).peers.flatMap((p) => p.allowedIps);
    t.is(all.filter((c) => c === '10.7.200.5/32').length, node === 'alpha' ? 0 : 1, node);
  }
});

test('validation: inside the range, outside every NR subnet, unique name and address, owner a member', (t) => {
  const bad = (services: unknown[]) => {
    const result = parseNetworkDefinition({ ...def, services });
    return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
  };
  t.deepEqual(bad([{ name: 'a', address: '10.8.0.5', node: 'alpha' }]), [
    '/services/0/address: 10.8.0.5 is outside ipRange',
  ]);
  t.deepEqual(bad([{ name: 'a', address: '10.7.1.9', node: 'alpha' }]), [
    "/services/0/address: 10.7.1.9 is inside bravo's subnet: a service address is outside every NR subnet",
  ]);
  t.deepEqual(
    bad([
      { name: 'a', address: '10.7.200.1', node: 'alpha' },
      { name: 'a', address: '10.7.200.1', node: 'ghost' },
    ]),
    [
      '/services/1/name: duplicate service "a" (also /services/0)',
      "/services/1/address: address 10.7.200.1 is also /services/0's",
      '/services/1/node: node "ghost" is not a member of the network',
    ],
  );
});

test('allocation: without an address the highest free one outside the subnets; a removed service address is reused', (t) => {
  const one = addService(def, { name: 'one', node: 'alpha' });
  t.is(one.services?.[0]?.address, '10.7.255.254');
  const two = addService(one, { name: 'two', node: 'bravo' });
  t.is(two.services?.[1]?.address, '10.7.255.253');
  const removed = removeService(two, 'one');
  t.is(addService(removed, { name: 'three', node: 'alpha' }).services?.[1]?.address, '10.7.255.254');
  t.throws(() => removeService(removed, 'one'), { message: /no service "one"/ });
});
