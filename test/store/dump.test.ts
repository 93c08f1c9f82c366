// zmesh store export/import against a real cluster with an agent running: a wiped cluster
// restored from its export makes no node apply anything; an older backup is refused by the node
// (never rolled back) until the operator rolls back on purpose; a file: store migrates to etcd.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addNode, createNetwork, setExit, sodiumKeySource } from '../../src/netdef/index.js';
import { metaKey } from '../../src/store/index.js';
import { waitFor } from '../harness/index.js';
import { initNodes, nodes, rig, statusOf } from './agent-rig.js';

test.before(initNodes);

async function scratch(t: Parameters<typeof rig>[0]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-dump-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('export, wipe the cluster, import: the agent applies and deletes nothing; importing again writes nothing', async (t) => {
  const { store, start, applied, deletes, cluster, logs, sign, zmesh } = await rig(t);
  const dir = await scratch(t);
  const admin = store();
  const def = sign(
    addNode(
      addNode(createNetwork('net', '10.50.0.0/16'), nodes.alpha!.record, sodiumKeySource),
      nodes.bravo!.record,
      sodiumKeySource,
    ),
  );
  await admin.createNetwork(def);
  await admin.putNodeRecord(nodes.alpha!.record);
  await start();
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'applied', {
    what: 'applied',
    timeoutMs: 15_000,
  });

  const file = join(dir, 'backup.json');
  const exported = await zmesh(['store', 'export', '--store', cluster.url, file]);
  t.is(exported.status, 0, exported.stderr);
  t.regex(exported.stdout, /exported 1 network\(s\) and 1 node record\(s\) from etcd:\/\/.* at revision \d+/);
  const dump = JSON.parse(await readFile(file, 'utf8')) as { format: string; version: number; networks: unknown[] };
  t.is(dump.format, 'zmesh-store-dump');
  t.is(dump.version, 1);

  await cluster.wipe();
  t.is(await admin.readNetwork('net').catch(() => null), null);
  const imported = await zmesh(['store', 'import', '--store', cluster.url, file]);
  t.is(imported.status, 0, imported.stderr);
  t.regex(imported.stdout, /1 network\(s\) written \(net\), 0 unchanged, 1 node record\(s\)/);
  t.deepEqual(await admin.readNetwork('net'), def);

  // The agent finds the store replaced, re-lists, and has nothing to do.
  await waitFor(() => logs.some((l) => /replaced or restored/.test(l)), {
    what: 'the agent noticed the new store',
    timeoutMs: 20_000,
  });
  await new Promise((r) => setTimeout(r, 1500));
  t.deepEqual(applied(), [def.revision]);
  t.is(deletes(), 0);

  const metaBefore = (await admin.client.get(metaKey('net')).exec()).kvs[0]?.mod_revision;
  const again = await zmesh(['store', 'import', '--store', cluster.url, file]);
  t.regex(again.stdout, /0 network\(s\) written, 1 unchanged/);
  t.is((await admin.client.get(metaKey('net')).exec()).kvs[0]?.mod_revision, metaBefore);
});

test('an older backup restored is refused by the node and shown by net status; --revision-above rolls back on purpose', async (t) => {
  const { store, start, applied, cluster, zmesh } = await rig(t);
  const dir = await scratch(t);
  const admin = store();
  const def = addNode(
    addNode(createNetwork('net', '10.51.0.0/16'), nodes.alpha!.record, sodiumKeySource),
    nodes.bravo!.record,
    sodiumKeySource,
  );
  await admin.createNetwork(def);
  const file = join(dir, 'old.json');
  t.is((await zmesh(['store', 'export', '--store', cluster.url, file])).status, 0);
  const newer = (await admin.editNetwork('net', (d) => setExit(d, 'bravo'))).after;
  await start();
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === newer.revision, {
    what: 'newer applied',
    timeoutMs: 15_000,
  });

  t.is((await zmesh(['store', 'import', '--store', cluster.url, file])).status, 0);
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'invalid', {
    what: 'the refusal reported',
    timeoutMs: 15_000,
  });
  const status = await zmesh(['net', 'status', 'net', '--store', cluster.url]);
  t.regex(status.stdout, new RegExp(`alpha .*invalid .*older than revision ${newer.revision} this node applied`));
  t.deepEqual(applied(), [newer.revision]);

  const rollback = await zmesh([
    'store',
    'import',
    '--store',
    cluster.url,
    file,
    '--revision-above',
    String(newer.revision),
  ]);
  t.regex(rollback.stdout, /1 network\(s\) written \(net\)/);
  await waitFor(
    async () => {
      const s = await statusOf(admin, 'alpha', 'net');
      return s?.revision === newer.revision + 1 && s.state === 'applied';
    },
    {
      what: 'rollback applied',
      timeoutMs: 15_000,
    },
  );
  t.is((await admin.readNetwork('net'))?.exit, undefined);
  t.deepEqual(applied(), [newer.revision, newer.revision + 1]);
});

test('a file: store migrates to etcd:// through export/import, definitions and records unchanged', async (t) => {
  const { store, cluster, zmesh } = await rig(t);
  const dir = await scratch(t);
  const url = `file:${join(dir, 'defs')}`;
  const record = join(dir, 'alpha.json');
  await writeFile(record, JSON.stringify(nodes.alpha!.record));
  t.is((await zmesh(['net', 'create', 'home', '--ip-range', '10.52.0.0/16', '--store', url])).status, 0);
  t.is((await zmesh(['net', 'add-node', 'home', '--node-record', record, '--store', url])).status, 0);
  const file = join(dir, 'migrate.json');
  t.regex((await zmesh(['store', 'export', '--store', url, file])).stdout, /exported 1 network\(s\) .* at revision 0/);
  t.is((await zmesh(['store', 'import', '--store', cluster.url, file])).status, 0);
  const fromFile = JSON.parse(await readFile(join(dir, 'defs', 'home.json'), 'utf8')) as unknown;
  t.deepEqual(await store().readNetwork('home'), fromFile);
});
