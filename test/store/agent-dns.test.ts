// The agent given the store by host names, resolved for real: getaddrinfo (getent hosts, the
// same libc call node:dns lookup makes in the daemon's resolver) run inside this run's namespace,
// where `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts. The test edits that
// private hosts file: names present, names gone (the agent keeps the last good addresses), names
// moved (the agent follows). getent, not a node process per lookup: under CI load a node start
// outlasted the resolver's 2 s bound, and the timeout read as a failed resolution.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { addNode, createNetwork, setExit, sodiumKeySource } from '../../src/netdef/index.js';
import type { HostResolver } from '../../src/networkd/endpoint-resolver.js';
import { waitFor } from '../harness/index.js';
import { initNodes, nodes, rig, statusOf } from './agent-rig.js';

test.before(initNodes);

test('store endpoints by host name: resolved, kept when resolution fails, followed when they move', async (t) => {
  const { store, start, applied, cluster, world, logs } = await rig(t);
  const ns = await world.namespace('dns');
  const dir = `/etc/netns/${ns.name}`;
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.hosts.new`, { force: true });
  });
  mkdirSync(dir, { recursive: true });
  const names = cluster.members.map((_, i) => `store${i + 1}.zmesh.test`);
  // Written whole beside the directory (ip netns exec would bind every file in it) and renamed into
  // place: a lookup never reads a half-written file.
  const hosts = (address: string | null) => {
    writeFileSync(
      `${dir}.hosts.new`,
      `127.0.0.1 localhost\n${address === null ? '' : `${address} ${names.join(' ')}\n`}`,
    );
    renameSync(`${dir}.hosts.new`, `${dir}/hosts`);
  };
  const resolveHost: HostResolver = async (host) => {
    const r = await ns.exec('getent', ['hosts', host], { check: false, timeoutMs: 5_000 });
    const address = r.stdout.split(/\s+/)[0] ?? '';
    if (r.exitCode !== 0 || address === '')
      throw Object.assign(new Error(`${host} does not resolve`), { code: 'ENOTFOUND' });
    return address;
  };
  const url = `etcd://${cluster.members.map((m, i) => `${names[i]}:${m.clientPort}`).join(',')}`;
  const port = cluster.members[0]!.clientPort;
  const admin = store();
  t.teardown(() => t.log(logs.filter((l) => l.includes('store')).join('\n')));
  const seen = (line: string) => logs.filter((l) => l === line).length;
  const reaches = (revision: number, what: string) =>
    waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === revision, { what, timeoutMs: 15_000 });

  hosts('127.0.0.1');
  const one = addNode(createNetwork('net', '10.30.0.0/16'), nodes.alpha!.record, sodiumKeySource);
  let def = addNode(one, nodes.bravo!.record, sodiumKeySource);
  await admin.createNetwork(def);
  await start({ url, resolveHost, resolveEveryMs: 300 });
  await reaches(def.revision, 'the first apply through the names');
  t.is(seen(`store endpoint store1.zmesh.test resolves to 127.0.0.1:${port}`), 1);

  // The names gone: resolution fails, the last good addresses are kept, logged once per name.
  hosts(null);
  const kept = `store endpoint store1.zmesh.test does not resolve; keeping its last good address 127.0.0.1:${port}`;
  await waitFor(() => seen(kept) === 1, { what: 'the failed resolution logged', timeoutMs: 10_000 });
  def = (await admin.editNetwork('net', (d) => setExit(d, 'bravo'))).after;
  await reaches(def.revision, 'a revision published while the names do not resolve');
  await new Promise((r) => setTimeout(r, 1_000)); // several more failed resolutions
  t.is(seen(kept), 1, 'logged once per change of state, not per attempt');

  // The names moved to an address where no member listens: the agent follows them (and so misses edits).
  hosts('127.0.0.2');
  const moved = `store endpoint store1.zmesh.test resolves again: 127.0.0.2:${port}`;
  await waitFor(() => seen(moved) === 1, { what: 'the move picked up', timeoutMs: 10_000 });
  const before = applied().length;
  def = (await admin.editNetwork('net', (d) => setExit(d, 'alpha'))).after;
  await new Promise((r) => setTimeout(r, 2_000));
  t.is(applied().length, before, 'the agent talks to the new (dead) address: the edit does not reach it');

  // Moved back: picked up again, and the edit made meanwhile arrives.
  hosts('127.0.0.1');
  await reaches(def.revision, 'the edit after the names moved back');
  t.is(seen(`store endpoint store1.zmesh.test resolves to 127.0.0.1:${port}`), 2);
  t.deepEqual(applied().slice(-1), [def.revision]);
});
