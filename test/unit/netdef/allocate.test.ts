import test from 'ava';
import {
  AllocationError,
  NetdefValidationError,
  ReprovisionError,
  UnknownNodeError,
  UnsealError,
  addNode,
  basePortOf,
  createNetwork,
  openResourceKey,
  removeNode,
  reprovisionNode,
  setAggregator,
  setExit,
  sodiumKeySource,
  unsealKey,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

test.before(async () => {
  await initKeys();
});

test('createNetwork starts at revision 1 with no resources; bad name or range is a validation error', (t) => {
  const def = createNetwork('office', '10.20.0.0/16');
  t.like(def, { version: 1, name: 'office', revision: 1, ipRange: '10.20.0.0/16', resources: [] });
  const error = t.throws(() => createNetwork('office', '100.100.0.0/16'), { instanceOf: NetdefValidationError });
  t.is(error?.issues[0]?.path, '/ipRange');
  t.is(
    t.throws(() => createNetwork('', '10.0.0.0/16'), { instanceOf: NetdefValidationError })?.issues[0]?.path,
    '/name',
  );
});

test('add-node allocates the lowest free /24 and the lowest free port from the network base port', (t) => {
  const def = buildNetwork('office', '10.20.0.0/16', [
    makeNode('a', false),
    makeNode('b', false),
    makeNode('c', false),
  ]);
  const base = basePortOf('office');
  t.deepEqual(
    def.resources.map((r) => [r.subnet, r.listenPort]),
    [
      ['10.20.0.0/24', base],
      ['10.20.1.0/24', base + 1],
      ['10.20.2.0/24', base + 2],
    ],
  );
  t.is(def.revision, 4);
});

test('add-node stores endpoints fully qualified: the listen port fills in a missing port, a given one is kept', (t) => {
  const node = makeNode('a', false);
  const record = {
    ...node.record,
    endpoints: ['198.51.100.7', '[2001:DB8::7]:51820', 'Edge.Example.org'],
  } as typeof node.record;
  const def = addNode(createNetwork('n', '10.0.0.0/16'), record, sodiumKeySource, { listenPort: 40000 });
  t.deepEqual(def.resources[0]!.endpoints, ['198.51.100.7:40000', '[2001:db8::7]:51820', 'edge.example.org:40000']);
});

test('add-node honours --subnet and --listen-port, and rejects taken or outside ones naming the field', (t) => {
  let def = createNetwork('n', '10.0.0.0/16');
  def = addNode(def, makeNode('a', false).record, sodiumKeySource, { subnet: '10.0.9.0/24', listenPort: 51820 });
  t.like(def.resources[0], { subnet: '10.0.9.0/24', listenPort: 51820 });
  const taken = t.throws(() => addNode(def, makeNode('b', false).record, sodiumKeySource, { subnet: '10.0.9.0/24' }), {
    instanceOf: NetdefValidationError,
  });
  t.deepEqual(taken?.issues, [
    { path: '/resources/1/subnet', message: 'subnet 10.0.9.0/24 overlaps /resources/0 (node a)' },
  ]);
  const outside = t.throws(
    () => addNode(def, makeNode('b', false).record, sodiumKeySource, { subnet: '10.1.0.0/24' }),
    { instanceOf: NetdefValidationError },
  );
  t.is(outside?.issues[0]?.message, 'subnet 10.1.0.0/24 is outside ipRange 10.0.0.0/16');
  const clash = t.throws(() => addNode(def, makeNode('b', false).record, sodiumKeySource, { listenPort: 51820 }), {
    instanceOf: NetdefValidationError,
  });
  t.is(clash?.issues[0]?.path, '/resources/1/listenPort');
  t.is(addNode(def, makeNode('b', false).record, sodiumKeySource).resources[1]!.subnet, '10.0.0.0/24');
});

test('add-node of a node already in the network is a duplicate-node error', (t) => {
  const node = makeNode('a', false);
  const def = addNode(createNetwork('n', '10.0.0.0/16'), node.record, sodiumKeySource);
  const error = t.throws(() => addNode(def, node.record, sodiumKeySource), { instanceOf: NetdefValidationError });
  t.true(error?.issues.some((i) => i.path === '/resources/1/node' && i.message.startsWith('duplicate node "a"')));
});

test('a full range is an AllocationError; x.255.255.0/24 is skipped (its wg address is a broadcast)', (t) => {
  let def = createNetwork('tiny', '10.9.255.0/24');
  def = addNode(def, makeNode('a', false).record, sodiumKeySource);
  t.is(
    t.throws(() => addNode(def, makeNode('b', false).record, sodiumKeySource), { instanceOf: AllocationError })?.code,
    'EALLOC',
  );
  const edge = createNetwork('edge', '10.255.255.0/24');
  t.throws(() => addNode(edge, makeNode('a', false).record, sodiumKeySource), { instanceOf: AllocationError });
});

test('a hidden node joining a network without aggregator makes the first public NR the aggregator', (t) => {
  let def = buildNetwork('n', '10.0.0.0/16', [makeNode('a', false), makeNode('b', false)]);
  def = addNode(def, makeNode('h', true).record, sodiumKeySource);
  t.is(def.aggregator, 'a');
  const lonely = t.throws(
    () => addNode(createNetwork('m', '10.0.0.0/16'), makeNode('h', true).record, sodiumKeySource),
    { instanceOf: NetdefValidationError },
  );
  t.is(lonely?.issues[0]?.path, '/aggregator');
});

test('verbs never mutate their input and bump the revision by one', (t) => {
  const def = buildNetwork('n', '10.0.0.0/16', [makeNode('a', false), makeNode('b', false), makeNode('h', true)], 'a');
  const before = JSON.stringify(def);
  const results = [
    addNode(def, makeNode('c', false).record, sodiumKeySource),
    removeNode(def, 'b'),
    setAggregator(def, 'b'),
    setExit(def, 'b'),
  ];
  t.is(JSON.stringify(def), before);
  for (const result of results) t.is(result.revision, def.revision + 1);
});

test('remove-node frees the subnet and port for reuse; unknown nodes, the exit and a needed aggregator are refused', (t) => {
  const def = buildNetwork(
    'n',
    '10.0.0.0/16',
    [makeNode('a', false), makeNode('b', false), makeNode('c', false), makeNode('h', true)],
    'a',
  );
  const removed = removeNode(def, 'b');
  const readded = addNode(removed, makeNode('d', false).record, sodiumKeySource);
  const d = readded.resources.find((r) => r.node === 'd')!;
  const b = def.resources.find((r) => r.node === 'b')!;
  t.deepEqual([d.subnet, d.listenPort], [b.subnet, b.listenPort]);
  t.is(t.throws(() => removeNode(def, 'zulu'), { instanceOf: UnknownNodeError })?.code, 'ENONODE');
  t.regex(
    t.throws(() => removeNode(def, 'a'), { instanceOf: NetdefValidationError })?.issues[0]?.message ?? '',
    /is the aggregator of hidden NRs/,
  );
  t.regex(
    t.throws(() => removeNode(setExit(def, 'c'), 'c'), { instanceOf: NetdefValidationError })?.issues[0]?.message ?? '',
    /is the network's exit/,
  );
  const withoutHidden = buildNetwork('p', '10.0.0.0/16', [makeNode('a', false), makeNode('b', false)], 'a');
  t.is(removeNode(withoutHidden, 'a').aggregator, undefined);
});

test('set-aggregator and set-exit: set, clear, and refuse hidden or unknown nodes', (t) => {
  const def = buildNetwork('n', '10.0.0.0/16', [makeNode('a', false), makeNode('b', false), makeNode('h', true)], 'a');
  t.is(setAggregator(def, 'b').aggregator, 'b');
  t.is(setExit(def, 'b').exit, 'b');
  t.is(setExit(setExit(def, 'b'), undefined).exit, undefined);
  t.is(t.throws(() => setAggregator(def, 'h'), { instanceOf: NetdefValidationError })?.issues[0]?.path, '/aggregator');
  t.is(
    t.throws(() => setAggregator(def, undefined), { instanceOf: NetdefValidationError })?.issues[0]?.path,
    '/aggregator',
  );
  t.regex(
    t.throws(() => setExit(def, 'h'), { instanceOf: NetdefValidationError })?.issues[0]?.message ?? '',
    /hidden exit is refused/,
  );
  t.regex(
    t.throws(() => setExit(def, 'nobody'), { instanceOf: NetdefValidationError })?.issues[0]?.message ?? '',
    /not a member/,
  );
});

test('sealing round trip: only the node identity opens the NR key, and it matches wgPublicKey', (t) => {
  const a = makeNode('a', false);
  const stranger = makeNode('s', false);
  const def = buildNetwork('n', '10.0.0.0/16', [a]);
  const resource = def.resources[0]!;
  const key = openResourceKey(resource, a.identity.privateKey);
  t.is(key.publicKey(), resource.wgPublicKey);
  t.is(String(key), '[PrivateKey redacted]');
  t.false(JSON.stringify({ key }).includes(key.revealBase64()));
  t.is(
    t.throws(() => openResourceKey(resource, stranger.identity.privateKey), { instanceOf: UnsealError })?.code,
    'EUNSEAL',
  );
  t.throws(() => unsealKey(resource.wgPrivateKeySealed, stranger.identity.privateKey), { instanceOf: UnsealError });
});

test('reprovision keeps subnet, port and wg address and re-seals the key to the new identity', (t) => {
  const old = makeNode('a', false);
  const def = buildNetwork('n', '10.0.0.0/16', [makeNode('z', false), old]);
  const reinstalled = makeNode('a', false, '198.51.100.99');
  const next = reprovisionNode(
    def,
    'a',
    reinstalled.record,
    { rotateKey: false, oldIdentity: old.identity.privateKey },
    sodiumKeySource,
  );
  const before = def.resources[1]!;
  const after = next.resources[1]!;
  t.like(after, {
    subnet: before.subnet,
    listenPort: before.listenPort,
    wgPublicKey: before.wgPublicKey,
    identityKey: reinstalled.record.identityKey,
  });
  t.deepEqual(after.endpoints, [`198.51.100.99:${before.listenPort}`]);
  t.is(openResourceKey(after, reinstalled.identity.privateKey).publicKey(), before.wgPublicKey);
  t.throws(() => unsealKey(after.wgPrivateKeySealed, old.identity.privateKey), { instanceOf: UnsealError });
  t.is(next.revision, def.revision + 1);
});

test('reprovision with rotate-key makes a new key pair sealed to the new identity', (t) => {
  const old = makeNode('a', false);
  const def = buildNetwork('n', '10.0.0.0/16', [old]);
  const reinstalled = makeNode('a', false);
  const next = reprovisionNode(def, 'a', reinstalled.record, { rotateKey: true }, sodiumKeySource);
  const after = next.resources[0]!;
  t.not(after.wgPublicKey, def.resources[0]!.wgPublicKey);
  t.is(after.subnet, def.resources[0]!.subnet);
  t.is(openResourceKey(after, reinstalled.identity.privateKey).publicKey(), after.wgPublicKey);
});

test('reprovision refuses: a new identity without the old key, the wrong old key, a record of another node', (t) => {
  const old = makeNode('a', false);
  const def = buildNetwork('n', '10.0.0.0/16', [old]);
  const reinstalled = makeNode('a', false);
  t.is(
    t.throws(() => reprovisionNode(def, 'a', reinstalled.record, { rotateKey: false }, sodiumKeySource), {
      instanceOf: ReprovisionError,
    })?.path,
    '/identityKey',
  );
  t.throws(
    () =>
      reprovisionNode(
        def,
        'a',
        reinstalled.record,
        { rotateKey: false, oldIdentity: reinstalled.identity.privateKey },
        sodiumKeySource,
      ),
    { instanceOf: UnsealError },
  );
  t.regex(
    t.throws(() => reprovisionNode(def, 'a', makeNode('b', false).record, { rotateKey: true }, sodiumKeySource), {
      instanceOf: ReprovisionError,
    })?.message ?? '',
    /for node "b", not "a"/,
  );
  t.throws(() => reprovisionNode(def, 'q', reinstalled.record, { rotateKey: true }, sodiumKeySource), {
    instanceOf: UnknownNodeError,
  });
});
