/**
 * Trust and continuity in the simulated mesh (#21): the standard 4-node world (two public, two
 * hidden behind NAT), every definition signed by the world's admin and trusted by every node.
 * One world for every scenario, in order: a key rotation under continuous pings between every
 * pair (10/s), pinning refusing a silent key swap on every node, then two nodes re-provisioned
 * (a new disk: new identity) with --rotate-key and with --old-node-key.
 */
import test from 'ava';
import { ContinuousPing, type FlowReport } from '../../src/sim/continuous-ping.js';
import { buildStandardMesh, type StandardMesh } from '../../src/sim/mesh.js';
import {
  AdminKey,
  type NetworkDefinition,
  PrivateKey,
  UnsealError,
  openResourceKey,
  signDefinition,
  wgAddressOf,
  parseCidr,
} from '../../src/netdef/index.js';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { runCommand } from '../../src/sim/harness/command.js';
import { systemTool } from '../../src/sim/harness/system-tools.js';
import type { SimNode } from '../../src/sim/node.js';
import type { SimWorkload } from '../../src/sim/world.js';

let mesh: StandardMesh;

test.before(async () => {
  mesh = await buildStandardMesh({ networkName: 'trust', ipRange: '10.41.0.0/16' });
});

test.after.always(async () => {
  await mesh?.world.teardown();
});

/** Longest run of consecutive lost sequence numbers. */
function longestGap(report: FlowReport): number {
  let longest = 0;
  let run = 0;
  let previous = -2;
  for (const seq of report.lost) {
    run = seq === previous + 1 ? run + 1 : 1;
    longest = Math.max(longest, run);
    previous = seq;
  }
  return longest;
}

test.serial(
  "rotating one node's key under pings between every pair at 10/s loses at most 1 ping per pair",
  async (t) => {
    const { world, net, workloads } = mesh;
    const pairs = workloads.flatMap((from) => workloads.filter((to) => to !== from).map((to) => ({ from, to })));
    const flows = await Promise.all(
      pairs.map(async (p) => ({ ...p, flow: await ContinuousPing.start(p.from.ns, p.to.ip, 100, 10_000) })),
    );
    const before = net.definition() as NetworkDefinition;
    await new Promise((r) => setTimeout(r, 1000));
    await net.tool('rotate-key', ['--node', 'bravo']);
    const started = Date.now();
    await world.deploy(net);
    const appliedMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 3000));
    const reports = await Promise.all(
      flows.map(async (f) => ({ pair: `${f.from.label}→${f.to.label}`, report: await f.flow.stop() })),
    );
    const after = net.definition() as NetworkDefinition;
    t.not(
      after.resources.find((r) => r.node === 'bravo')?.wgPublicKey,
      before.resources.find((r) => r.node === 'bravo')?.wgPublicKey,
    );
    const lines = reports.map(
      ({ pair, report }) => `${pair}: ${report.lost.length}/${report.sent} lost, gap ${longestGap(report) * 100} ms`,
    );
    t.log(`rotate-key bravo, applied on every node in ${appliedMs} ms:\n${lines.join('\n')}`);
    for (const { pair, report } of reports) {
      t.true(report.sent >= 30, `${pair}: the ping ran`);
      t.true(report.lost.length <= 1, `${pair}: ${report.lost.length} lost (${report.lost.join(', ')})`);
    }
  },
);

test.serial(
  'pinning: every node refuses a validly signed silent key swap, names node and field, and keeps the last good revision',
  async (t) => {
    const { world, net } = mesh;
    const current = net.definition() as NetworkDefinition;
    const admin = AdminKey.fromBase64(readFileSync(world.admin.keyFile, 'utf8'));
    const alphaKey = current.resources.find((r) => r.node === 'alpha')!.wgPublicKey;
    const swapped = signDefinition(
      {
        ...current,
        revision: current.revision + 1,
        identityChanges: undefined,
        resources: current.resources.map((r) =>
          r.node === 'hid1' ? { ...r, wgPublicKey: alphaKey.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } : r,
        ),
      } as unknown as NetworkDefinition,
      admin,
    );
    const clean = JSON.parse(JSON.stringify(swapped));
    for (const node of world.nodes.filter((n) => n.id !== 'hid1')) {
      const answer = await node.api.raw('PUT', `/v1/networks/${net.name}`, clean);
      t.is(answer.status, 400, node.id);
      t.regex(
        JSON.stringify(answer.body),
        /pinned: node \\"hid1\\"'s WireGuard key changed without a rotation or reprovision record/,
        node.id,
      );
    }
    const matrix = await world.reachability();
    t.deepEqual(
      matrix.filter((p) => !p.reachable).map((p) => `${p.from}→${p.to}`),
      [],
    );
  },
);

