/**
 * networkd (a real process in a node namespace) refuses to attach a workload into a namespace
 * of the node itself — its own, wgd's, the ndmz, an NR — or into another workload's, whatever
 * path names it (compared by device and inode), and changes nothing when it refuses. A stored
 * /proc/PID/ns/net path that later names another namespace (the process moved, as after PID
 * reuse) releases the workload at the next reconcile instead of re-attaching into the stranger.
 * The root namespace's refusal is proven without attaching there: test/unit/networkd/workload-namespace.test.ts.
 */
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { netIdOf } from '../../src/netdef/index.js';
import { worldFor } from '../harness/ava.js';
import { waitFor } from '../harness/index.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

const run = promisify(execFile);

/** Links, IPv4 addresses and routes of a namespace by name (ndmz and NRs are networkd's, not the world's), as configured. */
async function state(namespace: string): Promise<string> {
  const ip = async <T>(...args: string[]): Promise<T> =>
    JSON.parse((await run('ip', ['-n', namespace, '-j', ...args])).stdout || '[]') as T;
  const links = await ip<Array<{ ifname: string; mtu: number; flags: string[] }>>('link', 'show');
  const addrs = await ip<Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>>(
    '-4',
    'addr',
    'show',
  );
  const routes = await ip<Array<Record<string, unknown>>>('-4', 'route', 'show', 'table', 'all');
  return JSON.stringify({
    links: links.map((l) => `${l.ifname} ${l.mtu} ${l.flags.includes('UP')}`).sort(),
    addresses: addrs.flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).sort(),
    routes: routes
      .map((r) => [r.table ?? 'main', r.type ?? 'unicast', r.dst, r.gateway ?? null, r.dev ?? null].join(' '))
      .sort(),
  });
}

const inode = (path: string): bigint => statSync(path, { bigint: true }).ino;

test("a workload namespace that is the node's own, wgd's, the ndmz, an NR or another workload's is refused by identity and nothing changes", async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  const networkd = await startNetworkd(w, node);
  const name = `${w.prefix}-own`;
  const nrNs = `${w.prefix}n-${netIdOf(name)}`;
  const ndmz = `${w.prefix}ndmz`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1))).status, 200);
  const health = (await call(node.socket, 'GET', '/v1/health')).body;
  const workload = await w.namespace('wl1');
  const attached = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
    workload: 'c1',
    netns: workload.path,
    ifname: 'eth0',
  });
  t.is(attached.status, 200, JSON.stringify(attached.body));
  // Another path to c1's namespace: a process living in it.
  const holder = workload.spawn('sleep', ['600']);
  await waitFor(() => inode(`/proc/${holder.pid}/ns/net`) === inode(workload.path), {
    what: 'sleep in wl1',
    timeoutMs: 5000,
  });

  const watched = [node.ns.name, ndmz, nrNs, workload.name];
  const before = await Promise.all(watched.map(state));
  const shownBefore = (await call(node.socket, 'GET', `/v1/networks/${name}`)).body.workloads;
  const cases: Array<[string, RegExp]> = [
    [`/proc/${health.pid}/ns/net`, /networkd's own network namespace/],
    [`/proc/${health.wg.wgdPid}/ns/net`, /(wgd's|networkd's own) network namespace/],
    [node.ns.path, /networkd's own network namespace/],
    [`/run/netns/${ndmz}`, /ndmz namespace/],
    [`/run/netns/${nrNs}`, /NR namespace/],
    [`/proc/${holder.pid}/ns/net`, /namespace of workload c1/],
    [workload.path, /namespace of workload c1/],
  ];
  for (const [netns, reason] of cases) {
    const reply = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
      workload: 'intruder',
      netns,
      ifname: 'eth7',
    });
    t.is(reply.status, 400, `${netns}: ${JSON.stringify(reply.body)}`);
    t.regex(reply.body.error.message, /^netns: /);
    t.regex(reply.body.error.message, reason, netns);
  }
  t.deepEqual(await Promise.all(watched.map(state)), before, 'no namespace changed');
  t.deepEqual(
    (await call(node.socket, 'GET', `/v1/networks/${name}`)).body.workloads,
    shownBefore,
    'the store is unchanged',
  );
  const reconciled = await networkd.stop().then(() => startNetworkd(w, node));
  t.is((await call(node.socket, 'GET', '/v1/health')).body.lastReconcile.steps, 0);
  t.deepEqual(await Promise.all(watched.map(state)), before, 'reconcile changed nothing either');
  await reconciled.stop();
});

test('a stored /proc/PID/ns/net that now names another namespace releases the workload at reconcile; the stranger is never entered', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  let networkd = await startNetworkd(w, node);
  const name = `${w.prefix}-pid`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1))).status, 200);
  const first = await w.namespace('wla');
  const stranger = await w.namespace('wlb');
  const go = join(w.tempDir(), 'move');
  // One PID whose /proc/PID/ns/net names `first`, then (same PID) `stranger`: what a reused PID looks like to networkd.
  const proc = first.spawn('sh', [
    '-c',
    `while [ ! -e ${go} ]; do sleep 0.05; done; exec ip netns exec ${stranger.name} sleep 600`,
  ]);
  const path = `/proc/${proc.pid}/ns/net`;
  await waitFor(() => inode(path) === inode(first.path), { what: 'the process in wla', timeoutMs: 5000 });
  const attached = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
    workload: 'c9',
    netns: path,
    ifname: 'eth0',
  });
  t.is(attached.status, 200, JSON.stringify(attached.body));
  t.true((await first.links()).some((l) => l.ifname === 'eth0'));
  const strangerBefore = await state(stranger.name);

  writeFileSync(go, '');
  await waitFor(() => inode(path) === inode(stranger.path), { what: 'the process moved to wlb', timeoutMs: 5000 });
  await networkd.stop();
  networkd = await startNetworkd(w, node);
  const shown = (await call(node.socket, 'GET', `/v1/networks/${name}`)).body;
  t.deepEqual(shown.workloads, []);
  t.is(shown.forgottenWorkloads.at(-1)?.workload, 'c9');
  t.regex(shown.forgottenWorkloads.at(-1)?.reason, /now names another namespace/);
  t.is(await state(stranger.name), strangerBefore, 'nothing was attached in the namespace the path names now');
  t.false(
    (await first.links()).some((l) => l.ifname === 'eth0'),
    "the workload's veth is gone",
  );
  await networkd.stop();
});
