/**
 * networkd's workload links (nr's engine, src/nr/workload-link.ts, with networkd's errors:
 * src/networkd/workload-link.ts) in real namespaces: an NR-shaped
 * namespace (br0 carrying the gateway address, as an NR has) and workload namespaces of a test
 * world. Every outcome is read back independently with `ip -j`, traffic is a real ping through
 * the bridge, and both the one-shot functions and the kept `KernelWorkloadLinks` (which trusts
 * its memory while the kernel announces no change) are held to the same behaviour.
 */
import { ChildProcess, execFile } from 'node:child_process';
import childProcess from 'node:child_process';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { WG_MTU } from '../../src/netdef/index.js';
import { NetworkdError } from '../../src/networkd/errors.js';
import {
  KernelWorkloadLinks,
  attachWorkloadLink,
  detachWorkloadLink,
  listWorkloadLinks,
} from '../../src/networkd/workload-link.js';
import { type WorkloadLinkSpec, workloadLinkName } from '../../src/nr/index.js';
import { worldFor } from '../harness/ava.js';
import { ping, type Namespace, type World } from '../harness/index.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  flags: string[];
  master?: string;
  link_index?: number;
}

async function ipJson<T>(ns: Namespace, args: string[]): Promise<T> {
  return JSON.parse((await ns.ip(['-j', ...args])).stdout || '[]') as T;
}

/**
 * What ip shows of a namespace's links, addresses and routes, to prove "nothing changed": the
 * configuration only (IPv4, which is all zmesh configures), not what the kernel moves on its own
 * (timers, carrier, IPv6 link-local addresses and the routes that appear when their DAD ends).
 */
async function dump(ns: Namespace): Promise<string> {
  const links = await ipJson<Array<IpLink & { linkinfo?: { info_kind?: string } }>>(ns, ['-d', 'link', 'show']);
  const addrs = await ipJson<Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>>(ns, [
    '-4',
    'addr',
    'show',
  ]);
  const routes = await ipJson<Array<Record<string, unknown>>>(ns, ['-4', 'route', 'show', 'table', 'all']);
  return JSON.stringify({
    links: links.map((l) => [
      l.ifindex,
      l.ifname,
      l.mtu,
      l.flags.includes('UP'),
      l.master ?? null,
      l.link_index ?? null,
      l.linkinfo?.info_kind ?? null,
    ]),
    addresses: addrs.flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).sort(),
    routes: routes
      .map((r) =>
        [
          r.table ?? 'main',
          r.type ?? 'unicast',
          r.dst,
          r.gateway ?? null,
          r.dev ?? null,
          r.protocol,
          r.scope ?? null,
          r.metric ?? null,
        ].join(' '),
      )
      .sort(),
  });
}

async function ipv4(ns: Namespace, dev: string): Promise<string[]> {
  return (await ns.addresses(dev)).filter((a) => !a.includes(':')).sort();
}

async function defaults(ns: Namespace): Promise<Array<{ gateway?: string; dev?: string }>> {
  return ipJson(ns, ['route', 'show', 'default']);
}

/** An NR-shaped namespace: br0 up with the gateway address 10.90.N.1/24. */
async function nrNamespace(world: World, short: string, n: number): Promise<Namespace> {
  const nr = await world.namespace(short);
  await nr.ip(['link', 'add', 'br0', 'type', 'bridge']);
  await nr.ip(['addr', 'add', `10.90.${n}.1/24`, 'dev', 'br0']);
  await nr.ip(['link', 'set', 'br0', 'up']);
  return nr;
}

function specFor(nr: Namespace, workload: Namespace | string, id: string, n: number, host: number): WorkloadLinkSpec {
  return {
    nrNetns: nr.path,
    link: workloadLinkName(id),
    netns: typeof workload === 'string' ? workload : workload.path,
    ifname: 'eth0',
    serviceAddresses: [],
    ip: `10.90.${n}.${host}`,
    gateway: `10.90.${n}.1`,
    mtu: WG_MTU,
  };
}

/** The two ways networkd can hold workload links; each test runs against both. */
interface Variant {
  readonly name: string;
  attach(spec: WorkloadLinkSpec): Promise<boolean>;
  detach(nrNetns: string, link: string): Promise<void>;
  list(nrNetns: string): Promise<string[]>;
}

function variants(t: ExecutionContext): Variant[] {
  const kept = new KernelWorkloadLinks();
  t.teardown(() => kept.close());
  return [
    { name: 'one-shot functions', attach: attachWorkloadLink, detach: detachWorkloadLink, list: listWorkloadLinks },
    {
      name: 'kept KernelWorkloadLinks',
      attach: (s) => kept.attach(s),
      detach: (nr, l) => kept.detach(nr, l),
      list: (nr) => kept.list(nr),
    },
  ];
}

