// Tests of the kernel layer's namespace primitives (native createNetns/deleteNetns/inNetns/
// writeSysctl/readSysctl/netnsId and src/nr/kernel namespaces.ts, sysctl.ts) against the real
// kernel and ip(8). Every namespace is named with the test world's prefix, so the world's
// teardown removes it even when a test fails; root-namespace checks only READ.
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { createRtNetlink } from 'netlink';
import { native, type NativeError } from '../../src/native/binding.js';
import {
  createNamespace,
  deleteNamespace,
  ensureNamespace,
  getSysctl,
  KernelError,
  listNamespaces,
  namespaceExists,
  namespaceId,
  namespacePath,
  Rtnl,
  setSysctl,
} from '../../src/nr/kernel/index.js';
import { worldFor } from '../harness/ava.js';
import { runCommand, systemTool } from '../harness/index.js';

function threadNetnsInode(): number {
  return statSync('/proc/thread-self/ns/net').ino;
}

async function ipNetnsList(): Promise<string[]> {
  const r = await runCommand(systemTool('ip'), ['-j', 'netns', 'list']);
  return (JSON.parse(r.stdout || '[]') as Array<{ name: string }>).map((n) => n.name);
}

test('createNetns makes a namespace that ip(8) sees and uses, leaves the caller where it was, and deleteNetns removes it', async (t) => {
  const w = await worldFor(t);
  const name = `${w.prefix}cn`;
  const before = threadNetnsInode();
  const path = native().createNetns(name);
  t.is(path, `/run/netns/${name}`);
  t.is(threadNetnsInode(), before, 'the calling thread did not change namespace');
  t.not(native().netnsId(path), before, "the new namespace is not the caller's");
  t.true((await ipNetnsList()).includes(name), 'ip netns list shows it');
  const links = JSON.parse((await runCommand(systemTool('ip'), ['-n', name, '-j', 'link', 'show'])).stdout) as Array<{
    ifname: string;
    flags: string[];
  }>;
  t.deepEqual(
    links.map((l) => l.ifname),
    ['lo'],
    'a new namespace has only lo',
  );
  t.false(links[0]!.flags.includes('UP'), 'native createNetns leaves lo down (createNamespace brings it up)');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  t.regex(mounts, new RegExp(` /run/netns/${name} .*nsfs`), 'bind-mounted nsfs, as ip netns add does');
  t.regex(mounts, / \/run\/netns .*shared:/, '/run/netns is a shared mount');

  native().deleteNetns(name);
  t.false((await ipNetnsList()).includes(name), 'gone from ip netns list');
  t.false(namespaceExists(name));
  t.is(threadNetnsInode(), before);
});

test('createNetns of an existing name is EEXIST and deleteNetns of a missing one is ENOENT, both naming the path', async (t) => {
  const w = await worldFor(t);
  const name = `${w.prefix}dup`;
  const path = native().createNetns(name);
  const id = native().netnsId(path);
  const exists = t.throws(() => native().createNetns(name)) as NativeError;
  t.is(exists.code, 'EEXIST');
  t.true(exists.message.includes(path), exists.message);
  t.is(native().netnsId(path), id, 'the existing namespace is untouched');
  native().deleteNetns(name);
  const missing = t.throws(() => native().deleteNetns(name)) as NativeError;
  t.is(missing.code, 'ENOENT');
  t.true(missing.message.includes(path), missing.message);
  for (const bad of ['', '../etc', 'a/b', '.', 'x'.repeat(65)]) {
    const e = t.throws(() => native().createNetns(bad), undefined, `name '${bad}'`) as NativeError;
    t.is(e.code, 'EINVAL');
  }
});

test('createNamespace brings lo up, listNamespaces sees it, ensureNamespace accepts it, deleteNamespace removes it', async (t) => {
  const w = await worldFor(t);
  const name = `${w.prefix}ts`;
  const path = await createNamespace(name);
  t.is(path, namespacePath(name));
  t.true(listNamespaces().includes(name));
  const lo = JSON.parse(
    (await runCommand(systemTool('ip'), ['-n', name, '-j', 'link', 'show', 'dev', 'lo'])).stdout,
  ) as Array<{ flags: string[] }>;
  t.true(lo[0]!.flags.includes('UP'), 'lo is up');
  const ping = await runCommand(systemTool('ip'), [
    'netns',
    'exec',
    name,
    systemTool('ping'),
    '-c',
    '1',
    '-W',
    '2',
    '127.0.0.1',
  ]);
  t.is(ping.exitCode, 0, 'loopback works inside');

  const again = await ensureNamespace(name);
  t.deepEqual(again, { path, created: false });
  const err = await t.throwsAsync(createNamespace(name));
  t.true(err instanceof KernelError);
  t.is((err as KernelError).code, 'EEXIST');

  t.true(deleteNamespace(name));
  t.false(listNamespaces().includes(name));
  t.false(deleteNamespace(name, { ifMissing: 'ignore' }));
  const gone = t.throws(() => deleteNamespace(name)) as KernelError;
  t.is(gone.code, 'ENOENT');
  t.regex(gone.message, new RegExp(name));
  const bad = t.throws(() => namespacePath('a/b')) as KernelError;
  t.is(bad.code, 'EINVAL');
  t.is(bad.field, 'name');
});

