/**
 * networkd as a real process inside a node namespace of a test world: apply, attach, detach,
 * invalid input, restart without traffic loss, kill -9 mid-apply, delete. Everything networkd
 * creates carries the world's prefix, so the world's teardown removes it even on failure (and
 * wgd, which lives in the node namespace, is killed with it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { netIdOf } from '../../src/netdef/index.js';
import { WGD_NODE_OPTIONS } from '../../src/wg/wgd/node-options.js';
import {
  ApplyResult,
  AttachResult,
  DeleteResult,
  DetachResult,
  HealthView,
  NetworkListView,
  NetworkView,
} from '../../src/networkd/views.js';
import { worldFor } from '../harness/ava.js';
import { namespacesWithPrefix, ping, waitFor } from '../harness/index.js';
import { assertView, call, makeNode, startNetworkd } from './networkd-world.js';

function snapshot(stateDir: string): string {
  const dir = join(stateDir, 'networkd');
  const files: string[] = [];
  for (const sub of ['networks', 'workloads'])
    for (const f of readdirSync(join(dir, sub))) files.push(`${sub}/${f}:${readFileSync(join(dir, sub, f), 'utf8')}`);
  return files.sort().join('\n');
}

test('apply, attach, bad input, detach, restart without loss, delete: the NR and workloads follow the API', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  let networkd = await startNetworkd(w, node);
  const name = `${w.prefix}-blue`;
  const netId = netIdOf(name);
  const nrNs = `${w.prefix}n-${netId}`;

  const health = await call(node.socket, 'GET', '/v1/health');
  t.is(health.status, 200);
  assertView(t, HealthView, health.body, 'GET /v1/health');
  t.is(health.body.wg.backend, 'userspace');
  t.true(Number.isInteger(health.body.wg.wgdPid));
  // networkd starts wgd with wgd's Node options (they size V8's heap at start).
  const wgdArgv = readFileSync(`/proc/${health.body.wg.wgdPid}/cmdline`, 'utf8').split('\0');
  for (const option of WGD_NODE_OPTIONS)
    t.true(wgdArgv.includes(option), `wgd runs with ${option}: ${wgdArgv.join(' ')}`);

  const applied = await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1));
  t.is(applied.status, 200, JSON.stringify(applied.body));
  assertView(t, ApplyResult, applied.body, 'PUT /v1/networks/{name}');
  t.is(applied.body.netId, netId);
  t.true(applied.body.applied.steps > 0);
  t.true(namespacesWithPrefix(w.prefix).includes(nrNs));
  const shown = await call(node.socket, 'GET', `/v1/networks/${name}`);
  assertView(t, NetworkView, shown.body, 'GET /v1/networks/{name}');
  t.is(shown.body.namespace, nrNs);
  t.true(shown.body.nrExists);
  t.is(shown.body.device?.name, `w-${netId}`);

  const again = await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1));
  t.is(again.status, 200);
  t.is(again.body.applied.steps, 0, 'the same revision again changes nothing');

  const workload = await w.namespace('wl1');
  const attached = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
    workload: 'c1',
    netns: workload.path,
    ifname: 'eth0',
  });
  t.is(attached.status, 200, JSON.stringify(attached.body));
  assertView(t, AttachResult, attached.body, 'POST /v1/networks/{name}/workloads');
  t.like(attached.body, { ip: '10.77.0.2', prefix: 24, gateway: '10.77.0.1', mtu: 1420 });
  t.deepEqual(
    (await workload.addresses('eth0')).filter((a) => !a.includes(':')),
    ['10.77.0.2/24'],
  );
  t.is((await ping(workload, '10.77.0.1', { count: 3 })).loss, 0);
  const repeat = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
    workload: 'c1',
    netns: workload.path,
    ifname: 'eth0',
  });
  t.deepEqual(repeat.body, attached.body, 'attach is idempotent by workload id');

  // Bad input: a 4xx naming the problem, and neither the store nor the kernel changes.
  const before = snapshot(node.stateDir);
  const linksBefore = JSON.stringify(await w.namespaces.find((n) => n.name === workload.name)!.links());
  const spare = await w.namespace('wl3'); // c1's namespace is c1's alone
  const bad: Array<[string, string, unknown, number, RegExp]> = [
    [
      'POST',
      `/v1/networks/${name}/workloads`,
      { workload: 'c2', netns: '/run/netns/nope-missing', ifname: 'eth0' },
      400,
      /netns: .* does not exist/,
    ],
    [
      'POST',
      `/v1/networks/${name}/workloads`,
      { workload: 'c2', netns: spare.path, ifname: 'eth1', ip: '10.78.0.5' },
      400,
      /ip: .*outside/,
    ],
    [
      'POST',
      `/v1/networks/${name}/workloads`,
      { workload: 'c2', netns: spare.path, ifname: 'eth1', ip: '10.77.0.2' },
      409,
      /ip: .*taken/,
    ],
    ['POST', `/v1/networks/nosuch/workloads`, { workload: 'c2', netns: workload.path, ifname: 'eth1' }, 404, /nosuch/],
    ['PUT', `/v1/networks/${name}`, { ...node.definition(name, 2), ipRange: '100.64.0.0/16' }, 400, /ipRange/],
    ['PUT', `/v1/networks/${name}`, node.definition(name, 0), 409, /older/],
    ['PUT', `/v1/networks/${name}`, '{not json', 400, /body: not valid JSON/],
    ['DELETE', `/v1/networks/${name}/workloads/nobody`, undefined, 404, /nobody/],
  ];
  for (const [method, path, body, status, message] of bad) {
    const reply = await call(node.socket, method, path, body);
    t.is(reply.status, status, `${method} ${path}: ${JSON.stringify(reply.body)}`);
    t.regex(reply.body.error.message, message);
  }
  t.is(snapshot(node.stateDir), before, 'the store is untouched');
  t.is(JSON.stringify(await workload.links()), linksBefore, 'the workload namespace is untouched');

  // Restart: SIGTERM, start again; the NR is adopted with 0 steps and a running ping loses nothing.
  const pinging = ping(workload, '10.77.0.1', { count: 40, intervalMs: 100, timeoutMs: 15_000 });
  await networkd.stop();
  networkd = await startNetworkd(w, node);
  const after = await call(node.socket, 'GET', '/v1/health');
  assertView(t, HealthView, after.body, 'GET /v1/health after a reconcile');
  t.is(after.body.lastReconcile.steps, 0, 'the restart adopted the existing NR without a change');
  const listed = await call(node.socket, 'GET', '/v1/networks');
  assertView(t, NetworkListView, listed.body, 'GET /v1/networks');
  t.deepEqual(
    listed.body.networks.map((n: { network: string }) => n.network),
    [name],
  );
  t.is(after.body.wg.wgdPid, health.body.wg.wgdPid, 'wgd was not restarted');
  const during = await pinging;
  t.is(during.sent, 40);
  t.is(during.received, 40, 'no packet lost across the restart');

  // Detach: the veth goes, the address is free again.
  const detached = await call(node.socket, 'DELETE', `/v1/networks/${name}/workloads/c1`);
  t.is(detached.status, 200);
  assertView(t, DetachResult, detached.body, 'DELETE /v1/networks/{name}/workloads/{workload}');
  t.false((await workload.links()).some((l) => l.ifname === 'eth0'));
  const second = await w.namespace('wl2');
  const reused = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
    workload: 'c2',
    netns: second.path,
    ifname: 'eth0',
  });
  t.is(reused.body.ip, '10.77.0.2', 'the freed address is the lowest free again');

  // Delete: nothing of the network is left; workloads detached first.
  const deleted = await call(node.socket, 'DELETE', `/v1/networks/${name}`);
  t.is(deleted.status, 200);
  assertView(t, DeleteResult, deleted.body, 'DELETE /v1/networks/{name}');
  t.is(deleted.body.workloadsDetached, 1);
  t.false(namespacesWithPrefix(w.prefix).includes(nrNs));
  t.false((await second.links()).some((l) => l.ifname === 'eth0'));
  t.is((await call(node.socket, 'GET', `/v1/networks/${name}`)).status, 404);
  await networkd.stop();
});

test('a repeated X-Task-Id does the work once; kill -9 mid-apply then restart converges', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  let networkd = await startNetworkd(w, node);
  const name = `${w.prefix}-red`;
  const first = await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1), {
    'x-task-id': 'task-1',
  });
  const replay = await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1), {
    'x-task-id': 'task-1',
  });
  t.is(first.status, 200);
  t.deepEqual(replay.body, first.body);
  t.is(replay.headers['x-task-replayed'], 'true');

  // kill -9 as soon as revision 2 is stored (state is written before the kernel is changed).
  const file = join(node.stateDir, 'networkd', 'networks', `${name}.json`);
  const pending = call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 2)).catch(() => null);
  await waitFor(() => JSON.parse(readFileSync(file, 'utf8')).definition.revision === 2, {
    what: 'revision 2 stored',
    timeoutMs: 10_000,
    intervalMs: 5,
  });
  process.kill(networkd.pid, 'SIGKILL');
  await pending;
  await networkd.exited;
  networkd = await startNetworkd(w, node);
  const shown = await call(node.socket, 'GET', `/v1/networks/${name}`);
  t.is(shown.body.revision, 2);
  t.true(shown.body.nrExists);
  const health = await call(node.socket, 'GET', '/v1/health');
  t.deepEqual(health.body.lastReconcile.errors, []);
  await networkd.stop();
  networkd = await startNetworkd(w, node);
  t.is(
    (await call(node.socket, 'GET', '/v1/health')).body.lastReconcile.steps,
    0,
    'converged: another restart finds nothing to do',
  );
  await networkd.stop();
});
