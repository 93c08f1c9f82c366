// Tests of Rtnl (src/nr/kernel/rtnl.ts) in real namespaces: every change made over rtnetlink is
// checked independently with `ip -n NS -j ...`, and every listing against ip's own view.
import test from 'ava';
import { KernelError, Rtnl, type RouteSpec } from '../../src/nr/kernel/index.js';
import { worldFor } from '../harness/ava.js';
import type { Namespace } from '../harness/index.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  flags: string[];
  master?: string;
  linkinfo?: { info_kind?: string };
}
interface IpAddr {
  ifname: string;
  addr_info: Array<{ local: string; prefixlen: number; family: string }>;
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
}

async function ipJson<T>(ns: Namespace, args: string[]): Promise<T> {
  return JSON.parse((await ns.ip(['-j', ...args])).stdout || '[]') as T;
}

async function ipLinks(ns: Namespace): Promise<IpLink[]> {
  return ipJson<IpLink[]>(ns, ['-d', 'link', 'show']);
}

async function ipLink(ns: Namespace, name: string): Promise<IpLink | undefined> {
  return (await ipLinks(ns)).find((l) => l.ifname === name);
}

async function ipCidrs(ns: Namespace, dev: string): Promise<string[]> {
  const r = await ipJson<IpAddr[]>(ns, ['addr', 'show', 'dev', dev]);
  return r
    .flatMap((l) => l.addr_info.filter((a) => !a.local.startsWith('fe80')).map((a) => `${a.local}/${a.prefixlen}`))
    .sort();
}

async function ipRoutes(ns: Namespace): Promise<IpRoute[]> {
  return ipJson<IpRoute[]>(ns, ['route', 'show', 'table', 'main']);
}

function openIn(t: { teardown(fn: () => void): void }, ns: Namespace): Rtnl {
  const r = Rtnl.open(ns.path);
  t.teardown(() => r.close());
  return r;
}

test('a veth created with its peer in another namespace has one end on each side, with the names asked for', async (t) => {
  const w = await worldFor(t);
  const [a, b] = [await w.namespace('va'), await w.namespace('vb')];
  const rtnl = openIn(t, a);
  await rtnl.createVeth('p-test', 'public', b.path, { mtu: 1400 });
  const here = await ipLink(a, 'p-test');
  const there = await ipLink(b, 'public');
  t.is(here?.linkinfo?.info_kind, 'veth');
  t.is(there?.linkinfo?.info_kind, 'veth');
  t.is(here?.mtu, 1400);
  t.is(there?.mtu, 1400, 'the peer got the MTU too');
  t.is(await ipLink(a, 'public'), undefined, 'the peer end is not in the first namespace');
  t.is(await ipLink(b, 'p-test'), undefined);
  const listed = (await rtnl.listLinks()).find((l) => l.name === 'p-test');
  t.like(listed, { kind: 'veth', up: false, mtu: 1400, master: null, index: here!.ifindex });
  t.not(listed?.linkNetnsId, null, 'the peer is in another namespace');
  t.is(listed?.link, there!.ifindex, "IFLA_LINK is the peer's index over there");

  // Same-namespace veth.
  await rtnl.createVeth('x0', 'x1', null);
  t.truthy(await ipLink(a, 'x0'));
  t.truthy(await ipLink(a, 'x1'));
});