async function assertAttached(
  t: ExecutionContext,
  nr: Namespace,
  workload: Namespace,
  spec: WorkloadLinkSpec,
  label: string,
): Promise<void> {
  const nrEnd = (await ipJson<IpLink[]>(nr, ['link', 'show', 'dev', spec.link]))[0];
  t.is(nrEnd?.master, 'br0', `${label}: the NR end is a port of br0`);
  t.is(nrEnd?.mtu, spec.mtu, `${label}: NR end MTU`);
  t.true(nrEnd?.flags.includes('UP'), `${label}: the NR end is up`);
  const end = (await ipJson<IpLink[]>(workload, ['link', 'show', 'dev', spec.ifname]))[0];
  t.is(end?.mtu, spec.mtu, `${label}: workload end MTU`);
  t.true(end?.flags.includes('UP'), `${label}: the workload end is up`);
  t.deepEqual(await ipv4(workload, spec.ifname), [`${spec.ip}/24`], `${label}: exactly the workload's address`);
  t.deepEqual(
    (await defaults(workload)).map((r) => [r.gateway, r.dev]),
    [[spec.gateway, spec.ifname]],
    `${label}: default via the gateway`,
  );
}

test('attach makes a veth into the workload that reaches the gateway; re-attach changes nothing and reports false; detach removes both ends', async (t) => {
  const w = await worldFor(t);
  const nr = await nrNamespace(w, 'nr', 1);
  for (const [i, v] of variants(t).entries()) {
    const workload = await w.namespace(`wl${i}`);
    const spec = specFor(nr, workload, `c${i}`, 1, 10 + i);
    t.true(await v.attach(spec), `${v.name}: the first attach changes something`);
    await assertAttached(t, nr, workload, spec, v.name);
    t.is(
      (await ping(workload, '10.90.1.1', { count: 2 })).loss,
      0,
      `${v.name}: the gateway answers through the bridge`,
    );
    const nrBefore = await dump(nr);
    const workloadBefore = await dump(workload);
    t.false(await v.attach(spec), `${v.name}: re-attach reports no change`);
    t.false(await v.attach(spec), `${v.name}: and again`);
    t.is(await dump(nr), nrBefore, `${v.name}: the NR namespace is as it was`);
    t.is(await dump(workload), workloadBefore, `${v.name}: the workload namespace is as it was`);
    t.deepEqual(await v.list(nr.path), [spec.link]);
    await v.detach(nr.path, spec.link);
    t.false(
      (await nr.links()).some((l) => l.ifname === spec.link),
      `${v.name}: the NR end is gone`,
    );
    t.false(
      (await workload.links()).some((l) => l.ifname === 'eth0'),
      `${v.name}: the workload end went with it`,
    );
    await v.detach(nr.path, spec.link); // missing is fine
    await v.detach(join(nr.path, 'no-such-namespace'), spec.link);
    t.deepEqual(await v.list(nr.path), []);
  }
});

test("changes made behind networkd's back (address, route, MTU, state, bridge port, extra address, renamed end) are undone by the next attach", async (t) => {
  const w = await worldFor(t);
  const nr = await nrNamespace(w, 'nr', 2);
  const drifts: Array<[string, (nr: Namespace, wl: Namespace, spec: WorkloadLinkSpec) => Promise<unknown>]> = [
    ['address removed', (_n, wl, s) => wl.ip(['addr', 'del', `${s.ip}/24`, 'dev', 'eth0'])],
    ['default route removed', (_n, wl) => wl.ip(['route', 'del', 'default'])],
    [
      'default route via another gateway',
      (_n, wl) => wl.ip(['route', 'replace', 'default', 'via', '10.90.2.99', 'dev', 'eth0']),
    ],
    ['a second address added', (_n, wl) => wl.ip(['addr', 'add', '10.90.2.77/24', 'dev', 'eth0'])],
    ['workload end down', (_n, wl) => wl.ip(['link', 'set', 'eth0', 'down'])],
    ['workload end MTU changed', (_n, wl) => wl.ip(['link', 'set', 'eth0', 'mtu', '1300'])],
    ['NR end down', (n, _wl, s) => n.ip(['link', 'set', s.link, 'down'])],
    ['NR end MTU changed', (n, _wl, s) => n.ip(['link', 'set', s.link, 'mtu', '1280'])],
    ['NR end released from br0', (n, _wl, s) => n.ip(['link', 'set', s.link, 'nomaster'])],
    ['workload end renamed', (_n, wl) => wl.ip(['link', 'set', 'eth0', 'name', 'eth9'])],
  ];
  for (const [i, v] of variants(t).entries()) {
    const workload = await w.namespace(`wl${i}`);
    const spec = specFor(nr, workload, `d${i}`, 2, 20 + i);
    t.true(await v.attach(spec));
    t.false(await v.attach(spec), `${v.name}: steady before any drift`);
    for (const [what, drift] of drifts) {
      await drift(nr, workload, spec);
      t.true(await v.attach(spec), `${v.name}: ${what}: the attach reports a change`);
      await assertAttached(t, nr, workload, spec, `${v.name}: ${what}`);
      t.false(await v.attach(spec), `${v.name}: ${what}: then steady again`);
    }
    t.false(
      (await workload.links()).some((l) => l.ifname === 'eth9'),
      `${v.name}: the renamed end went with its stale NR end`,
    );
    t.deepEqual(await v.list(nr.path), [spec.link], `${v.name}: one NR end, no stale one`);
    t.is((await ping(workload, '10.90.2.1', { count: 2 })).loss, 0, `${v.name}: traffic flows after the repairs`);
    await v.detach(nr.path, spec.link);
  }
});

