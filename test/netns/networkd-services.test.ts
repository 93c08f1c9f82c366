// Service addresses in one networkd (src/nr/service-routing.ts, src/networkd/service.ts): the NR
// routes a service's /32 via its workload's address on br0 (once that workload is attached) or
// holds it on br0; the workload holds it as a second address; a move between workloads, a
// detach and a removal leave no route or address behind. Real namespaces, veths and networkd.
import test from 'ava';
import type { NetworkDefinition, Service } from '../../src/netdef/index.js';
import { signDefinition } from '../../src/netdef/index.js';
import { runCommand } from '../../src/sim/harness/command.js';
import { systemTool } from '../../src/sim/harness/system-tools.js';
import { worldFor } from '../harness/ava.js';
import { type Namespace, ping } from '../harness/index.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

const WEB = '10.77.255.7';
const DNS = '10.77.255.8';

test('a service is routed to its workload once attached or held on br0; a move, a detach and a removal leave nothing', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  const networkd = await startNetworkd(w, node);
  t.teardown(() => networkd.stop());
  const name = `${w.prefix}-svc`;
  const put = async (revision: number, services: Service[]) => {
    const def = { ...node.definition(name, revision), ...(services.length > 0 ? { services } : {}) };
    const reply = await call(
      node.socket,
      'PUT',
      `/v1/networks/${name}`,
      signDefinition(def as NetworkDefinition, node.admin),
    );
    t.is(reply.status, 200, JSON.stringify(reply.body));
  };
  await put(1, []);
  const nrNamespace = (await call(node.socket, 'GET', `/v1/networks/${name}`)).body.namespace as string;
  const nr = (args: string[]) => runCommand(systemTool('ip'), ['-n', nrNamespace, '-j', ...args]);
  const serviceRoutes = async () =>
    (JSON.parse((await nr(['-4', 'route', 'show'])).stdout) as Array<{ dst: string; gateway?: string; dev: string }>)
      .filter((r) => r.dst.startsWith('10.77.255.'))
      .map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`);
  const bridgeAddresses = async () =>
    (
      JSON.parse((await nr(['-4', 'addr', 'show', 'dev', 'br0'])).stdout) as Array<{
        addr_info: Array<{ local: string; prefixlen: number }>;
      }>
    ).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
  const workloads = new Map<string, { ns: Namespace; ip: string }>();
  const attach = async (id: string) => {
    const ns = await w.namespace(id);
    const reply = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
      workload: id,
      netns: ns.path,
      ifname: 'eth0',
    });
    t.is(reply.status, 200, JSON.stringify(reply.body));
    workloads.set(id, { ns, ip: reply.body.ip });
  };
  const held = async (id: string) =>
    (
      JSON.parse((await workloads.get(id)!.ns.ip(['-j', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout) as Array<{
        addr_info: Array<{ local: string; prefixlen: number }>;
      }>
    ).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
  const reaches = async (from: string, address: string) =>
    (await ping(workloads.get(from)!.ns, address, { count: 3, timeoutMs: 10_000 })).received > 0;

  await attach('c1');
  await attach('c2');
  // web for c3, not attached yet: no route; dns for no workload: held on the NR's bridge.
  await put(2, [
    { name: 'web', address: WEB, node: 'alpha', workload: 'c3' },
    { name: 'dns', address: DNS, node: 'alpha' },
  ]);
  t.deepEqual(await serviceRoutes(), []);
  t.true((await bridgeAddresses()).includes(`${DNS}/32`));
  t.true(await reaches('c1', DNS), 'the NR answers the held address');

  await attach('c3');
  const c3 = workloads.get('c3')!.ip;
  t.deepEqual(await serviceRoutes(), [`${WEB} via ${c3} dev br0`], 'routed at attach');
  t.deepEqual(await held('c3'), [`${c3}/24`, `${WEB}/32`], 'held by the workload as a second address');
  t.true(await reaches('c1', WEB));

  // Moved to c2 in one revision: the route and the address follow within the apply.
  await put(3, [
    { name: 'web', address: WEB, node: 'alpha', workload: 'c2' },
    { name: 'dns', address: DNS, node: 'alpha' },
  ]);
  const c2 = workloads.get('c2')!.ip;
  t.deepEqual(await serviceRoutes(), [`${WEB} via ${c2} dev br0`]);
  t.deepEqual(await held('c3'), [`${c3}/24`], 'the old workload keeps no trace');
  t.deepEqual(await held('c2'), [`${c2}/24`, `${WEB}/32`]);
  t.true(await reaches('c1', WEB));

  // Its workload detached: the route goes with it (the address is free for the next attach).
  t.is((await call(node.socket, 'DELETE', `/v1/networks/${name}/workloads/c2`)).status, 200);
  t.deepEqual(await serviceRoutes(), []);

  // Both removed: nothing of them anywhere.
  await put(4, []);
  t.deepEqual(await serviceRoutes(), []);
  t.false((await bridgeAddresses()).some((a) => a.endsWith('/32')));
  for (const id of ['c1', 'c3'])
    t.false(
      (await held(id)).some((a) => a.endsWith('/32')),
      id,
    );
  t.false(await reaches('c1', DNS));
  t.is((await call(node.socket, 'DELETE', `/v1/networks/${name}`)).status, 200);
});