test('a bridge with an enslaved port, set up and with an MTU, is what ip shows; the calls are idempotent', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('br');
  const rtnl = openIn(t, a);
  await rtnl.createBridge('br0');
  await rtnl.createVeth('wl-1', 'eth0', null);
  t.is((await ipLink(a, 'br0'))?.linkinfo?.info_kind, 'bridge');
  await rtnl.setMaster('wl-1', 'br0');
  await rtnl.setMaster('wl-1', 'br0');
  t.is((await ipLink(a, 'wl-1'))?.master, 'br0');
  const bridgeIndex = (await ipLink(a, 'br0'))!.ifindex;
  t.is((await rtnl.getLink('wl-1'))?.master, bridgeIndex);
  for (const n of ['br0', 'wl-1', 'eth0']) {
    await rtnl.setUp(n);
    await rtnl.setUp(n);
  }
  await rtnl.setMtu('br0', 1420);
  t.true((await ipLink(a, 'br0'))!.flags.includes('UP'));
  t.is((await ipLink(a, 'br0'))!.mtu, 1420);
  t.true((await rtnl.getLink('wl-1'))!.up);
  await rtnl.setDown('eth0');
  t.false((await ipLink(a, 'eth0'))!.flags.includes('UP'));
  await rtnl.setMaster('wl-1', null);
  t.is((await ipLink(a, 'wl-1'))?.master, undefined, 'freed from the bridge');

  // listLinks agrees with ip on every link's index, name, MTU and admin state.
  const ours = (await rtnl.listLinks()).map((l) => [l.index, l.name, l.mtu, l.up]).sort();
  const theirs = (await ipLinks(a)).map((l) => [l.ifindex, l.ifname, l.mtu, l.flags.includes('UP')]).sort();
  t.deepEqual(ours, theirs);
  t.is(await rtnl.getLink('nope'), null);
});

