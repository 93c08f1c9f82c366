/**
 * Trust and continuity in the simulated mesh (#21): the standard 4-node world (two public, two
 * hidden behind NAT), every definition signed by the world's admin and trusted by every node.
 * One world for every scenario, in order: a key rotation under continuous pings between every
 * pair (10/s), then pinning refusing a silent key swap on every node.
 */
import test from 'ava';
import { ContinuousPing, type FlowReport } from '../../src/sim/continuous-ping.js';
import { buildStandardMesh, type StandardMesh } from '../../src/sim/mesh.js';
import { AdminKey, type NetworkDefinition, signDefinition } from '../../src/netdef/index.js';
import { readFileSync } from 'node:fs';

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

test.serial("rotating one node's key under pings between every pair at 10/s loses at most 1 ping per pair", async (t) => {
  const { world, net, workloads } = mesh;
  const pairs = workloads.flatMap((from) => workloads.filter((to) => to !== from).map((to) => ({ from, to })));
  const flows = await Promise.all(pairs.map(async (p) => ({ ...p, flow: await ContinuousPing.start(p.from.ns, p.to.ip, 100, 10_000) })));
  const before = net.definition() as NetworkDefinition;
  await new Promise((r) => setTimeout(r, 1000));
  await net.tool('rotate-key', ['--node', 'bravo']);
  const started = Date.now();
  await world.deploy(net);
  const appliedMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 3000));
  const reports = await Promise.all(flows.map(async (f) => ({ pair: `${f.from.label}→${f.to.label}`, report: await f.flow.stop() })));
  const after = net.definition() as NetworkDefinition;
  t.not(after.resources.find((r) => r.node === 'bravo')?.wgPublicKey, before.resources.find((r) => r.node === 'bravo')?.wgPublicKey);
  const lines = reports.map(({ pair, report }) => `${pair}: ${report.lost.length}/${report.sent} lost, gap ${longestGap(report) * 100} ms`);
  t.log(`rotate-key bravo, applied on every node in ${appliedMs} ms:\n${lines.join('\n')}`);
  for (const { pair, report } of reports) {
    t.true(report.sent >= 30, `${pair}: the ping ran`);
    t.true(report.lost.length <= 1, `${pair}: ${report.lost.length} lost (${report.lost.join(', ')})`);
  }
});

test.serial('pinning: every node refuses a validly signed silent key swap, names node and field, and keeps the last good revision', async (t) => {
  const { world, net } = mesh;
  const current = net.definition() as NetworkDefinition;
  const admin = AdminKey.fromBase64(readFileSync(world.admin.keyFile, 'utf8'));
  const alphaKey = current.resources.find((r) => r.node === 'alpha')!.wgPublicKey;
  const swapped = signDefinition(
    {
      ...current,
      revision: current.revision + 1,
      identityChanges: undefined,
      resources: current.resources.map((r) => (r.node === 'hid1' ? { ...r, wgPublicKey: alphaKey.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } : r)),
    } as unknown as NetworkDefinition,
    admin,
  );
  const clean = JSON.parse(JSON.stringify(swapped));
  for (const node of world.nodes.filter((n) => n.id !== 'hid1')) {
    const answer = await node.api.raw('PUT', `/v1/networks/${net.name}`, clean);
    t.is(answer.status, 400, node.id);
    t.regex(JSON.stringify(answer.body), /pinned: node \\"hid1\\"'s WireGuard key changed without a rotation or reprovision record/, node.id);
  }
  const matrix = await world.reachability();
  t.deepEqual(matrix.filter((p) => !p.reachable).map((p) => `${p.from}→${p.to}`), []);
});
