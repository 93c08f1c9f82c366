/**
 * provisiond and the REAL networkd as separate failure domains: with provisiond dead, networkd
 * and the WireGuard data plane between two nodes keep forwarding; with networkd stopped,
 * provisiond keeps tasks queued, retries the head of the network's queue only, and drains in
 * submission order when networkd returns; bad spool files are refused beside their reason while
 * a good one next to them reaches networkd. Real processes (zmesh networkd, wgd, provisiond),
 * real namespaces; everything carries the world's prefix and goes at teardown.
 */
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { makeNodeKeys } from '../../src/sim/harness/networkd.js';
import { SimWorld } from '../../src/sim/world.js';
import { worldFor } from '../harness/ava.js';
import { ping, waitFor } from '../harness/index.js';
import { StackNode, call, effectsIn, oneNodeNetwork } from './provisiond-networkd-stack.js';

interface Detail {
  readonly state: string;
  readonly attempts: number;
  readonly finishedAt: string | null;
  readonly result: { ip?: string } | null;
  readonly history: { outcome: string | null; status: number | null; error: { code: string } | null }[];
}

async function untilSucceeded(node: StackNode, ids: readonly string[], timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const tasks = await node.client.list({ limit: 1000 });
      const failed = tasks.filter(
        (task) => ids.includes(task.id) && (task.state === 'failed' || task.state === 'cancelled'),
      );
      if (failed.length > 0)
        throw new Error(
          `tasks ended ${failed.map((f) => `${f.id}: ${f.state} ${JSON.stringify(f.error)}`).join('; ')}`,
        );
      return ids.every((id) => tasks.find((task) => task.id === id)?.state === 'succeeded');
    },
    { what: `${ids.join(', ')} succeeded`, timeoutMs, intervalMs: 50 },
  );
}

test("with provisiond SIGKILLed and down for seconds, networkd answers and a ping across two nodes' NRs over WireGuard loses nothing; a restarted provisiond continues", async (t) => {
  const sim = await SimWorld.create([{ id: 'alpha' }, { id: 'bravo' }]);
  t.teardown(() => sim.teardown());
  const world = sim.harness;
  const net = await sim.createNetwork('pdp', '10.42.0.0/16', sim.nodes);
  const [alpha, bravo] = sim.nodes.map((n) => StackNode.ofSimNode(world, n)) as [StackNode, StackNode];
  for (const node of [alpha, bravo]) {
    t.teardown(async () => {
      const errors = await node.deleteNetworks();
      if (errors.length > 0) t.log(`cleanup of ${node.prefix}: ${errors.join('; ')}`);
    });
  }
  const wa = await world.namespace('wa');
  const wb = await world.namespace('wb');
  await Promise.all([alpha.startProvisiond(), bravo.startProvisiond()]);
  const definition = net.definition();
  await alpha.client.submit([
    { id: 'a-apply', type: 'network.apply', definition },
    { id: 'a-attach', type: 'workload.attach', network: 'pdp', workload: 'wa', netns: wa.path, ifname: 'eth0' },
  ]);
  await bravo.client.submit([
    { id: 'b-apply', type: 'network.apply', definition },
    { id: 'b-attach', type: 'workload.attach', network: 'pdp', workload: 'wb', netns: wb.path, ifname: 'eth0' },
  ]);
  await Promise.all([untilSucceeded(alpha, ['a-apply', 'a-attach']), untilSucceeded(bravo, ['b-apply', 'b-attach'])]);
  const target = ((await bravo.client.show('b-attach')) as unknown as Detail).result?.ip as string;
  t.regex(target, /^10\.42\.1\.\d+$/, "bravo's workload is in bravo's /24");
  // The first packets start the WireGuard handshake; measure once the tunnel is up.
  await waitFor(async () => (await ping(wa, target, { count: 1, timeoutMs: 1_000 })).received === 1, {
    what: 'the tunnel alpha ↔ bravo',
    timeoutMs: 15_000,
  });
  const peerRx = async () =>
    ((await call(alpha.networkdSocket, 'GET', '/v1/networks/pdp')).body as { device: { peers: { rxBytes: number }[] } })
      .device.peers[0]?.rxBytes ?? 0;
  const rxBefore = await peerRx();

  const pinging = ping(wa, target, { count: 50, intervalMs: 100, timeoutMs: 15_000 });
  const downAt = performance.now();
  await Promise.all([alpha.killProvisiond(), bravo.killProvisiond()]);
  const health = await call(alpha.networkdSocket, 'GET', '/v1/health');
  t.is(health.status, 200, 'networkd answers while provisiond is dead');
  t.true((await call(bravo.networkdSocket, 'GET', '/v1/networks/pdp')).body.nrExists);
  const during = await pinging;
  const downMs = performance.now() - downAt;
  t.true(downMs >= 4_000, `provisiond stayed down ${Math.round(downMs)} ms`);
  t.is(during.sent, 50);
  t.is(during.received, 50, 'no packet lost while provisiond was down');
  t.true((await peerRx()) - rxBefore >= 50 * 84, 'the replies came through the WireGuard device');

  // The queue picks up where it was: a detach submitted after the restart runs.
  await alpha.startProvisiond();
  await alpha.client.submit({ id: 'a-detach', type: 'workload.detach', network: 'pdp', workload: 'wa' });
  await untilSucceeded(alpha, ['a-detach']);
  t.false(
    (await wa.links()).some((l) => l.ifname === 'eth0'),
    "the workload's veth is gone",
  );
  t.is((await alpha.client.list()).length, 3);
});

