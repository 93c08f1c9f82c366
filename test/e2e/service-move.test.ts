/**
 * Service addresses in the simulated mesh (#21 §3): the standard 4-node world (alpha, bravo
 * public, alpha the aggregator; hid1, hid2 hidden behind NAT). A TCP service (ncat, greeting with
 * its node's name) on a service address held by bravo's workload; clients on alpha, hid1 and hid2
 * connect by the service address at 10 attempts/s each while one revision moves the service to
 * hid1's workload (a hidden owner: reached through the aggregator). New connections reach hid1
 * once every node has applied the revision; the failed attempts of the move are counted and
 * bounded; bravo keeps no trace (no address, no route, no allowed IP on any node). Then the
 * service is removed and nothing of it is left anywhere.
 */
import test from 'ava';
import type { NetworkDefinition } from '../../src/netdef/index.js';
import { waitFor } from '../../src/sim/harness/wait.js';
import type { BackgroundProcess } from '../../src/sim/harness/process.js';
import { buildStandardMesh, type StandardMesh } from '../../src/sim/mesh.js';
import { dumpNode } from '../../src/sim/node-dump.js';
import { type TcpAttempt, startTcpPoller, tcpAttempts } from '../../src/sim/probes.js';
import type { SimWorkload } from '../../src/sim/world.js';

const PORT = 7070;
/** Failed attempts a client may see while one revision moves the service (10 attempts/s). */
const MAX_FAILED_PER_CLIENT = 10;

let mesh: StandardMesh;

test.before(async () => {
  mesh = await buildStandardMesh({ networkName: 'svc', ipRange: '10.42.0.0/16' });
});

test.after.always(async () => {
  await mesh?.world.teardown();
});

const definition = (): NetworkDefinition => mesh.net.definition() as NetworkDefinition;
const workloadOf = (node: string): SimWorkload => mesh.workloads.find((w) => w.node.id === node)!;
const hexKey = (node: string): string =>
  Buffer.from(definition().resources.find((r) => r.node === node)!.wgPublicKey, 'base64').toString('hex');
const mentions = (text: string, address: string): boolean =>
  new RegExp(`(^|[^0-9.])${address.replaceAll('.', '\\.')}([^0-9]|$)`).test(text);

