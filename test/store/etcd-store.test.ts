// The etcd store against a real 3-member cluster: the key layout, big networks, compare-and-swap
// edits racing each other, and values that are not what their key says.
import test from 'ava';
import {
  type NetworkDefinition,
  NetdefError,
  addNode,
  assertNetworkDefinition,
  createNetwork,
  generateKeyPair,
  removeNode,
  sealKey,
  setExit,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import type { ComparatorBuilder, Etcd3 } from 'etcd3';
import {
  type EtcdLocation,
  EtcdStore,
  StoreError,
  metaKey,
  networkPrefix,
  parseStoreUrl,
  rangePrefixForTest,
  resourceKey,
} from './store-test-exports.js';
import { initKeys, makeNode } from '../unit/netdef/fixtures.js';
import { etcdFor } from './etcd-fixture.js';

test.before(initKeys);

function ipv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** A valid definition of `count` public NRs in 10.0.0.0/8 (keys generated and sealed for real). */
function bigDefinition(name: string, count: number): NetworkDefinition {
  const resources = Array.from({ length: count }, (_, i) => {
    const identity = generateKeyPair();
    const wg = generateKeyPair();
    return {
      node: `node-${i}`,
      subnet: `${ipv4(((10 << 24) | (i << 8)) >>> 0)}/24`,
      wgPublicKey: wg.publicKey,
      wgPrivateKeySealed: sealKey(wg.privateKey, identity.publicKey),
      listenPort: 20000 + i,
      endpoints: [`${ipv4((0xc6120000 + i) >>> 0)}:${20000 + i}`],
      hidden: false,
      identityKey: identity.publicKey,
    };
  });
  return assertNetworkDefinition({ version: 1, name, revision: 1, ipRange: '10.0.0.0/8', resources, exit: 'node-1' });
}

test('a 5,000-NR network is stored one key per NR, loads back exactly, and a one-NR change writes 2 keys', async (t) => {
  const { store } = await etcdFor(t);
  const etcd = store();
  const def = bigDefinition('big', 5000);
  await etcd.createNetwork(def);

  const { kvs } = await rangePrefixForTest(etcd, networkPrefix('big'));
  t.is(kvs.length, 5001);
  const largest = Math.max(...kvs.map((kv) => kv.value.length));
  t.true(largest < 1024, `largest value ${largest} bytes`);

  const loaded = await store().readNetwork('big');
  t.deepEqual(loaded, def);

  const before = await rangePrefixForTest(etcd, networkPrefix('big'));
  const edit = await etcd.editNetwork('big', (d) => removeNode(d, 'node-4321'));
  t.is(edit.after.revision, 2);
  const after = await rangePrefixForTest(etcd, networkPrefix('big'));
  t.is(after.kvs.length, 5000);
  const rewritten = after.kvs.filter((kv) => Number(kv.mod_revision) > before.revision).map((kv) => kv.key.toString());
  t.deepEqual(rewritten, [metaKey('big')]); // + the deleted NR: 2 keys in one transaction
  t.is(after.revision, before.revision + 1);
  t.deepEqual(await store().readNetwork('big'), edit.after);
});

test('two admins adding nodes at the same moment: both land, with distinct subnets and ports', async (t) => {
  const { store } = await etcdFor(t);
  const [alpha, bravo, charlie] = ['alpha', 'bravo', 'charlie'].map((id) => makeNode(id, false));
  const initial = addNode(createNetwork('race', '10.9.0.0/16'), alpha!.record, sodiumKeySource);
  await store().createNetwork(initial);

  // Both read revision 1 before either writes: exactly one loses and re-applies its verb.
  let waiting = 0;
  let release!: () => void;
  const bothRead = new Promise<void>((r) => (release = r));
  const barrier = async () => {
    if (++waiting === 2) release();
    await bothRead;
  };
  const add = (node: typeof bravo) =>
    store().editNetwork('race', async (d) => {
      await barrier();
      return addNode(d, node!.record, sodiumKeySource);
    });
  const [a, b] = await Promise.all([add(bravo), add(charlie)]);
  t.is(a.attempts + b.attempts, 3);

  const final = (await store().readNetwork('race'))!;
  t.is(final.revision, initial.revision + 2);
  t.deepEqual(final.resources.map((r) => r.node).sort(), ['alpha', 'bravo', 'charlie']);
  t.is(new Set(final.resources.map((r) => r.subnet)).size, 3);
  t.is(new Set(final.resources.map((r) => r.listenPort)).size, 3);
});

type Commit = ComparatorBuilder['commit'];

/** A client whose transactions run `before(send)` in place of a plain send (`send` commits once). */
function clientWrappingCommits(real: Etcd3, before: (send: Commit) => ReturnType<Commit>): Etcd3 {
  const client = Object.create(real) as Etcd3;
  client.if = (...args: Parameters<Etcd3['if']>) => {
    const builder = real.if(...args);
    const send = builder.commit.bind(builder);
    builder.commit = () => before(send);
    return builder;
  };
  return client;
}

/**
 * A client whose first transaction is sent twice, the first answer dropped: what etcd3's default
 * retry policy does when a committed txn's answer is lost (DeadlineExceeded, Unavailable…).
 */
function resendingClient(real: Etcd3): { client: Etcd3; resent: () => number } {
  let resent = 0;
  const client = clientWrappingCommits(real, async (send) => {
    if (resent > 0) return send();
    await send(); // committed, but its answer never reaches the caller
    resent++;
    return send(); // the client's retry: the same txn again
  });
  return { client, resent: () => resent };
}

test('an edit whose committed answer was lost and re-sent succeeds once and applies its verb once', async (t) => {
  const { store, cluster } = await etcdFor(t);
  const etcd = store();
  const [alpha, bravo] = ['alpha', 'bravo'].map((id) => makeNode(id, false));
  const initial = addNode(createNetwork('resend', '10.7.0.0/16'), alpha!.record, sodiumKeySource);
  await etcd.createNetwork(initial);

  const { client, resent } = resendingClient(etcd.client);
  const edit = await new EtcdStore(parseStoreUrl(cluster.url) as EtcdLocation, { client }).editNetwork(
    'resend',
    (d) => addNode(d, bravo!.record, sodiumKeySource), // throws "duplicate node" if re-applied
  );
  t.is(resent(), 1);
  t.is(edit.attempts, 1);
  const final = (await etcd.readNetwork('resend'))!;
  t.is(final.revision, initial.revision + 1);
  t.deepEqual(final.resources.map((r) => r.node).sort(), ['alpha', 'bravo']);
  t.deepEqual(final, edit.after);
});

test('a create whose committed answer was lost and re-sent succeeds; a real lost race is EEXISTS', async (t) => {
  const { store, cluster } = await etcdFor(t);
  const etcd = store();
  const location = parseStoreUrl(cluster.url) as EtcdLocation;
  const alpha = makeNode('alpha', false);
  const def = addNode(createNetwork('born', '10.6.0.0/16'), alpha.record, sodiumKeySource);
  const { client, resent } = resendingClient(etcd.client);
  await new EtcdStore(location, { client }).createNetwork(def);
  t.is(resent(), 1);
  t.deepEqual(await etcd.readNetwork('born'), def);

  // Another writer creates it between this create's read and its write: EEXISTS, theirs kept.
  await etcd.deleteNetwork('born');
  const theirs = setExit(def, 'alpha');
  const racing = clientWrappingCommits(etcd.client, async (send) => {
    await etcd.createNetwork(theirs);
    return send();
  });
  const error = await t.throwsAsync(new EtcdStore(location, { client: racing }).createNetwork(def), {
    instanceOf: StoreError,
  });
  t.is(error?.code, 'EEXISTS');
  t.deepEqual(await etcd.readNetwork('born'), theirs);
});

test('a verb that no longer applies after a lost race fails with its error and writes nothing', async (t) => {
  const { store } = await etcdFor(t);
  const [alpha, bravo] = ['alpha', 'bravo'].map((id) => makeNode(id, false));
  let def = createNetwork('gone', '10.8.0.0/16');
  def = addNode(addNode(def, alpha!.record, sodiumKeySource), bravo!.record, sodiumKeySource);
  await store().createNetwork(def);

  let removed!: () => void;
  const afterRemoval = new Promise<void>((r) => (removed = r));
  const setter = store().editNetwork('gone', async (d) => {
    await afterRemoval; // first attempt read revision 2; the removal lands meanwhile
    return setExit(d, 'bravo');
  });
  await store().editNetwork('gone', (d) => removeNode(d, 'bravo'));
  removed();
  const error = await t.throwsAsync(setter);
  t.true(error instanceof NetdefError, String(error));
  t.regex(error!.message, /exit "bravo" is not a member of the network/);
  const final = (await store().readNetwork('gone'))!;
  t.is(final.revision, def.revision + 1);
  t.is(final.exit, undefined);
});

test('a bad value in the store is refused with an error naming the key, and an edit writes nothing', async (t) => {
  const { store } = await etcdFor(t);
  const alpha = makeNode('alpha', false);
  const etcd = store();
  await etcd.createNetwork(addNode(createNetwork('bad', '10.7.0.0/16'), alpha.record, sodiumKeySource));
  const key = resourceKey('bad', 'alpha');
  const good = (await etcd.client.get(key).string())!;

  // Not JSON.
  await etcd.client.put(key).value('{nope');
  let error = await t.throwsAsync(etcd.readNetwork('bad'));
  t.true(error instanceof StoreError && error.code === 'EBADVALUE');
  t.regex(error!.message, /bad value at \/zmesh\/v1\/networks\/bad\/resources\/alpha: not JSON/);

  // Structurally wrong: the message names the JSON path.
  const wrong = JSON.parse(good) as { resource: { subnet: string } };
  wrong.resource.subnet = '10.7.0.0/33';
  await etcd.client.put(key).value(JSON.stringify(wrong));
  error = await t.throwsAsync(etcd.readNetwork('bad'));
  t.regex(error!.message, /resources\/alpha: \/resource\/subnet: malformed CIDR/);

  // Well-formed but not the NR the meta's digest describes (a hand edit, or tampering).
  const moved = JSON.parse(good) as { resource: { listenPort: number } };
  moved.resource.listenPort += 1;
  await etcd.client.put(key).value(JSON.stringify(moved));
  error = await t.throwsAsync(etcd.readNetwork('bad'));
  t.regex(error!.message, /resource keys do not match its meta/);

  // An edit of a bad network writes nothing.
  const metaBefore = await etcd.client.get(metaKey('bad')).exec();
  await t.throwsAsync(
    etcd.editNetwork('bad', (d) => removeNode(d, 'alpha')),
    { message: /do not match its meta/ },
  );
  const metaAfter = await etcd.client.get(metaKey('bad')).exec();
  t.is(metaAfter.kvs[0]?.mod_revision, metaBefore.kvs[0]?.mod_revision);
  t.is(await etcd.client.get(key).string(), JSON.stringify(moved));
});