/** "Reinstall" a node: SIGKILL its daemons, delete its namespaces and its whole state dir, node init anew. */
async function reinstall(node: SimNode): Promise<PrivateKey> {
  const oldIdentity = PrivateKey.fromBase64(readFileSync(node.identityKeyFile, 'utf8'));
  const wgd = node.wgdPids();
  await node.killNetworkd('SIGKILL');
  for (const pid of wgd) process.kill(pid, 'SIGKILL');
  for (const ns of node.ownedNamespaces()) await runCommand(systemTool('ip'), ['netns', 'delete', ns]);
  rmSync(node.stateDir, { recursive: true, force: true });
  mkdirSync(node.stateDir, { mode: 0o700 });
  await node.init();
  return oldIdentity;
}

const netnsInode = (name: string) => statSync(`/run/netns/${name}`).ino;
/** Workloads of a reinstalled node: their NR (and veth) went with the old disk. */
const stale = new Set<SimWorkload>();

for (const [id, how] of [
  ['bravo', ['--rotate-key']],
  ['hid2', ['--old-node-key']],
] as const) {
  test.serial(
    `re-provisioning ${id} (${how[0]}): same subnet, address, port; every pair reaches it; nothing else re-created`,
    async (t) => {
      const { world, net } = mesh;
      const node = world.node(id);
      const before = net.definition() as NetworkDefinition;
      const old = before.resources.find((r) => r.node === id)!;
      const others = world.nodes.filter((n) => n !== node);
      const inodes = others.map((n) => n.ownedNamespaces().map(netnsInode));
      for (const w of world.workloads) if (w.node === node) stale.add(w);
      const survivors = world.workloads.filter((w) => w.node !== node && w.network === net && !stale.has(w));
      const flow = await ContinuousPing.start(survivors[0]!.ns, survivors[1]!.ip, 100, 10_000);
      const oldKeyFile = `${world.harness.tempDir()}/${id}-old-identity.key`;
      if (how[0] === '--old-node-key') (await import('node:fs')).copyFileSync(node.identityKeyFile, oldKeyFile);
      const oldIdentity = await reinstall(node);
      await net.tool('reprovision', [
        '--node',
        id,
        '--node-record',
        node.recordFile,
        ...(how[0] === '--rotate-key' ? ['--rotate-key'] : ['--old-node-key', oldKeyFile]),
      ]);
      const after = net.definition() as NetworkDefinition;
      const now = after.resources.find((r) => r.node === id)!;
      t.is(now.subnet, old.subnet);
      t.is(now.listenPort, old.listenPort);
      t.is(wgAddressOf(parseCidr(now.subnet)!), wgAddressOf(parseCidr(old.subnet)!));
      t.not(now.identityKey, old.identityKey);
      t.is(now.wgPublicKey === old.wgPublicKey, how[0] === '--old-node-key', 'rotated only with --rotate-key');
      t.throws(
        () => openResourceKey(now, oldIdentity),
        { instanceOf: UnsealError },
        'the old identity cannot open the new seal',
      );
      t.deepEqual(
        after.resources.filter((r) => r.node !== id),
        before.resources.filter((r) => r.node !== id),
        'the other NRs are unchanged',
      );
      if (how[0] === '--rotate-key') {
        // Pinning: the same key change without the reprovision record is refused by a peer.
        const { identityChanges: _r, ...bare } = JSON.parse(JSON.stringify(after));
        const admin = AdminKey.fromBase64(readFileSync(world.admin.keyFile, 'utf8'));
        const refused = await world
          .node('alpha')
          .api.raw('PUT', `/v1/networks/${net.name}`, signDefinition(bare, admin));
        t.is(refused.status, 400);
        t.regex(JSON.stringify(refused.body), new RegExp(`pinned: node \\\\"${id}\\\\"'s WireGuard key changed`));
      }
      await node.startNetworkd();
      await world.deploy(net);
      const fresh: SimWorkload = await world.attachWorkload(net, node);
      const report = await flow.stop();
      t.true(
        report.lost.length <= 1,
        `${survivors[0]!.label}→${survivors[1]!.label} while ${id} was reinstalled: ${report.lost.length}/${report.sent} lost`,
      );
      t.deepEqual(
        others.map((n) => n.ownedNamespaces().map(netnsInode)),
        inodes,
        'no other NR namespace was re-created',
      );
      const matrix = await world.reachability([...survivors, fresh], { timeoutMs: 20_000 });
      t.deepEqual(
        matrix.filter((p) => !p.reachable).map((p) => `${p.from}→${p.to}`),
        [],
      );
      t.log(
        `${id} re-provisioned (${how[0]}): ${report.lost.length}/${report.sent} pings lost between two other nodes meanwhile`,
      );
    },
  );
}
