/**
 * The fleet control plane's rollout time (npm run bench:fleet [-- --nodes N], default 50): N
 * simulated public nodes, each with networkd + wgd (userspace WireGuard) + provisiond as the
 * store agent, a 3-member etcd cluster on the simulated internet, one network over the nodes.
 *
 *   1. via the store: `zmesh net add-node` (one more node) from the operator's namespace; from
 *      the tool's exit (the change is committed) until each node's networkd runs the new
 *      revision (polled through its API): p50, p95, max over nodes.
 *   2. the same with one etcd member SIGKILLed (the change: removing that node again).
 *   3. direct push, today's way, in the same run: the same change (the node added again), built
 *      here and PUT straight into every networkd in parallel; per node the time until its PUT
 *      answered.
 * Also the tool's own time per edit, RSS per node (networkd + wgd + provisiond) and the store's
 * key and byte counts. Prints a table and one JSON line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AdminKey,
  type NetworkDefinition,
  type NodeRecord,
  addNode,
  assertNodeRecord,
  createNetwork,
  ready,
  signDefinition,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { pidsInNamespace } from '../../src/sim/harness/runs.js';
import { SimFleet } from '../../src/sim/fleet.js';
import type { SimNode } from '../../src/sim/node.js';
import { SimWorld } from '../../src/sim/world.js';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '50' } } });
const NODES = Number(values.nodes);
if (!Number.isInteger(NODES) || NODES < 3 || NODES > 60) throw new Error('--nodes must be an integer from 3 to 60');
const NET = 'bench';

const quantile = (xs: readonly number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
};
const stats = (xs: readonly number[]) => ({ p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs) });

async function appliedAt(
  fleet: SimFleet,
  nodes: readonly SimNode[],
  revision: number,
  since: number,
  timeoutMs = 120_000,
): Promise<number[]> {
  const done = new Map<SimNode, number>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < nodes.length) {
    if (Date.now() > deadline)
      throw new Error(
        `not applied within ${timeoutMs} ms: ${nodes
          .filter((n) => !done.has(n))
          .map((n) => n.id)
          .join(', ')}`,
      );
    await Promise.all(
      nodes
        .filter((n) => !done.has(n))
        .map(async (n) => {
          if ((await fleet.appliedRevision(n, NET)) === revision) done.set(n, Date.now() - since);
        }),
    );
    await new Promise((r) => setTimeout(r, 20));
  }
  return nodes.map((n) => done.get(n) as number);
}

function rssMiB(node: SimNode): number {
  let kib = 0;
  for (const pid of pidsInNamespace(node.host.name)) {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kib / 1024;
}

async function main(): Promise<void> {
  await ready();
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  log(`world: ${NODES} public nodes (networkd + wgd), etcd x3, provisiond agents`);
  const specs = Array.from({ length: NODES }, (_, i) => ({ id: `n${i + 1}` }));
  const world = await SimWorld.create(specs);
  try {
    const fleet = await SimFleet.create(world);
    await fleet.startAgents();
    const [last, ...rest] = [...world.nodes].reverse();
    const members = rest.reverse();
    // The starting definition, built here and imported in one go (N add-node processes would take minutes).
    let def: NetworkDefinition = createNetwork(NET, '10.0.0.0/8');
    const records: NodeRecord[] = members.map((n) => assertNodeRecord(n.record()));
    for (const r of records) def = addNode(def, r, sodiumKeySource);
    const admin = AdminKey.fromBase64(readFileSync(world.admin.keyFile, 'utf8'));
    def = signDefinition(def, admin);
    const dump = join(world.harness.tempDir(), 'bench-dump.json');
    writeFileSync(
      dump,
      JSON.stringify({
        format: 'zmesh-store-dump',
        version: 1,
        revision: 0,
        source: 'bench',
        exportedAt: new Date().toISOString(),
        networks: [def],
        records,
      }),
    );
    await fleet.tool(['store', 'import', '--store', fleet.url, dump]);
    log(`network ${NET}: ${members.length} NRs imported at revision ${def.revision}; waiting for every node`);
    await appliedAt(fleet, members, def.revision, Date.now(), 300_000);

    log('1. via the store: add-node');
    const t1 = Date.now();
    await fleet.net('add-node', NET, ['--node-record', last!.recordFile]);
    const published1 = Date.now();
    const store1 = await appliedAt(fleet, world.nodes, def.revision + 1, published1);

    log('2. via the store with one etcd member down: remove-node');
    await fleet.etcd.kill(0);
    const t2 = Date.now();
    await fleet.net('remove-node', NET, ['--node', last!.id]);
    const published2 = Date.now();
    const store2 = await appliedAt(fleet, members, def.revision + 2, published2);
    await fleet.etcd.restart(0);

    log('3. direct push into every networkd: the same change (add-node), built here');
    const current = JSON.parse(readFileSync(await exportFile(fleet), 'utf8')) as { networks: NetworkDefinition[] };
    const next = signDefinition(
      addNode(
        current.networks.find((n) => n.name === NET) as NetworkDefinition,
        assertNodeRecord(last!.record()),
        sodiumKeySource,
      ),
      admin,
    );
    const t3 = Date.now();
    const direct = await Promise.all(
      world.nodes.map(async (n) => {
        await n.api.applyNetwork(NET, next);
        return Date.now() - t3;
      }),
    );

    const rss = world.nodes.map(rssMiB);
    const keys = await storeCounts(fleet);
    const rows = [
      ['via store (add-node)', store1, published1 - t1],
      ['via store, 1 member down (remove-node)', store2, published2 - t2],
      ['direct push to each networkd (add-node)', direct, 0],
    ] as const;
    const out = rows.map(([what, xs, tool]) => ({ what, ...stats(xs), tool }));
    console.log(`\nfleet rollout, ${NODES} nodes (publish → networkd runs the revision, ms)`);
    console.log(
      `${'path'.padEnd(42)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'max'.padStart(8)}${'tool'.padStart(8)}`,
    );
    for (const r of out)
      console.log(
        `${r.what.padEnd(42)}${String(r.p50).padStart(8)}${String(r.p95).padStart(8)}${String(r.max).padStart(8)}${String(r.tool).padStart(8)}`,
      );
    console.log(`ratio store/direct (max): ${(out[0]!.max / out[2]!.max).toFixed(2)}x`);
    console.log(
      `RSS per node (networkd + wgd + provisiond): p50 ${quantile(rss, 0.5).toFixed(0)} MiB, max ${Math.max(...rss).toFixed(0)} MiB`,
    );
    console.log(`store: ${keys.keys} keys, ${keys.bytes} bytes of values under /zmesh/v1/`);
    console.log(
      JSON.stringify({
        nodes: NODES,
        results: out,
        rssMiB: { p50: quantile(rss, 0.5), max: Math.max(...rss) },
        store: keys,
      }),
    );
  } finally {
    await world.teardown();
  }
}

async function exportFile(fleet: SimFleet): Promise<string> {
  const file = join(fleet.world.harness.tempDir(), 'bench-export.json');
  await fleet.tool(['store', 'export', '--store', fleet.url, file]);
  return file;
}

async function storeCounts(fleet: SimFleet): Promise<{ keys: number; bytes: number }> {
  const r = await fleet.admin.exec(
    'etcdctl',
    ['--endpoints', fleet.etcd.endpoints.join(','), 'get', '/zmesh/v1/', '--prefix', '-w', 'json'],
    { env: { ETCDCTL_API: '3' } },
  );
  const kvs = (JSON.parse(r.stdout) as { kvs?: { value: string }[] }).kvs ?? [];
  return { keys: kvs.length, bytes: kvs.reduce((sum, kv) => sum + Buffer.from(kv.value, 'base64').length, 0) };
}

await main();