test('a foreign ifname in the workload namespace is a 409 naming ifname, and neither namespace changes', async (t) => {
  const w = await worldFor(t);
  const nr = await nrNamespace(w, 'nr', 3);
  for (const [i, v] of variants(t).entries()) {
    // A new workload whose eth0 is someone else's link.
    const foreign = await w.namespace(`fo${i}`);
    // A veth of its own (peer in the same namespace): a veth, but not ours.
    await foreign.ip(['link', 'add', 'eth0', 'mtu', '1500', 'type', 'veth', 'peer', 'name', 'side0']);
    await foreign.ip(['addr', 'add', '192.0.2.5/24', 'dev', 'eth0']);
    await foreign.ip(['link', 'set', 'eth0', 'up']);
    const nrBefore = await dump(nr);
    const foreignBefore = await dump(foreign);
    const spec = specFor(nr, foreign, `f${i}`, 3, 30 + i);
    const error = await t.throwsAsync(v.attach(spec), { instanceOf: NetworkdError });
    t.is(error?.code, 'ECONFLICT', v.name);
    t.is(error?.context.field, 'ifname');
    t.regex(error?.message ?? '', /^ifname: eth0 already exists in \/run\/netns\//);
    t.is(await dump(nr), nrBefore, `${v.name}: the NR is untouched`);
    t.is(await dump(foreign), foreignBefore, `${v.name}: the foreign link is untouched`);

    // Our NR end exists, but the spec now names a namespace whose eth0 is not its peer.
    const own = await w.namespace(`ow${i}`);
    const attached = specFor(nr, own, `g${i}`, 3, 40 + i);
    t.true(await v.attach(attached));
    const nrAttached = await dump(nr);
    const ownBefore = await dump(own);
    const moved = await t.throwsAsync(v.attach({ ...attached, netns: foreign.path }), { instanceOf: NetworkdError });
    t.is(moved?.code, 'ECONFLICT', `${v.name}: our link exists, the workload's eth0 is not its peer`);
    t.is(await dump(nr), nrAttached);
    t.is(await dump(own), ownBefore);
    t.is(await dump(foreign), foreignBefore);
    await v.detach(nr.path, attached.link);
  }
});

test('a workload namespace given as /proc/PID/ns/net works like a named one; a path that is no namespace is a 400 naming netns', async (t) => {
  const w = await worldFor(t);
  const nr = await nrNamespace(w, 'nr', 4);
  const holder = await w.namespace('pid');
  const sleeper = holder.spawn('sh', ['-c', 'echo ready; exec sleep 600']);
  await sleeper.waitForOutput(/ready/, { timeoutMs: 10_000 });
  const notNamespace = join(w.tempDir(), 'plain-file');
  writeFileSync(notNamespace, 'not a namespace\n');
  for (const [i, v] of variants(t).entries()) {
    const spec = specFor(nr, `/proc/${sleeper.pid}/ns/net`, `p${i}`, 4, 50 + i);
    t.true(await v.attach(spec), v.name);
    await assertAttached(t, nr, holder, spec, `${v.name} (by PID)`);
    t.false(await v.attach(spec));
    await v.detach(nr.path, spec.link);

    const nrBefore = await dump(nr);
    const bad = await t.throwsAsync(v.attach({ ...specFor(nr, notNamespace, `q${i}`, 4, 60 + i) }), {
      instanceOf: NetworkdError,
    });
    t.is(bad?.code, 'EINVAL', v.name);
    t.is(bad?.message, `netns: ${notNamespace} is not a network namespace`);
    const missing = await t.throwsAsync(v.attach(specFor(nr, '/run/netns/zmesh-no-such-ns', `r${i}`, 4, 70 + i)), {
      instanceOf: NetworkdError,
    });
    t.regex(missing?.message ?? '', /^netns: \/run\/netns\/zmesh-no-such-ns does not exist/);
    t.is(await dump(nr), nrBefore, `${v.name}: refused input changed nothing`);
  }
});

test('an NR without br0 fails with an EKERNEL error that says what failed and where', async (t) => {
  const w = await worldFor(t);
  const nr = await w.namespace('bare');
  const workload = await w.namespace('wl');
  const spec = specFor(nr, workload, 'e1', 5, 2);
  const error = await t.throwsAsync(attachWorkloadLink(spec), { instanceOf: NetworkdError });
  t.is(error?.code, 'EKERNEL');
  t.true(error?.message.startsWith(`[${nr.path}] set-link ${spec.link} master br0 up: `), error?.message);
  t.true(error?.message.includes(nr.path), 'names the namespace');
  t.true(error?.message.includes('ENODEV'), 'and the reason');
  const gone = await t.throwsAsync(attachWorkloadLink({ ...spec, nrNetns: join(nr.path, 'nope') }), {
    instanceOf: NetworkdError,
  });
  t.is(gone?.code, 'EKERNEL');
  t.regex(gone?.message ?? '', /^read the NR .*nope: open rtnetlink socket .*ENOTDIR/);
});

test('list reports only wl-<6 hex> links of the NR, and nothing for an NR that does not exist', async (t) => {
  const w = await worldFor(t);
  const nr = await nrNamespace(w, 'nr', 6);
  for (const name of ['wl-0a1b2c', 'wl-0a1b2c3', 'wl-zzzzzz', 'xwl-abcdef', 'wl-ABCDEF'])
    await nr.ip(['link', 'add', name, 'type', 'bridge']);
  for (const v of variants(t)) {
    t.deepEqual(await v.list(nr.path), ['wl-0a1b2c'], v.name);
    t.deepEqual(await v.list(join(nr.path, 'absent')), [], v.name);
  }
});

/** Every way Node can start a process, counted while `fn` runs (a sync spawn as well as execFile & co). */
async function countSpawns(fn: () => Promise<void>): Promise<number> {
  let count = 0;
  // spawn, execFile, exec and fork all go through ChildProcess#spawn (not in the typings).
  const proto = ChildProcess.prototype as unknown as { spawn: (...args: unknown[]) => unknown };
  const asyncSpawn = proto.spawn;
  const syncNames = ['spawnSync', 'execSync', 'execFileSync'] as const;
  const syncOriginals = syncNames.map((name) => childProcess[name]);
  proto.spawn = function (this: unknown, ...args: unknown[]) {
    count++;
    return asyncSpawn.apply(this, args);
  };
  syncNames.forEach((name, i) => {
    (childProcess as Record<string, unknown>)[name] = (...args: unknown[]) => {
      count++;
      return (syncOriginals[i] as (...a: unknown[]) => unknown)(...args);
    };
  });
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    proto.spawn = asyncSpawn;
    syncNames.forEach((name, i) => void ((childProcess as Record<string, unknown>)[name] = syncOriginals[i]));
    syncBuiltinESMExports();
  }
  return count;
}

