// networkd's end-to-end scenario with kernel WireGuard (`zmesh networkd --wg kernel`), run inside
// the guest kernel (scripts/kvm/run npx ava --tap test/kvm/); skipped, saying why, on a kernel
// without the generic netlink family `wireguard` (this machine's).
//
// The simulated world kept minimal for emulation (~16× slower): two public nodes and one hidden
// node behind NAT, one network with alpha as aggregator, one workload on each NR. Proves: networkd
// reports the kernel backend and starts no wgd; every pair of workloads pings (hidden ↔ public
// through the aggregator); each NR's WireGuard device is a kernel link (`ip -d link` says
// wireguard) whose peers wg(8) lists over netlink with handshakes; its UDP socket listens in the
// node's namespace, not the NR's; deleting the network leaves no namespace, link, socket or
// process behind. Deadlines are raised through the sim's options only.
import test from 'ava';
import { netIdOf } from '../../src/netdef/index.js';
import { waitForHandshakes } from '../../src/sim/mesh.js';
import type { SimNetwork } from '../../src/sim/network.js';
import type { SimNode } from '../../src/sim/node.js';
import { SimWorld, type SimWorkload } from '../../src/sim/world.js';
import { defaultZmeshInvocation, distIsFresh } from '../../src/sim/zmesh-command.js';
import { listLinks, wireguardFamilyAvailable } from '../../src/nr/wireguard/kernel/index.js';
import { runCommand, systemTool } from '../harness/index.js';
import { oneFileAtATime } from './one-file-at-a-time.js';

const available = wireguardFamilyAvailable(null);
const kernelTest = available ? test.serial : test.skip;
if (!available) {
  console.log(
    '# networkd kernel WireGuard scenario skipped: this kernel has no generic netlink family "wireguard" (run it with scripts/kvm/run)',
  );
}

/** Generous for a guest under software emulation; each is a deadline, never a sleep. */
const GUEST_MS = {
  tool: 180_000,
  networkdStart: 180_000,
  handshakes: 120_000,
  pingPair: 60_000,
  hook: 600_000,
  test: 300_000,
  otherFile: 840_000,
};

let world: SimWorld | undefined;
let net: SimNetwork;
let netId: string;
const workloads: SimWorkload[] = [];
let release: (() => void) | undefined;