test("inNetns runs fn inside the namespace: an rtnetlink socket made there sees that namespace's links", async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('in');
  const link = w.ifname('v0');
  await ns.ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', w.ifname('v1')]);
  const before = threadNetnsInode();
  const inside = native().inNetns(ns.path, () => threadNetnsInode());
  t.is(inside, native().netnsId(ns.path), 'fn ran in the namespace');
  t.is(threadNetnsInode(), before, 'and the thread came back');

  const socket = native().inNetns(ns.path, () => createRtNetlink());
  t.teardown(() => socket.socket.close());
  const names = (await socket.getLinks()).map((m) => m.attrs.ifname);
  t.true(names.includes(link), "the socket lists the namespace's veth");
  t.is(names.length, 3, 'lo and the two veth ends, nothing from the root namespace');
  t.is(namespaceId(null), before);
});

test('inNetns returns to the original namespace when fn throws, and rethrows the same error', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('thr');
  const before = threadNetnsInode();
  const boom = new Error('boom from inside');
  let seenInside = 0;
  const err = t.throws(() =>
    native().inNetns(ns.path, () => {
      seenInside = threadNetnsInode();
      throw boom;
    }),
  );
  t.is(err, boom, 'the very error fn threw');
  t.is(seenInside, native().netnsId(ns.path));
  t.is(threadNetnsInode(), before);
  const missing = t.throws(() => native().inNetns(`/run/netns/${w.prefix}none`, () => 1)) as NativeError;
  t.is(missing.code, 'ENOENT');
  t.is(threadNetnsInode(), before);
  t.is(
    native().inNetns(null, () => 42),
    42,
    'null: runs in place',
  );
  const open = t.throws(() => Rtnl.open(`/run/netns/${w.prefix}none`)) as KernelError;
  t.is(open.code, 'ENOENT');
  t.regex(open.message, /open rtnetlink socket/);
});

test('setSysctl changes ip_forward inside the namespace only; the root namespace value stays as it was', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('sc');
  const rootBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const before = threadNetnsInode();
  for (const v of ['1', '0', '1']) {
    setSysctl(ns.path, 'net.ipv4.ip_forward', v);
    t.is(await ns.readSysctl('net.ipv4.ip_forward'), v, 'sysctl(8) inside the namespace sees it');
    t.is(getSysctl(ns.path, 'net.ipv4.ip_forward'), v);
  }
  t.is(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), rootBefore, 'root namespace untouched');
  t.is(getSysctl(null, 'net.ipv4.ip_forward'), rootBefore);
  t.is(threadNetnsInode(), before);

  // A '/' in a component is a literal '.', as in sysctl(8): an interface named with a dot.
  await ns.ip(['link', 'add', 'a.1', 'type', 'veth', 'peer', 'name', 'b.1']);
  setSysctl(ns.path, 'net.ipv4.conf.a/1.rp_filter', 2);
  t.is(await ns.readSysctl('net.ipv4.conf.a/1.rp_filter'), '2');
});

test('sysctl keys outside net.* and path tricks are refused with EINVAL naming the key, before anything is written', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('sk');
  for (const key of [
    'kernel.hostname',
    'vm.swappiness',
    'net..ipv4',
    'net.ipv4.conf.lo/../x',
    'net',
    'net.ipv4.ip_forward\n',
  ]) {
    const e = t.throws(() => setSysctl(ns.path, key, 1), undefined, key) as KernelError;
    t.is(e.code, 'EINVAL', key);
    t.is(e.field, 'key');
    t.true(e.message.includes(key.trim()), e.message);
    const n = t.throws(() => native().writeSysctl(ns.path, key, '1'), undefined, key) as NativeError;
    t.is(n.code, 'EINVAL');
  }
  t.is((t.throws(() => setSysctl(ns.path, 'net.ipv4.ip_forward', '1\n0')) as KernelError).field, 'value');
  t.is(await ns.readSysctl('net.ipv4.ip_forward'), '0', 'nothing was written');
  const absent = t.throws(() => getSysctl(ns.path, 'net.ipv4.no_such_key')) as KernelError;
  t.is(absent.code, 'ENOENT');
});