test('a bridge keeps its own MAC while ports with lower MACs join and leave (the NR gateway MAC is stable)', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('bm');
  const rtnl = openIn(t, a);
  await rtnl.createBridge('br0');
  await rtnl.setUp('br0');
  const macOf = async (): Promise<string> =>
    (await ipJson<{ address: string }[]>(a, ['link', 'show', 'br0']))[0]?.address ?? '';
  const mine = await macOf();
  t.regex(mine, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  t.is(Number.parseInt(mine.slice(0, 2), 16) & 0x03, 0x02, 'locally administered unicast');
  t.is((await a.exec('cat', ['/sys/class/net/br0/addr_assign_type'])).stdout.trim(), '3', 'set, not derived');
  // 00:00:00:00:00:01 is below any MAC the bridge could have: a derived MAC would switch to it.
  await a.ip(['link', 'add', 'p1', 'address', '00:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'q1']);
  await rtnl.setMaster('p1', 'br0');
  t.is(await macOf(), mine, 'a port with a lower MAC joined');
  await a.ip(['link', 'del', 'p1']);
  t.is(await macOf(), mine, 'the port left');
});

test('addresses: add (twice is fine), list as ip does, delete (false when already gone), IPv4 and IPv6', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('ad');
  const rtnl = openIn(t, a);
  await rtnl.createBridge('br0');
  await rtnl.addAddress('br0', '10.1.2.1/24');
  await rtnl.addAddress('br0', '10.1.2.1/24');
  await rtnl.addAddress('br0', '100.64.1.2/16');
  await rtnl.addAddress('br0', 'fd00:1::1/64');
  t.deepEqual(await ipCidrs(a, 'br0'), ['10.1.2.1/24', '100.64.1.2/16', 'fd00:1::1/64']);
  const listed = await rtnl.listAddresses('br0');
  t.deepEqual(listed.map((x) => x.cidr).sort(), ['10.1.2.1/24', '100.64.1.2/16', 'fd00:1::1/64']);
  t.like(
    listed.find((x) => x.address === '10.1.2.1'),
    { link: 'br0', family: 4, prefix: 24 },
  );
  t.like(
    listed.find((x) => x.family === 6),
    { address: 'fd00:1::1', prefix: 64 },
  );
  t.true((await rtnl.listAddresses()).some((x) => x.link === 'lo' && x.cidr === '127.0.0.1/8'));

  t.true(await rtnl.deleteAddress('br0', '10.1.2.1/24'));
  t.false(await rtnl.deleteAddress('br0', '10.1.2.1/24'));
  t.true(await rtnl.deleteAddress('br0', 'fd00:1::1/64'));
  t.deepEqual(await ipCidrs(a, 'br0'), ['100.64.1.2/16']);
  t.false(await rtnl.deleteAddress('gone0', '10.0.0.1/24'), 'a missing link has no address to delete');
});

test('routes: replace (gateway or dev, default), list as ip does, replace changes the next hop in place, delete', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('rt');
  const rtnl = openIn(t, a);
  await rtnl.createVeth('public', 'peer', null);
  await rtnl.setUp('public');
  await rtnl.setUp('peer');
  await rtnl.addAddress('public', '100.127.0.5/16');
  await rtnl.replaceRoute({ destination: 'default', gateway: '100.127.0.1' });
  await rtnl.replaceRoute({ destination: '10.1.0.0/16', dev: 'public' });
  await rtnl.replaceRoute({ destination: '10.1.0.0/16', dev: 'public' });
  await rtnl.replaceRoute({ destination: '192.0.2.0/24', gateway: '100.127.0.9', dev: 'public', metric: 20 });

  const ip = await ipRoutes(a);
  t.like(
    ip.find((r) => r.dst === 'default'),
    { gateway: '100.127.0.1', dev: 'public' },
  );
  t.like(
    ip.find((r) => r.dst === '10.1.0.0/16'),
    { dev: 'public', scope: 'link' },
  );
  t.is(ip.filter((r) => r.dst === '10.1.0.0/16').length, 1, 'replacing twice leaves one route');

  const ours = await rtnl.listRoutes();
  t.deepEqual(ours.map((r) => r.destination).sort(), ['0.0.0.0/0', '10.1.0.0/16', '100.127.0.0/16', '192.0.2.0/24']);
  t.like(
    ours.find((r) => r.destination === '0.0.0.0/0'),
    { gateway: '100.127.0.1', dev: 'public', protocol: 'boot', scope: 'universe', family: 4 },
  );
  t.like(
    ours.find((r) => r.destination === '100.127.0.0/16'),
    { gateway: null, dev: 'public', protocol: 'kernel', scope: 'link' },
  );
  t.like(
    ours.find((r) => r.destination === '192.0.2.0/24'),
    { metric: 20 },
  );

  await rtnl.replaceRoute({ destination: 'default', gateway: '100.127.0.2' });
  const defaults = (await ipRoutes(a)).filter((r) => r.dst === 'default');
  t.deepEqual(
    defaults.map((r) => r.gateway),
    ['100.127.0.2'],
    'the default route was replaced, not added',
  );

  t.true(await rtnl.deleteRoute({ destination: 'default' }));
  t.false(await rtnl.deleteRoute({ destination: 'default' }));
  t.true(await rtnl.deleteRoute({ destination: '10.1.0.0/16', dev: 'public' }));
  t.true(await rtnl.deleteRoute({ destination: '192.0.2.0/24', metric: 20 }));
  t.deepEqual(
    (await ipRoutes(a)).map((r) => r.dst),
    ['100.127.0.0/16'],
  );
  t.false(
    await rtnl.deleteRoute({ destination: '10.9.0.0/16', dev: 'gone0' }),
    'a route on a missing link is not there',
  );

  await rtnl.addAddress('public', 'fd00:9::5/64');
  await rtnl.replaceRoute({ destination: 'fd00:77::/48', gateway: 'fd00:9::1' });
  t.like(
    (await rtnl.listRoutes(6)).find((r) => r.destination === 'fd00:77::/48'),
    { gateway: 'fd00:9::1', dev: 'public', family: 6 },
  );
});

test('a link moved to another namespace under a new name is there, down, and gone from here', async (t) => {
  const w = await worldFor(t);
  const [host, nr] = [await w.namespace('mh'), await w.namespace('mn')];
  const rtnl = openIn(t, host);
  await rtnl.createVeth('tmp-w', 'tmp-peer', null);
  await rtnl.setUp('tmp-w');
  await rtnl.moveToNetns('tmp-w', nr.path, 'w-abcdefgh');
  t.is(await ipLink(host, 'tmp-w'), undefined);
  const moved = await ipLink(nr, 'w-abcdefgh');
  t.is(moved?.linkinfo?.info_kind, 'veth');
  t.is(await ipLink(nr, 'tmp-w'), undefined, 'the old name never appears there');
  const inNr = openIn(t, nr);
  t.like(await inNr.getLink('w-abcdefgh'), { kind: 'veth', up: false });

  // Move without renaming, and back again.
  await inNr.moveToNetns('w-abcdefgh', host.path);
  t.truthy(await ipLink(host, 'w-abcdefgh'));
});