// Serial: ava runs serial tests first, alone, so no other test's processes or sockets are counted.
test.serial('attach, re-check, list and detach start no process (spawns counted at child_process)', async (t) => {
  const w = await worldFor(t);
  const nr = await nrNamespace(w, 'nr', 7);
  const workloads = [await w.namespace('wa'), await w.namespace('wb')];
  // The counter counts: one execFile is seen.
  t.is(
    await countSpawns(
      () => new Promise((resolve, reject) => execFile('/bin/true', (e) => (e ? reject(e) : resolve()))),
    ),
    1,
  );
  for (const v of variants(t)) {
    const spawned = await countSpawns(async () => {
      for (const [i, workload] of workloads.entries()) {
        const spec = specFor(nr, workload, `s${i}`, 7, 2 + i);
        t.true(await v.attach(spec));
        t.false(await v.attach(spec));
      }
      t.is((await v.list(nr.path)).length, workloads.length);
      for (const i of workloads.keys()) await v.detach(nr.path, workloadLinkName(`s${i}`));
    });
    t.is(spawned, 0, `${v.name}: no process started`);
  }
});

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Lets closed sockets' handles go (libuv closes them on the next turn of the loop). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

test.serial(
  '50 attach/detach cycles leave no file descriptor behind; the kept instance lets go of namespaces no longer retained',
  async (t) => {
    const w = await worldFor(t);
    const nr = await nrNamespace(w, 'nr', 8);
    const workload = await w.namespace('wl');
    const spec = specFor(nr, workload, 'fd', 8, 2);
    const cycle = async (v: Pick<Variant, 'attach' | 'detach'>): Promise<void> => {
      t.true(await v.attach(spec));
      t.false(await v.attach(spec));
      await v.detach(nr.path, spec.link);
    };
    const oneShot = { attach: attachWorkloadLink, detach: detachWorkloadLink };
    await cycle(oneShot); // warm-up: whatever Node opens once (e.g. for the first netlink socket)
    await settle();
    const baseline = openFds();
    for (let i = 0; i < 50; i++) await cycle(oneShot);
    await settle();
    t.is(openFds(), baseline, 'one-shot functions: as many fds as before');

    const kept = new KernelWorkloadLinks();
    t.teardown(() => kept.close());
    await cycle(kept);
    await settle();
    const watching = openFds();
    t.is(watching, baseline + 2, 'one watch socket for the NR, one for the workload');
    for (let i = 0; i < 50; i++) await cycle(kept);
    await settle();
    t.is(openFds(), watching, 'kept instance: no growth over 50 cycles');
    kept.retain([nr.path]);
    await settle();
    t.is(openFds(), baseline + 1, 'the workload namespace is let go once it is not retained');
    kept.close();
    await settle();
    t.is(openFds(), baseline, 'close releases the rest');
  },
);

