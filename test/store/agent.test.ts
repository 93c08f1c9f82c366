// provisiond as the store's agent, against a real 3-member etcd cluster and a scripted networkd:
// it lists and watches, queues apply/delete for the networks its node is (or was) in, reports
// status and alive, resumes after being offline past a compaction, and does nothing while the
// store is down.
import test from 'ava';
import { addNode, createNetwork, removeNode, setExit, sodiumKeySource } from '../../src/netdef/index.js';
import { aliveKey } from '../../src/store/index.js';
import { waitFor } from '../harness/index.js';
import { initNodes, nodes, rig, statusOf } from './agent-rig.js';

test.before(initNodes);

test('the agent applies each revision of its networks, reports status and alive, and deletes when its node leaves', async (t) => {
  const { store, start, applied, deletes, cluster, zmesh } = await rig(t);
  const admin = store();
  let def = addNode(
    addNode(createNetwork('net', '10.30.0.0/16'), nodes.alpha!.record, sodiumKeySource),
    nodes.bravo!.record,
    sodiumKeySource,
  );
  await admin.createNetwork(def);
  await admin.createNetwork(addNode(createNetwork('elsewhere', '10.31.0.0/16'), nodes.bravo!.record, sodiumKeySource));
  await start();

  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === def.revision, {
    what: 'status of the first apply',
    timeoutMs: 15_000,
  });
  t.deepEqual(applied(), [def.revision]);
  t.is((await statusOf(admin, 'alpha', 'net'))?.state, 'applied');
  t.is(await statusOf(admin, 'alpha', 'elsewhere'), null); // not a member: nothing queued
  const alive = await admin.client.get(aliveKey('alpha')).exec();
  t.not(alive.kvs[0]?.lease, '0');

  // The operator's view: alpha applied; bravo (no agent running) is not alive and does not block --wait.
  const shown = await zmesh(['net', 'status', 'net', '--store', cluster.url, '--wait', '--timeout', '20']);
  t.is(shown.status, 0, shown.stderr);
  t.regex(shown.stdout, new RegExp(`alpha +yes \\(since \\d+ s\\) +${def.revision} +applied`));
  t.regex(shown.stdout, /bravo +no +- +-/);
  t.regex(shown.stdout, new RegExp(`1/2 nodes at revision ${def.revision}; bravo not alive \\(never reported\\)`));

  def = (await admin.editNetwork('net', (d) => setExit(d, 'bravo'))).after;
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === def.revision, {
    what: 'status of set-exit',
    timeoutMs: 15_000,
  });
  t.deepEqual(applied(), [def.revision - 1, def.revision]);

  def = (await admin.editNetwork('net', (d) => removeNode(d, 'alpha'))).after;
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'deleted', {
    what: 'status of the delete',
    timeoutMs: 15_000,
  });
  t.is(deletes(), 1);
  t.is(applied().length, 2);
});

test('offline while changes are made and the store is compacted past its revision: on restart it re-lists and ends at the latest state', async (t) => {
  const { store, start, applied, deletes, logs } = await rig(t);
  const admin = store();
  let def = addNode(createNetwork('net', '10.32.0.0/16'), nodes.alpha!.record, sodiumKeySource);
  await admin.createNetwork(def);
  await admin.createNetwork(addNode(createNetwork('doomed', '10.33.0.0/16'), nodes.alpha!.record, sodiumKeySource));
  let daemon = await start();
  await waitFor(
    async () =>
      (await statusOf(admin, 'alpha', 'doomed'))?.state === 'applied' &&
      (await statusOf(admin, 'alpha', 'net'))?.state === 'applied',
    {
      what: 'both networks applied',
      timeoutMs: 15_000,
    },
  );
  const cursorBefore = daemon.agent!.cursor;
  await daemon.stop(1000);

  // While it is away: three edits (one adds and one removes another node), a deletion, a compaction.
  def = (await admin.editNetwork('net', (d) => addNode(d, nodes.bravo!.record, sodiumKeySource))).after;
  def = (await admin.editNetwork('net', (d) => addNode(d, nodes.charlie!.record, sodiumKeySource))).after;
  def = (await admin.editNetwork('net', (d) => removeNode(d, 'bravo'))).after;
  await admin.deleteNetwork('doomed');
  const head = await admin.client.get('/zmesh/v1/').exec();
  await admin.client.kv.compact({ revision: head.header.revision, physical: true });
  t.true(Number(head.header.revision) > cursorBefore);

  const before = applied().length;
  daemon = await start();
  await waitFor(
    async () =>
      (await statusOf(admin, 'alpha', 'net'))?.revision === def.revision &&
      (await statusOf(admin, 'alpha', 'doomed'))?.state === 'deleted',
    {
      what: 'the latest state',
      timeoutMs: 15_000,
    },
  );
  t.deepEqual(applied().slice(before), [def.revision]); // only the latest revision, once
  t.is(deletes(), 1);
  t.false(logs.some((l) => /refused/.test(l)));
});

test('the store down changes nothing: no task is queued, one log line, and it resumes when the members return', async (t) => {
  const { store, start, applied, logs, cluster } = await rig(t);
  const admin = store();
  const def = addNode(createNetwork('net', '10.34.0.0/16'), nodes.alpha!.record, sodiumKeySource);
  await admin.createNetwork(def);
  const daemon = await start();
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'applied', {
    what: 'applied',
    timeoutMs: 15_000,
  });
  const tasks = daemon.queue.list().length;

  for (const i of [0, 1, 2]) await cluster.kill(i);
  await waitFor(() => logs.some((l) => /store unreachable/.test(l)), { what: 'the outage logged', timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 1500)); // several retries
  t.is(logs.filter((l) => /store unreachable/.test(l)).length, 1);
  t.is(daemon.queue.list().length, tasks);
  t.deepEqual(applied(), [def.revision]);

  await Promise.all([0, 1, 2].map((i) => cluster.restart(i)));
  const next = (await admin.editNetwork('net', (d) => addNode(d, nodes.bravo!.record, sodiumKeySource))).after;
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === next.revision, {
    what: 'the edit after the outage',
    timeoutMs: 30_000,
  });
  t.deepEqual(applied(), [def.revision, next.revision]);
  t.true(logs.some((l) => /store reachable again|watch ended/.test(l)));
});