test('with networkd stopped, provisiond retries the head task only and drains the rest in submission order once networkd returns', async (t) => {
  const world = await worldFor(t);
  const identity = await makeNodeKeys('alpha');
  const node = await StackNode.create(world, 'q', identity);
  t.teardown(async () => {
    const errors = await node.deleteNetworks();
    if (errors.length > 0) t.log(`cleanup: ${errors.join('; ')}`);
  });
  const workloads = await Promise.all([0, 1, 2, 3].map((i) => world.namespace(`qw${i}`)));
  await node.startNetworkd();
  await node.startProvisiond();
  await node.client.submit({
    id: 'apply',
    type: 'network.apply',
    definition: oneNodeNetwork(identity, 'pq', '10.43.0.0/16', 52_200),
  });
  await untilSucceeded(node, ['apply']);

  await (node.networkd as NonNullable<typeof node.networkd>).stop({ graceMs: 5_000 });
  const plan = [
    { id: 'q0', type: 'workload.attach', network: 'pq', workload: 'qw0', netns: workloads[0]!.path, ifname: 'eth0' },
    { id: 'q1', type: 'workload.attach', network: 'pq', workload: 'qw1', netns: workloads[1]!.path, ifname: 'eth0' },
    { id: 'q2', type: 'workload.attach', network: 'pq', workload: 'qw2', netns: workloads[2]!.path, ifname: 'eth0' },
    { id: 'q3', type: 'workload.detach', network: 'pq', workload: 'qw1' },
    { id: 'q4', type: 'workload.attach', network: 'pq', workload: 'qw3', netns: workloads[3]!.path, ifname: 'eth0' },
  ];
  for (const task of plan) await node.client.submit(task);
  const detail = async (id: string) => (await node.client.show(id)) as unknown as Detail;
  await waitFor(async () => (await detail('q0')).attempts >= 4, {
    what: 'q0 retried while networkd is down',
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  const head = await detail('q0');
  t.is(head.state, 'pending');
  t.true(
    head.history.every((a) => a.outcome === 'retry' && a.status === null && a.error?.code === 'EUNREACHABLE'),
    'every attempt found networkd unreachable',
  );
  for (const id of ['q1', 'q2', 'q3', 'q4'])
    t.like(await detail(id), { state: 'pending', attempts: 0 }, `${id} waits behind the head of its network`);

  const logBefore = node.networkdLog().length;
  await node.startNetworkd();
  await untilSucceeded(
    node,
    plan.map((task) => task.id),
  );
  const details = await Promise.all(plan.map((task) => detail(task.id)));
  const finished = details.map((d) => Date.parse(d.finishedAt as string));
  t.deepEqual(
    finished,
    [...finished].sort((a, b) => a - b),
    'finished in submission order',
  );
  t.deepEqual(
    effectsIn(node.networkdLog().slice(logBefore)),
    ['attach pq qw0', 'attach pq qw1', 'attach pq qw2', 'detach pq qw1', 'attach pq qw3'],
    'networkd did them once each, in order',
  );
  t.deepEqual(
    details.map((d) => d.result?.ip ?? null),
    ['10.43.0.2', '10.43.0.3', '10.43.0.4', '10.43.0.3', '10.43.0.3'],
  );
  t.deepEqual(
    await workloads[3]!.addresses('eth0').then((a) => a.filter((x) => !x.includes(':'))),
    ['10.43.0.3/24'],
    'the freed address went to the next workload',
  );
});

test('truncated, non-JSON and schema-violating spool files are refused beside their reason; a good file next to them reaches networkd', async (t) => {
  const world = await worldFor(t);
  const identity = await makeNodeKeys('alpha');
  const node = await StackNode.create(world, 's', identity);
  t.teardown(async () => {
    const errors = await node.deleteNetworks();
    if (errors.length > 0) t.log(`cleanup: ${errors.join('; ')}`);
  });
  const workload = await world.namespace('sw0');
  await node.startNetworkd();
  await node.startProvisiond(['--spool', node.spoolDir]);
  const good = JSON.stringify([
    { id: 'g-apply', type: 'network.apply', definition: oneNodeNetwork(identity, 'ps', '10.44.0.0/16', 52_300) },
    { id: 'g-attach', type: 'workload.attach', network: 'ps', workload: 'sw0', netns: workload.path, ifname: 'eth0' },
  ]);
  const files: Record<string, string> = {
    'truncated.json': good.slice(0, Math.floor(good.length / 2)),
    'garbage.json': 'this is not JSON at all',
    'schema.json': JSON.stringify({
      id: 'bad',
      type: 'workload.attach',
      network: 'ps',
      workload: 'sw1',
      netns: 'relative/path',
      ifname: 'eth0',
    }),
    'good.json': good,
  };
  // As a writer should: a temp name first, then a rename, so only complete files are taken.
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(node.spoolDir, `.${name}.tmp`), text);
    renameSync(join(node.spoolDir, `.${name}.tmp`), join(node.spoolDir, name));
  }
  const failed = join(node.spoolDir, 'failed');
  await waitFor(
    () =>
      ['truncated', 'garbage', 'schema'].every((n) => existsSync(join(failed, `${n}.json.error.txt`))) &&
      existsSync(join(node.spoolDir, 'done', 'good.json')),
    {
      what: 'the spool to sort the files',
      timeoutMs: 15_000,
      intervalMs: 50,
    },
  );
  const reason = (name: string) => readFileSync(join(failed, `${name}.json.error.txt`), 'utf8');
  t.regex(reason('truncated'), /truncated\.json: .*(JSON|end)/i);
  t.regex(reason('garbage'), /garbage\.json: .*JSON/i);
  t.regex(reason('schema'), /schema\.json: .*\/netns.*absolute/);
  t.deepEqual(readdirSync(failed).sort(), [
    'garbage.json',
    'garbage.json.error.txt',
    'schema.json',
    'schema.json.error.txt',
    'truncated.json',
    'truncated.json.error.txt',
  ]);
  await untilSucceeded(node, ['g-apply', 'g-attach']);
  t.deepEqual(
    (await node.client.list()).map((task) => task.id).sort(),
    ['g-apply', 'g-attach'],
    'nothing of the bad files was queued',
  );
  t.deepEqual(effectsIn(node.networkdLog()), ['apply ps r2', 'attach ps sw0']);
  t.deepEqual(
    (await workload.addresses('eth0')).filter((a) => !a.includes(':')),
    ['10.44.0.2/24'],
  );
});