/** Inodes of the netlink sockets that live in the namespace (its /proc/net/netlink). */
async function netlinkSocketsIn(ns: Namespace): Promise<Set<string>> {
  const lines = (await ns.exec('cat', ['/proc/net/netlink'])).stdout.trim().split('\n').slice(1);
  return new Set(lines.map((line) => line.trim().split(/\s+/).at(-1)!));
}

/** Inodes of the sockets process `pid` holds. */
function socketsOf(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

test("in networkd, a reconcile re-attaches a workload whose address was removed behind its back, the next finds nothing to do, and a detached workload's namespace is let go", async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  const networkd = await startNetworkd(w, node);
  t.teardown(() => networkd.stop());
  const name = `${w.prefix}-wl`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1))).status, 200);
  const workload = await w.namespace('wl');
  const request = { workload: 'c1', netns: workload.path, ifname: 'eth0' };
  const attached = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, request);
  t.is(attached.status, 200, JSON.stringify(attached.body));
  /** A reconcile pass, then its report: applying the same revision queues one, the repeated attach queues behind it. */
  const reconcile = async (): Promise<{ reattached: number; errors: string[] }> => {
    t.is((await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1))).status, 200);
    t.is((await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, request)).status, 200);
    return (await call(node.socket, 'GET', '/v1/health')).body.lastReconcile;
  };
  t.like(await reconcile(), { reattached: 0, errors: [] });
  await workload.ip(['addr', 'del', `${attached.body.ip}/24`, 'dev', 'eth0']);
  await workload.ip(['route', 'flush', 'default']);
  const repaired = await reconcile();
  t.like(repaired, { reattached: 1, errors: [] });
  t.deepEqual(await ipv4(workload, 'eth0'), [`${attached.body.ip}/24`], 'the address is back');
  t.deepEqual(
    (await defaults(workload)).map((r) => r.gateway),
    [attached.body.gateway],
    'the default route is back',
  );
  t.like(await reconcile(), { reattached: 0, errors: [] }, 'steady: nothing to re-attach');
  t.is((await ping(workload, attached.body.gateway, { count: 2 })).loss, 0);

  const held = (): number => [...socketsOf(networkd.pid)].filter((inode) => inWorkload.has(inode)).length;
  let inWorkload = await netlinkSocketsIn(workload);
  t.true(held() >= 1, "networkd watches the attached workload's namespace");
  t.is((await call(node.socket, 'DELETE', `/v1/networks/${name}/workloads/c1`)).status, 200);
  inWorkload = await netlinkSocketsIn(workload);
  t.is(held(), 0, 'after detach networkd holds no socket in that namespace');
  t.is((await call(node.socket, 'DELETE', `/v1/networks/${name}`)).status, 200);
});