test.before(async (t) => {
  if (!available) return;
  t.timeout(GUEST_MS.hook + GUEST_MS.otherFile);
  release = await oneFileAtATime(GUEST_MS.otherFile);
  // zmesh from dist/ always: under tsx each zmesh process costs ~35 s here, not ~3 s (setup
  // builds dist/ before the guest boots; a stale one is said, not silently used).
  const root = new URL('../../', import.meta.url).pathname;
  if (!distIsFresh(`${root}src`, `${root}dist`))
    t.log('warning: dist/ is older than src/ (npm run build:ts): zmesh runs from the last build');
  const started = Date.now();
  world = await SimWorld.create([{ id: 'alpha' }, { id: 'bravo' }, { id: 'hid1', hidden: true }], {
    zmesh: { ...defaultZmeshInvocation({ ...process.env, ZMESH_SIM_ZMESH: 'dist' }), toolTimeoutMs: GUEST_MS.tool },
    networkdArgs: ['--wg', 'kernel'],
    networkdStartTimeoutMs: GUEST_MS.networkdStart,
  });
  try {
    net = await world.createNetwork('kern', '10.7.0.0/16', world.nodes, { aggregator: world.node('alpha') });
    netId = netIdOf(net.name);
    await world.deploy(net);
    for (const n of world.nodes) workloads.push(await world.attachWorkload(net, n));
    await waitForHandshakes(world, net, GUEST_MS.handshakes);
  } catch (error) {
    // A hook's failure shows no test's diagnostics: the daemons' logs are what tell why.
    t.log(world.diagnostics());
    throw error;
  }
  t.log(`world of 3 nodes with kernel WireGuard built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(world?.diagnostics());
});

test.after.always(async (t) => {
  t.timeout(GUEST_MS.hook);
  try {
    await world?.teardown();
  } finally {
    release?.();
  }
});

const nrNamespace = (node: SimNode): string => `${node.prefix}n-${netId}`;
const device = (): string => `w-${netId}`;

async function inNr(node: SimNode, command: string, args: readonly string[]): Promise<string> {
  return (
    await runCommand(systemTool('ip'), ['netns', 'exec', nrNamespace(node), systemTool(command), ...args], {
      timeoutMs: 60_000,
    })
  ).stdout;
}

kernelTest('networkd reports the kernel backend in /v1/health and runs no wgd', async (t) => {
  for (const node of world!.nodes) {
    const health = (await node.api.call('GET', '/v1/health')) as { wg?: { backend?: string; wgdPid?: number | null } };
    t.deepEqual(health.wg, { backend: 'kernel', wgdPid: null }, node.id);
    t.deepEqual(node.wgdPids(), [], `${node.id}: no wgd process in the node namespace`);
  }
});

kernelTest('every workload pings every other, hidden ↔ public through the aggregator', async (t) => {
  t.timeout(GUEST_MS.test);
  const results = await world!.reachability(workloads, { count: 2, timeoutMs: GUEST_MS.pingPair });
  t.is(results.length, 6);
  t.deepEqual(
    results.filter((r) => !r.reachable).map((r) => `${r.from} → ${r.to}`),
    [],
  );
});

kernelTest(
  "each NR's WireGuard device is a kernel link whose peers wg(8) lists over netlink with handshakes",
  async (t) => {
    t.timeout(GUEST_MS.test);
    // alpha (aggregator): bravo and hid1; bravo: alpha (which relays to hid1); hid1: alpha only.
    const expectedPeers = new Map([
      ['alpha', 2],
      ['bravo', 1],
      ['hid1', 1],
    ]);
    for (const node of world!.nodes) {
      const detail = (
        await runCommand(systemTool('ip'), ['-d', '-n', nrNamespace(node), 'link', 'show', device()], {
          timeoutMs: 60_000,
        })
      ).stdout;
      t.regex(detail, /\n\s+wireguard\b/, `${node.id}: ip -d link shows kind wireguard`);
      t.deepEqual(listLinks(node.host.path), [], `${node.id}: no WireGuard link left in the node namespace`);
      // No UAPI socket is involved (no wgd): wg(8) reads the kernel over generic netlink.
      const handshakes = (await inNr(node, 'wg', ['show', device(), 'latest-handshakes']))
        .trim()
        .split('\n')
        .filter(Boolean);
      const peers = expectedPeers.get(node.id) ?? -1;
      t.is(handshakes.length, peers, `${node.id}: peers listed by wg show`);
      const withHandshake = handshakes.filter((line) => Number(line.split('\t')[1]) > 0).length;
      t.is(withHandshake, peers, `${node.id}: peers with a handshake\n${handshakes.join('\n')}`);
    }
  },
);

kernelTest("each device's UDP socket listens in the node's namespace, not in the NR's", async (t) => {
  for (const node of world!.nodes) {
    const port = Number((await inNr(node, 'wg', ['show', device(), 'listen-port'])).trim());
    t.true(port > 0, `${node.id}: listen port ${port}`);
    const inHost = (await node.host.exec('ss', ['-ulnH', `sport = :${port}`])).stdout.trim();
    const inNrNs = (
      await runCommand(systemTool('ip'), [
        'netns',
        'exec',
        nrNamespace(node),
        systemTool('ss'),
        '-ulnH',
        `sport = :${port}`,
      ])
    ).stdout.trim();
    t.not(inHost, '', `${node.id}: UDP :${port} in the node namespace`);
    t.is(inNrNs, '', `${node.id}: nothing on :${port} in the NR namespace`);
  }
});

kernelTest(
  'deleting the network leaves no NR namespace, WireGuard link, UDP socket, veth or process behind',
  async (t) => {
    t.timeout(GUEST_MS.test);
    const ports = new Map<SimNode, number>();
    for (const node of world!.nodes)
      ports.set(node, Number((await inNr(node, 'wg', ['show', device(), 'listen-port'])).trim()));
    for (const node of world!.nodes) await world!.undeploy(net, node);
    for (const node of world!.nodes) {
      t.deepEqual(node.ownedNamespaces(), [`${node.prefix}ndmz`], `${node.id}: only the node-level ndmz is left`);
      t.deepEqual(
        [...listLinks(node.host.path), ...listLinks(`/run/netns/${node.prefix}ndmz`)],
        [],
        `${node.id}: no WireGuard link`,
      );
      const port = ports.get(node)!;
      t.is(
        (await node.host.exec('ss', ['-ulnH', `sport = :${port}`])).stdout.trim(),
        '',
        `${node.id}: UDP :${port} closed`,
      );
      t.deepEqual(node.processes(), [node.networkd!.pid], `${node.id}: only networkd runs in the node namespace`);
      const listed = (await node.api.listNetworks()) as { networks: unknown[] };
      t.deepEqual(listed.networks, [], `${node.id}: networkd lists no network`);
    }
    for (const w of workloads)
      t.deepEqual(
        (await w.ns.links()).map((l) => l.ifname),
        ['lo'],
        `${w.label}: no veth left`,
      );
  },
);