/** The IPv4 addresses of a workload's eth0, as the kernel holds them. */
async function addressesOf(w: SimWorkload): Promise<string[]> {
  const r = await w.ns.ip(['-j', '-4', 'addr', 'show', 'dev', 'eth0']);
  const links = JSON.parse(r.stdout) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

/** Per node: the nodes whose WireGuard peer entry carries `cidr` there (by public key). */
async function holdersOf(cidr: string): Promise<Record<string, string[]>> {
  const byKey = new Map(mesh.world.nodes.map((n) => [hexKey(n.id), n.id]));
  const out: Record<string, string[]> = {};
  for (const node of mesh.world.nodes) {
    const devices = Object.values((await dumpNode(node)).wireguard);
    if (devices.length === 0) throw new Error(`${node.id}: no WireGuard device to read`);
    out[node.id] = devices
      .flatMap((d) => d.peers)
      .filter((peer) => peer.includes(`allowed_ip=${cidr}`))
      .map((peer) => byKey.get(peer[0]!.slice('public_key='.length)) ?? peer[0]!);
  }
  return out;
}

/** The node's own namespaces (NR, ndmz, host) hold no address or route naming `address`. */
async function tracesOn(node: string, address: string): Promise<string[]> {
  const dump = await dumpNode(mesh.world.node(node));
  return Object.entries(dump.namespaces).flatMap(([ns, state]) =>
    [...state.addresses, ...state.routes].filter((line) => mentions(line, address)).map((line) => `${ns}: ${line}`),
  );
}

function startService(w: SimWorkload, address: string): Promise<BackgroundProcess> {
  // Bound to the service address before the workload holds it (as a service that follows its
  // address would): the kernel allows that with ip_nonlocal_bind, set in the workload's namespace only.
  return w.ns
    .sysctl('net.ipv4.ip_nonlocal_bind', 1)
    .then(() => w.ns.spawn('ncat', ['-l', '-k', '--sh-exec', `echo ${w.node.id}`, address, String(PORT)]));
}

test.serial(
  'a service address moves from bravo to hidden hid1 in one revision: new connections reach hid1 once applied, failures bounded, bravo keeps no trace',
  async (t) => {
    const { world, net } = mesh;
    const [bravo, hid1] = [workloadOf('bravo'), workloadOf('hid1')];
    await net.tool('service add', ['--name', 'web', '--node', 'bravo', '--workload', bravo.id]);
    const address = definition().services![0]!.address;
    const cidr = `${address}/32`;
    await world.deploy(net);
    t.true((await addressesOf(bravo)).includes(cidr), 'bravo’s workload holds the service address after the apply');
    t.false((await addressesOf(hid1)).includes(cidr));
    await startService(bravo, address);
    await startService(hid1, address);

    const clients = ['alpha', 'hid1', 'hid2'].map(workloadOf);
    const pollers = clients.map((c) => ({ client: c, poller: startTcpPoller(c.ns, address, PORT, 100, 1_000) }));
    const last = (p: BackgroundProcess, n: number): TcpAttempt[] =>
      tcpAttempts(p)
        .sort((a, b) => a.seq - b.seq)
        .slice(-n);
    await waitFor(
      () => pollers.every(({ poller }) => last(poller, 5).filter((a) => a.result === 'bravo').length === 5),
      { what: 'every client reaching the service on bravo 5 times in a row', timeoutMs: 30_000, intervalMs: 100 },
    );

    const moveStarted = Date.now();
    await net.tool('service move', ['--name', 'web', '--node', 'hid1', '--workload', hid1.id]);
    const deployStarted = Date.now();
    await world.deploy(net);
    const applied = Date.now();
    await waitFor(() => pollers.every(({ poller }) => tcpAttempts(poller).filter((a) => a.at > applied).length >= 15), {
      what: '15 attempts of every client after the move was applied',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    for (const { poller } of pollers) await poller.stop({ graceMs: 200 });

    const lines: string[] = [];
    for (const { client, poller } of pollers) {
      const attempts = tcpAttempts(poller).sort((a, b) => a.seq - b.seq);
      const during = attempts.filter((a) => a.at >= deployStarted - 1_000);
      const failed = during.filter((a) => a.result !== 'bravo' && a.result !== 'hid1');
      const afterApply = attempts.filter((a) => a.at > applied);
      const lastNotHid1 = [...attempts].reverse().find((a) => a.result !== 'hid1');
      const converged = lastNotHid1 === undefined ? 0 : Math.max(0, lastNotHid1.at + 100 - deployStarted);
      lines.push(
        `${client.node.id}: ${failed.length} failed of ${during.length} attempts from 1 s before the deploy ` +
          `(${failed.map((a) => a.result).join(', ') || 'none'}); only hid1 answers from ${converged} ms after the deploy began`,
      );
      t.deepEqual(
        afterApply.filter((a) => a.result !== 'hid1').map((a) => `#${a.seq} ${a.result}`),
        [],
        `${client.node.id}: every connection begun after the apply reaches hid1`,
      );
      t.true(failed.length <= MAX_FAILED_PER_CLIENT, `${client.node.id}: ${failed.length} failed attempts`);
    }
    t.log(
      `service move bravo → hid1 (tool ${deployStarted - moveStarted} ms), applied on every node in ${applied - deployStarted} ms:\n${lines.join('\n')}`,
    );

    t.false((await addressesOf(bravo)).includes(cidr), 'bravo’s workload no longer holds the address');
    t.true((await addressesOf(hid1)).includes(cidr), 'hid1’s workload holds it');
    t.deepEqual(await tracesOn('bravo', address), [], 'no address or route of the service in bravo’s namespaces');
    t.true(
      (await tracesOn('hid1', address)).some((line) => line.includes(`via ${hid1.ip}`)),
      'hid1 routes it to its workload',
    );
    // alpha (the aggregator) reaches hid1 directly; bravo through the aggregator; hidden ones by the range.
    t.deepEqual(await holdersOf(cidr), { alpha: ['hid1'], bravo: ['alpha'], hid1: [], hid2: [] });
  },
);

test.serial('a removed service leaves nothing: no address, no route, no allowed IP on any node', async (t) => {
  const { world, net } = mesh;
  const { address } = definition().services![0]!;
  await net.tool('service remove', ['--name', 'web']);
  t.is(definition().services, undefined);
  await world.deploy(net);
  for (const w of mesh.workloads) t.false((await addressesOf(w)).includes(`${address}/32`), w.label);
  for (const node of world.nodes) t.deepEqual(await tracesOn(node.id, address), [], node.id);
  t.deepEqual(await holdersOf(`${address}/32`), { alpha: [], bravo: [], hid1: [], hid2: [] });
});
