// The store agent enqueues only what an admin this node trusts signed: a real 3-member etcd
// cluster written by a compromised store's hand (values changed after signing, unsigned, signed by
// a stranger, this node dropped by a tampered revision, an old revision put back) and by the
// admin (a trust change, then at once the new admin, the change's revision skipped). Each refusal is the node's status with the reason;
// networkd (scripted here) is never asked, and the last good revision stays.
import test from 'ava';
import {
  AdminKey,
  type NetworkDefinition,
  addNode,
  addTrustChange,
  createNetwork,
  keyLabel,
  removeNode,
  signDefinition,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { EtcdStore, parseStoreUrl, type EtcdLocation } from '../../src/store/index.js';
import { waitFor } from '../harness/index.js';
import { initNodes, nodes, rig, statusOf } from './agent-rig.js';

test.before(initNodes);

test('tampered, unsigned, untrusted, dropping and replayed revisions are refused before enqueueing; a trust update lets the new admin sign', async (t) => {
  const { store, start, applied, deletes, cluster, admin: simAdmin, adminKey, sign } = await rig(t);
  const admin = store();
  // The store's own hand: writes whatever it likes, signature fields included.
  const raw = new EtcdStore(parseStoreUrl(cluster.url) as EtcdLocation);
  t.teardown(() => raw.close());
  const first = sign(
    addNode(
      addNode(createNetwork('net', '10.40.0.0/16'), nodes.alpha!.record, sodiumKeySource),
      nodes.bravo!.record,
      sodiumKeySource,
    ),
  );
  await admin.createNetwork(first);
  const agent = await start();
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'applied', {
    what: 'the first apply',
    timeoutMs: 15_000,
  });
  t.deepEqual(applied(), [first.revision]);

  const adminLabel = keyLabel(
    AdminKey.fromBase64((await import('node:fs')).readFileSync(simAdmin.keyFile, 'utf8')).publicKey(),
  );
  const mismatch = `refused: the signature by admin key ${adminLabel} does not match the definition (altered after signing?)`;
  const stranger = AdminKey.generate();
  const bump = (d: NetworkDefinition, extra: object): NetworkDefinition =>
    ({ ...d, ...extra, revision: d.revision + 1 }) as NetworkDefinition;
  const cases: [string, (d: NetworkDefinition) => NetworkDefinition, string][] = [
    [
      'an endpoint redirected',
      (d) =>
        bump(d, {
          resources: d.resources.map((r) => (r.node === 'bravo' ? { ...r, endpoints: ['203.0.113.66:51820'] } : r)),
        }),
      mismatch,
    ],
    ['a peer added', (d) => addNode(d, nodes.charlie!.record, sodiumKeySource), mismatch],
    [
      'a key swapped',
      (d) =>
        bump(d, {
          resources: d.resources.map((r) =>
            r.node === 'bravo' ? { ...r, wgPublicKey: nodes.charlie!.identity.publicKey } : r,
          ),
        }),
      mismatch,
    ],
    ['this node dropped', (d) => removeNode(d, 'alpha'), mismatch],
    [
      'unsigned',
      (d) => (({ signature: _s, ...rest }) => rest)(bump(d, {})) as NetworkDefinition,
      'refused: the definition is not signed (sign it with zmesh --admin-key FILE)',
    ],
    [
      'signed by a stranger',
      (d) => signDefinition(bump(d, {}), stranger),
      `refused: signed by admin key ${keyLabel(stranger.publicKey())}, which this node does not trust`,
    ],
  ];
  for (const [what, tamper, reason] of cases) {
    const { after } = await raw.editNetwork('net', tamper);
    await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === after.revision, {
      what: `the refusal of ${what}`,
      timeoutMs: 15_000,
    });
    const status = await statusOf(admin, 'alpha', 'net');
    t.is(status?.state, 'invalid', what);
    t.is(status?.error, reason, what);
  }
  t.deepEqual(applied(), [first.revision], 'networkd was never asked');
  t.is(deletes(), 0, 'a tampered revision without this node deletes nothing');

  // The admin again: its content, at a higher revision, applies; then one that trusts `next` instead of itself.
  const next = AdminKey.generate();
  const good = (await admin.editNetwork('net', (d) => ({ ...first, revision: d.revision + 1 }) as NetworkDefinition))
    .after;
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'applied', {
    what: 'the good revision',
    timeoutMs: 15_000,
  });
  // The trust change and a revision by the new admin at once, while the agent is away: it sees
  // the latest revision only, which carries the change in its trust log.
  await agent.stop(2_000);
  const rotated = (
    await admin.editNetwork('net', (d) =>
      addTrustChange(d, { add: [next.publicKey()], remove: [d.signature!.key] }, adminKey),
    )
  ).after;
  const byNext = (
    await raw.editNetwork('net', (d) => signDefinition({ ...d, revision: d.revision + 1 } as NetworkDefinition, next))
  ).after;
  await start();
  await waitFor(
    async () =>
      (await statusOf(admin, 'alpha', 'net'))?.revision === byNext.revision &&
      (await statusOf(admin, 'alpha', 'net'))?.state === 'applied',
    {
      what: 'the revision signed by the new admin',
      timeoutMs: 15_000,
    },
  );
  t.deepEqual(applied(), [first.revision, good.revision, byNext.revision], 'the rotation itself was skipped');
  t.is(rotated.revision + 1, byNext.revision);

  // An old, validly signed revision put back by the store: refused as older.
  await raw.createNetwork(good, { replace: true });
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'invalid', {
    what: 'the refusal of the replay',
    timeoutMs: 15_000,
  });
  t.regex((await statusOf(admin, 'alpha', 'net'))?.error ?? '', /refused|older/);
  t.is(applied().length, 3);
});
