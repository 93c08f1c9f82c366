// The file store (file:DIR): today's definition files behind the store interface.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addNode, createNetwork, removeNode, sodiumKeySource } from '../../src/netdef/index.js';
import { FileStore, StoreError, openStore } from '../../src/store/index.js';
import { initKeys, makeNode } from '../unit/netdef/fixtures.js';

test.before(initKeys);

test('file:DIR keeps each network as DIR/<name>.json, edits by revision, and node records under nodes/', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-file-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = openStore(`file:${dir}`);
  t.true(store instanceof FileStore);
  const alpha = makeNode('alpha', false);
  await store.createNetwork(createNetwork('home', '10.3.0.0/16'));
  await t.throwsAsync(store.createNetwork(createNetwork('home', '10.3.0.0/16')), { message: /already exists/ });
  const edit = await store.editNetwork('home', (d) => addNode(d, alpha.record, sodiumKeySource));
  t.is(edit.attempts, 1);
  t.deepEqual(JSON.parse(await readFile(join(dir, 'home.json'), 'utf8')), edit.after);
  t.deepEqual(await store.listNetworks(), ['home']);
  await store.putNodeRecord(alpha.record);
  t.deepEqual(await store.readNodeRecord('alpha'), alpha.record);
  t.is(await store.readNodeRecord('nobody'), null);

  await writeFile(join(dir, 'home.json'), '{"version":1}');
  const error = await t.throwsAsync(store.editNetwork('home', (d) => removeNode(d, 'alpha')));
  t.true(error instanceof StoreError && error.code === 'EBADVALUE');
  t.regex(error!.message, /home\.json: \/: required field "name" is missing|home\.json: \/name/);
  t.is(await readFile(join(dir, 'home.json'), 'utf8'), '{"version":1}');
});

test('store URLs: a clear error for anything but file:DIR and etcd://HOST:PORT,…', (t) => {
  t.throws(() => openStore('http://x:1'), { message: /expected file:DIR or etcd:\/\/HOST:PORT/ });
  t.throws(() => openStore('etcd://x'), { message: /endpoint "x" is not HOST:PORT/ });
  t.throws(() => openStore('etcd://x:1?ca=/a'), { message: /TLS needs all of ca=FILE, cert=FILE and key=FILE/ });
});
