import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { netIdOf } from '../../../src/netdef/index.js';
import { NetworkdError } from '../../../src/networkd/errors.js';
import { Store, type StoredNetwork, withForgotten } from '../../../src/networkd/store.js';
import { buildNetwork, initKeys, makeNode } from '../netdef/fixtures.js';

test.before(initKeys);

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'networkd-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function network(name: string, revision = 1): StoredNetwork {
  const def = buildNetwork(name, '10.9.0.0/16', [makeNode('alpha', false)]);
  const definition = { ...def, revision } as typeof def;
  return {
    name,
    netId: netIdOf(name),
    definition,
    publicAddress: '100.127.0.2',
    resolved: { 'a.example': '203.0.113.1' },
  };
}

test('networks and workloads written to the store are read back after a restart, files 0600 in a 0700 dir', async (t) => {
  const dir = join(await tempDir(t), 'networkd');
  const store = Store.open(dir);
  await store.putNetwork(network('blue'));
  await store.putWorkloads({
    network: 'blue',
    workloads: {
      w1: {
        workload: 'w1',
        netns: '/run/netns/x',
        ifname: 'eth0',
        ip: '10.9.0.2',
        link: 'wl-abcdef',
        owner: { kind: 'api' },
        netnsIdentity: { dev: '4', ino: '4026532000', processStart: null },
      },
      w2: {
        workload: 'w2',
        netns: '/run/netns/y',
        ifname: 'eth0',
        ip: '10.9.0.3',
        link: 'wl-abcde0',
        owner: { kind: 'cni', containerId: 'c0ffee' },
        netnsIdentity: null,
      },
    },
    forgotten: [],
  });
  const reopened = Store.open(dir);
  t.deepEqual(reopened.network('blue'), store.network('blue'));
  t.deepEqual(reopened.workloads('blue'), store.workloads('blue'));
  t.is((await stat(join(dir, 'networks', 'blue.json'))).mode & 0o777, 0o600);
  t.is((await stat(dir)).mode & 0o777, 0o700);
  const text = await readFile(join(dir, 'networks', 'blue.json'), 'utf8');
  t.false(/"(privateKey|wgPrivateKey|private_key)"/.test(text), 'only the sealed key is stored');
});

test('a crash between the temporary file and the rename leaves the old file, and the leftover is swept at open', async (t) => {
  const dir = join(await tempDir(t), 'networkd');
  const store = Store.open(dir);
  await store.putNetwork(network('blue', 1));
  const before = await readFile(join(dir, 'networks', 'blue.json'), 'utf8');
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('fixtures/crash-mid-write.ts', import.meta.url)), dir, 'blue', '2'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  t.is(child.signal, 'SIGKILL', child.stderr);
  const files = await readdir(join(dir, 'networks'));
  t.true(
    files.some((f) => f.endsWith('.tmp')),
    'the crash left its complete temporary file behind',
  );
  t.is(await readFile(join(dir, 'networks', 'blue.json'), 'utf8'), before);
  const reopened = Store.open(dir);
  t.is(reopened.network('blue')?.definition.revision, 1);
  t.deepEqual(await readdir(join(dir, 'networks')), ['blue.json']);
});

test('removing a network removes its workloads too; an orphaned workloads file is swept at open', async (t) => {
  const dir = join(await tempDir(t), 'networkd');
  const store = Store.open(dir);
  await store.putNetwork(network('blue'));
  await store.putWorkloads({ network: 'blue', workloads: {}, forgotten: [] });
  await store.removeNetwork('blue');
  t.is(store.network('blue'), undefined);
  t.deepEqual(await readdir(join(dir, 'workloads')), []);
  await writeFile(
    join(dir, 'workloads', 'gone.json'),
    JSON.stringify({ version: 1, network: 'gone', workloads: {}, forgotten: [] }),
  );
  Store.open(dir);
  t.deepEqual(await readdir(join(dir, 'workloads')), []);
});

test('an unusable state file stops the open with an error naming the file', async (t) => {
  const dir = join(await tempDir(t), 'networkd');
  Store.open(dir);
  await writeFile(join(dir, 'networks', 'blue.json'), '{"version":1,"definition":{"name":"blue"}');
  const error = t.throws(() => Store.open(dir), { instanceOf: NetworkdError });
  t.regex(error?.message ?? '', /networks\/blue\.json is unusable: not JSON/);
  await writeFile(
    join(dir, 'networks', 'blue.json'),
    JSON.stringify({ version: 1, definition: { name: 'blue' }, publicAddress: '100.127.0.2' }),
  );
  t.regex(t.throws(() => Store.open(dir))?.message ?? '', /definition invalid/);
});

test('forgotten workloads leave the attached set and are remembered, newest 32 only', (t) => {
  let state = {
    network: 'n',
    workloads: {
      a: {
        workload: 'a',
        netns: '/x',
        ifname: 'eth0',
        ip: '10.0.0.2',
        link: 'wl-000000',
        owner: { kind: 'api' as const },
        netnsIdentity: null,
      },
    },
    forgotten: [] as { workload: string; reason: string; at: string }[],
  };
  state = withForgotten(state, { workload: 'a', reason: 'netns gone', at: 'now' }) as typeof state;
  t.deepEqual(state.workloads, {});
  t.is(state.forgotten[0]?.reason, 'netns gone');
  for (let i = 0; i < 40; i++)
    state = withForgotten(state, { workload: `w${i}`, reason: 'r', at: 'now' }) as typeof state;
  t.is(state.forgotten.length, 32);
  t.is(state.forgotten.at(-1)?.workload, 'w39');
});