test('deleting a veth removes both ends, also across namespaces; deleting again is false', async (t) => {
  const w = await worldFor(t);
  const [a, b] = [await w.namespace('da'), await w.namespace('db')];
  const rtnl = openIn(t, a);
  await rtnl.createVeth('p-del', 'public', b.path);
  await rtnl.createBridge('br-del');
  t.true(await rtnl.deleteLink('p-del'));
  t.is(await ipLink(a, 'p-del'), undefined);
  t.is(await ipLink(b, 'public'), undefined, 'the peer went with it');
  t.false(await rtnl.deleteLink('p-del'));
  t.true(await rtnl.deleteLink('br-del'));
  t.deepEqual(
    (await ipLinks(a)).map((l) => l.ifname),
    ['lo'],
  );
});

test('errors name the operation, object and namespace: EEXIST, ENODEV, EINVAL with the field, and nothing changes', async (t) => {
  const w = await worldFor(t);
  const [a, b] = [await w.namespace('ea'), await w.namespace('eb')];
  const rtnl = openIn(t, a);
  await rtnl.createBridge('br0');
  await rtnl.createVeth('v0', 'v1', b.path);
  const snapshot = async () => [await ipLinks(a), await ipLinks(b), await ipCidrs(a, 'br0'), await ipRoutes(a)];
  const before = await snapshot();

  const exists = (await t.throwsAsync(rtnl.createBridge('br0'))) as KernelError;
  t.true(exists instanceof KernelError);
  t.is(exists.code, 'EEXIST');
  t.is(exists.netns, a.path);
  t.regex(exists.message, /create bridge 'br0' in network namespace \/run\/netns\/\S+ea: already exists/);
  t.is(((await t.throwsAsync(rtnl.createVeth('v0', 'other', null))) as KernelError).code, 'EEXIST');
  t.is(
    ((await t.throwsAsync(rtnl.createVeth('new0', 'v1', b.path))) as KernelError).code,
    'EEXIST',
    'peer name taken over there',
  );

  const nodev = (await t.throwsAsync(rtnl.setUp('nope0'))) as KernelError;
  t.is(nodev.code, 'ENODEV');
  t.regex(nodev.message, /nope0/);
  t.is(((await t.throwsAsync(rtnl.setMaster('v0', 'nobridge'))) as KernelError).code, 'ENODEV');
  t.is(((await t.throwsAsync(rtnl.addAddress('nope0', '10.0.0.1/24'))) as KernelError).code, 'ENODEV');

  const cases: Array<[string, Promise<unknown>, string]> = [
    ['bad cidr', rtnl.addAddress('br0', '10.0.0.300/24'), 'cidr'],
    ['no prefix', rtnl.addAddress('br0', '10.0.0.1'), 'cidr'],
    ['long name', rtnl.createBridge('x'.repeat(16)), 'name'],
    ['slash in name', rtnl.createVeth('a/b', 'c', null), 'name'],
    ['bad mtu', rtnl.setMtu('br0', 20), 'mtu'],
    ['host bits', rtnl.replaceRoute({ destination: '10.1.0.1/16', dev: 'br0' }), 'destination'],
    ['no next hop', rtnl.replaceRoute({ destination: '10.1.0.0/16' } as RouteSpec), 'route'],
    ['family mix', rtnl.replaceRoute({ destination: '10.1.0.0/16', gateway: 'fd00::1' }), 'gateway'],
    ['bad gateway', rtnl.replaceRoute({ destination: '10.1.0.0/16', gateway: '10.1' }), 'gateway'],
  ];
  for (const [label, p, field] of cases) {
    const e = (await t.throwsAsync(p, undefined, label)) as KernelError;
    t.is(e.code, 'EINVAL', label);
    t.is(e.field, field, label);
  }
  t.deepEqual(await snapshot(), before, 'no failed call changed anything');

  rtnl.close();
  t.is(((await t.throwsAsync(rtnl.listLinks())) as KernelError).code, 'EBADF');
});
