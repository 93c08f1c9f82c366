// TLS with client certificates and etcd roles, on a real cluster: members speak TLS to each
// other and to clients and require a certificate of the store's CA; the CN is the etcd user. A
// node's certificate reads networks and node records and writes only under nodes/<its id>/.
import { join } from 'node:path';
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { addNode, createNetwork, setExit, sodiumKeySource } from '../../src/netdef/index.js';
import { StoreError, createCa, issueCertificate, metaKey, resourceKey, statusKey } from '../../src/store/index.js';
import { worldFor } from '../harness/ava.js';
import { waitFor } from '../harness/index.js';
import { initNodes, nodes, rig, statusOf } from './agent-rig.js';

test.before(initNodes);

test("a node's certificate reads networks but cannot write another node's status or any network key; its agent works", async (t) => {
  const world = await worldFor(t, { graceMs: 500 });
  const dir = join(world.tempDir(), 'ca');
  await createCa(dir);
  for (const i of [1, 2, 3]) await issueCertificate(dir, { kind: 'member', name: `m${i}`, hosts: ['127.0.0.1'] });
  for (const kind of [
    { kind: 'root' },
    { kind: 'admin' },
    { kind: 'node', id: 'alpha' },
    { kind: 'node', id: 'bravo' },
  ] as const)
    await issueCertificate(dir, kind);
  const { store, start, cluster, applied, sign, zmesh } = await rig(t, {
    world,
    tls: (i) => ({
      caFile: join(dir, 'ca.crt'),
      certFile: join(dir, `member-m${i + 1}.crt`),
      keyFile: join(dir, `member-m${i + 1}.key`),
    }),
  });
  const urlAs = (who: string) =>
    `${cluster.url}?ca=${join(dir, 'ca.crt')}&cert=${join(dir, `${who}.crt`)}&key=${join(dir, `${who}.key`)}`;

  const setup = await zmesh(['store', 'access', '--store', urlAs('root'), '--node', 'alpha', '--node', 'bravo']);
  t.is(setup.status, 0, setup.stderr);

  const admin = store(urlAs('admin'));
  // Each member applies the new users and `auth enable` from the raft log on its own time: a
  // request to one still behind may be refused for a moment.
  await waitFor(
    async () =>
      admin.listNetworks().then(
        () => true,
        () => false,
      ),
    { what: 'the admin user known to every member', timeoutMs: 10_000 },
  );
  const def = sign(
    addNode(
      addNode(createNetwork('net', '10.60.0.0/16'), nodes.alpha!.record, sodiumKeySource),
      nodes.bravo!.record,
      sodiumKeySource,
    ),
  );
  await admin.createNetwork(def);
  await admin.putNodeRecord(nodes.bravo!.record);

  const alpha = store(urlAs('node-alpha'));
  t.deepEqual(await alpha.readNetwork('net'), def);
  t.deepEqual(await alpha.readNodeRecord('bravo'), nodes.bravo!.record);
  await alpha.client.put(statusKey('alpha', 'net')).value('{}').exec();
  const denied = async (what: string, fn: () => Promise<unknown>) => {
    const error = await t.throwsAsync(alpha.call(what, fn), undefined, what);
    t.true(error instanceof StoreError && error.code === 'EDENIED', `${what}: ${String(error)}`);
  };
  await denied("write bravo's status", () => alpha.client.put(statusKey('bravo', 'net')).value('{}').exec());
  await denied('write the network meta', () => alpha.client.put(metaKey('net')).value('{}').exec());
  await denied('write a resource', () => alpha.client.put(resourceKey('net', 'alpha')).value('{}').exec());
  const edit = await t.throwsAsync(alpha.editNetwork('net', (d) => setExit(d, 'alpha')));
  t.true(edit instanceof StoreError && edit.code === 'EDENIED', String(edit));

  // No certificate, no store.
  const anonymous = new Etcd3({ hosts: cluster.endpoints, dialTimeout: 2000 });
  t.teardown(() => anonymous.close());
  await t.throwsAsync(anonymous.get(metaKey('net')).string());

  // The node's agent with its own certificate: applies, reports status and alive.
  await start({ url: urlAs('node-alpha') });
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.state === 'applied', {
    what: 'applied through TLS',
    timeoutMs: 15_000,
  });
  t.deepEqual(applied(), [def.revision]);
});
