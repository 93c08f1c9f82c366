// Aggregator failover end to end (#19): two aggregators (alpha preferred, bravo), two other
// public nodes (charlie, delta) and two hidden nodes behind NAT (hid1, hid2), each with its own
// networkd and wgd. Continuous pings between workloads of hidden↔hidden, hidden↔public and
// public↔hidden pairs run while alpha's daemons are SIGKILLed: every pair must recover through
// bravo with no definition change and no control-plane action, each NR deciding alone; the
// outage per pair is measured. Then alpha comes back and traffic returns to it; its uplink is cut
// (daemons alive); and last hid1's NAT drops only its flow to alpha: hid1 moves to bravo alone,
// the others learn it from the aggregators' in-band announcements (src/networkd/carriage.ts).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { UapiClient } from '../../src/wg/uapi/client.js';
import { waitFor } from '../harness/index.js';
import { ContinuousPing, type FlowReport, longestLossRun } from '../../src/sim/continuous-ping.js';
import { FOUR_PUBLIC_TWO_HIDDEN_NODES } from '../../src/sim/mesh.js';
import type { SimNetwork } from '../../src/sim/network.js';
import { SimWorld, type SimWorkload } from '../../src/sim/world.js';

const PING_INTERVAL_MS = 100;
/**
 * The goal is 5 s (3 s of silence, a 500 ms poll, an apply) and runs measure ~3.3 s; the bound
 * leaves room for a loaded 2-core CI (one pair of one run at load 25 took 7.6 s).
 */
const OUTAGE_BOUND_MS = 15_000;
/**
 * Traffic moving back to the preferred aggregator: the goal is no loss beyond one ping (100 ms),
 * which the hand-over (src/networkd/carriage.ts) measures here; the bound leaves room for a
 * loaded CI, and is still far below what a return without the hand-over lost (up to 2 s).
 */
const RETURN_BOUND_MS = 1_000;
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['hid1', 'hid2'],
  ['hid2', 'hid1'],
  ['hid1', 'charlie'],
  ['charlie', 'hid2'],
  ['delta', 'hid1'],
  ['hid2', 'delta'],
  ['hid1', 'bravo'],
];

let world: SimWorld;
let net: SimNetwork;
const workloads = new Map<string, SimWorkload>();

test.before(async () => {
  world = await SimWorld.create(FOUR_PUBLIC_TWO_HIDDEN_NODES);
  net = await world.createNetwork('fo', '10.5.0.0/16', world.nodes);
  await net.setAggregators([world.node('alpha'), world.node('bravo')]);
  await world.deploy(net);
  for (const node of world.nodes) workloads.set(node.id, await world.attachWorkload(net, node));
  await waitForCurrent(
    world.nodes.map((n) => n.id),
    'alpha',
    { bothUp: true, timeoutMs: 30_000 },
  );
});

test.afterEach.always(async (t) => {
  if (t.passed) return;
  t.log(world?.diagnostics());
  t.log(await devices().catch((e: Error) => `devices: ${e.message}`));
});

/** Every running node's device as its UAPI answers (peers by node, allowed IPs, rx): what the switch changed. */
async function devices(): Promise<string> {
  const definition = net.definition() as { resources: Array<{ node: string; wgPublicKey: string }> };
  const nodeOf = new Map(definition.resources.map((r) => [r.wgPublicKey, r.node]));
  const lines: string[] = [];
  for (const node of world.nodes) {
    const dir = join(node.stateDir, 'networkd', 'wireguard');
    for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sock')) : []) {
      try {
        const view = await new UapiClient().get(join(dir, file));
        for (const p of view.peers) {
          const node2 = nodeOf.get(p.publicKey.base64()) ?? '?';
          const ips = p.allowedIps.map((ip) => ip.text).join(',');
          lines.push(
            `${node.id} → ${node2}: [${ips}] rx ${p.rxBytes} hs ${p.lastHandshake.sec} ep ${p.endpoint?.text ?? '-'}`,
          );
        }
      } catch (error) {
        lines.push(`${node.id}: ${(error as Error).message}`);
      }
    }
    try {
      lines.push(`${node.id} failover: ${JSON.stringify((await node.api.getNetwork(net.name)).failover)}`);
    } catch {
      lines.push(`${node.id}: networkd does not answer`);
    }
  }
  return lines.join('\n');
}

test.after.always(async () => {
  await world?.teardown();
});

/** Until every listed node's networkd reports `current` as its aggregator (and, if asked, both up). */
async function waitForCurrent(
  nodes: readonly string[],
  current: string,
  opts: { bothUp?: boolean; timeoutMs: number },
): Promise<void> {
  await waitFor(
    async () => {
      for (const id of nodes) {
        const failover = (await world.node(id).api.getNetwork(net.name)).failover;
        if (failover?.current !== current) return false;
        if (opts.bothUp && !(failover.up['alpha'] && failover.up['bravo'])) return false;
      }
      return true;
    },
    { what: `every NR of ${nodes.join(', ')} using aggregator ${current}`, timeoutMs: opts.timeoutMs, intervalMs: 250 },
  );
}

async function startPings(pairs = PAIRS): Promise<Array<{ pair: string; ping: ContinuousPing }>> {
  return Promise.all(
    pairs.map(async ([from, to]) => ({
      pair: `${from} → ${to}`,
      ping: await ContinuousPing.start(workloads.get(from)!.ns, workloads.get(to)!.ip, PING_INTERVAL_MS, 10_000),
    })),
  );
}

/** Until every ping has answered requests sent at least `ms` after now (traffic flows again). */
async function waitForProgress(pings: ReadonlyArray<{ ping: ContinuousPing }>, ms: number, timeoutMs: number) {
  const target = pings.map(({ ping }) => ping.lastAnswered() + Math.ceil(ms / PING_INTERVAL_MS));
  await waitFor(() => pings.every(({ ping }, i) => ping.lastAnswered() >= target[i]!), {
    what: 'every pinged pair answering again',
    timeoutMs,
    intervalMs: 100,
  });
}

function outages(reports: ReadonlyArray<{ pair: string; report: FlowReport }>) {
  return reports.map(({ pair, report }) => ({ pair, ms: longestLossRun(report) * PING_INTERVAL_MS, report }));
}

function summary(rows: ReadonlyArray<{ pair: string; ms: number }>): string {
  const sorted = rows.map((r) => r.ms).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `${rows.map((r) => `${r.pair} ${r.ms} ms`).join('; ')} — median ${median} ms, worst ${sorted.at(-1)} ms`;
}

test.serial(
  'SIGKILL of the preferred aggregator: every pair recovers through the other within the bound',
  async (t) => {
    const pings = await startPings();
    await waitForProgress(pings, 1_000, 10_000);
    const alpha = world.node('alpha');
    await alpha.crashDaemons();
    const survivors = world.nodes.filter((n) => n !== alpha).map((n) => n.id);
    await waitForCurrent(survivors, 'bravo', { timeoutMs: 30_000 });
    await waitForProgress(pings, 2_000, 30_000);
    const rows = outages(await Promise.all(pings.map(async ({ pair, ping }) => ({ pair, report: await ping.stop() }))));
    t.log(`failover outage per pair: ${summary(rows)}`);
    for (const { pair, ms, report } of rows) {
      t.true(ms > 0, `${pair}: the kill interrupted the flow (lost ${report.lost.length})`);
      t.true(ms <= OUTAGE_BOUND_MS, `${pair}: outage ${ms} ms > ${OUTAGE_BOUND_MS} ms`);
    }
    for (const id of survivors) {
      const failover = (await world.node(id).api.getNetwork(net.name)).failover!;
      t.like(failover.switches.at(-1), { from: 'alpha', to: 'bravo', reason: 'down' }, id);
      t.false(failover.up['alpha'], `${id} sees alpha down`);
    }
  },
);

test.serial('the preferred aggregator back: every NR returns to it and traffic flows through it', async (t) => {
  const pings = await startPings();
  const alpha = world.node('alpha');
  await alpha.startNetworkd();
  await waitForCurrent(
    world.nodes.map((n) => n.id),
    'alpha',
    { timeoutMs: 40_000 },
  );
  await waitForProgress(pings, 2_000, 30_000);
  const rows = outages(await Promise.all(pings.map(async ({ pair, ping }) => ({ pair, report: await ping.stop() }))));
  t.log(`return to alpha, longest loss per pair: ${summary(rows)}`);
  for (const { pair, ms } of rows) t.true(ms <= RETURN_BOUND_MS, `${pair}: ${ms} ms without answers on the return`);
  // Hidden ↔ hidden goes through alpha again: its counters for both hidden peers grow.
  const rx = async () => {
    const peers = (await alpha.api.getNetwork(net.name)).device?.peers ?? [];
    return peers.filter((p) => p.node === 'hid1' || p.node === 'hid2').map((p) => p.rxBytes);
  };
  const before = await rx();
  const ping = await ContinuousPing.start(workloads.get('hid1')!.ns, workloads.get('hid2')!.ip, PING_INTERVAL_MS);
  await waitForProgress([{ ping }], 1_000, 10_000);
  await ping.stop();
  const after = await rx();
  t.is(after.length, 2);
  t.true(
    after.every((bytes, i) => bytes - (before[i] ?? 0) > 10 * 84),
    `alpha relayed hid1 ↔ hid2: rx ${before} → ${after}`,
  );
});

test.serial(
  "the preferred aggregator's underlay cut (daemons alive): pairs recover through the other; link back: they return",
  async (t) => {
    const alpha = world.node('alpha');
    const pings = await startPings();
    await waitForProgress(pings, 1_000, 10_000);
    // The Internet side of alpha's uplink goes down: alpha's daemons run on and hear nothing.
    await world.internet.ip(['link', 'set', `pub${alpha.index}`, 'down']);
    try {
      const survivors = world.nodes.filter((n) => n !== alpha).map((n) => n.id);
      await waitForCurrent(survivors, 'bravo', { timeoutMs: 30_000 });
      await waitForProgress(pings, 2_000, 30_000);
    } finally {
      await world.internet.ip(['link', 'set', `pub${alpha.index}`, 'up']);
    }
    const rows = outages(await Promise.all(pings.map(async ({ pair, ping }) => ({ pair, report: await ping.stop() }))));
    t.log(`underlay cut, outage per pair: ${summary(rows)}`);
    for (const { pair, ms } of rows) t.true(ms <= OUTAGE_BOUND_MS, `${pair}: outage ${ms} ms > ${OUTAGE_BOUND_MS} ms`);
    t.is((await alpha.api.getNetwork(net.name)).failover?.current, 'alpha', 'alpha, cut off, still serves itself');
    await waitForCurrent(
      world.nodes.map((n) => n.id),
      'alpha',
      { timeoutMs: 40_000 },
    );
  },
);

/** Until every listed node routes hidden NR `hidden` through `via` (its carrier, from announcements). */
async function waitForCarrier(nodes: readonly string[], hidden: string, via: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      for (const id of nodes) {
        const failover = (await world.node(id).api.getNetwork(net.name)).failover;
        if ((failover?.carriers[hidden] ?? failover?.current) !== via) return false;
      }
      return true;
    },
    { what: `${nodes.join(', ')} routing ${hidden} through ${via}`, timeoutMs, intervalMs: 250 },
  );
}

/** hid1's NAT drops its flow to and from alpha (nothing else): an nft table in the NAT router's own namespace. */
async function cutHid1FromAlpha(cut: boolean): Promise<void> {
  const nat = world.node('hid1').nat!;
  const alpha = world.node('alpha').uplinkAddress;
  if (!cut) {
    await nat.exec('nft', ['delete', 'table', 'inet', 'zmesh_test_cut']);
    return;
  }
  await nat.exec('nft', ['-f', '-'], {
    input: [
      'table inet zmesh_test_cut {',
      '  chain forward {',
      '    type filter hook forward priority -10; policy accept;',
      `    ip daddr ${alpha} drop`,
      `    ip saddr ${alpha} drop`,
      '  }',
      '}',
    ].join('\n'),
  });
}

test.serial(
  "a hidden node's own path to the preferred aggregator cut: it moves alone, every pair with it recovers, the others lose nothing; path back: it returns",
  async (t) => {
    const withHid1 = (pair: readonly [string, string]) => pair.includes('hid1');
    const pairs = [...PAIRS, ['alpha', 'hid1'] as const, ['hid1', 'alpha'] as const];
    const pings = await startPings(pairs);
    await waitForProgress(pings, 1_000, 10_000);
    const others = world.nodes.filter((n) => n.id !== 'hid1').map((n) => n.id);
    const publics = world.nodes.filter((n) => !n.hidden).map((n) => n.id);
    await cutHid1FromAlpha(true);
    try {
      await waitForCurrent(['hid1'], 'bravo', { timeoutMs: 30_000 });
      await waitForCarrier(publics, 'hid1', 'bravo', 30_000);
      await waitForProgress(pings, 2_000, 30_000);
      for (const id of others) {
        t.is((await world.node(id).api.getNetwork(net.name)).failover?.current, 'alpha', `${id} stays on alpha`);
      }
    } finally {
      await cutHid1FromAlpha(false).catch((error: Error) => t.log(`restoring hid1's flow: ${error.message}`));
    }
    const rows = outages(await Promise.all(pings.map(async ({ pair, ping }) => ({ pair, report: await ping.stop() }))));
    const involved = rows.filter((_, i) => withHid1(pairs[i]!));
    const uninvolved = rows.filter((_, i) => !withHid1(pairs[i]!));
    t.log(`hid1 cut from alpha, outage per pair with hid1: ${summary(involved)}`);
    t.log(`hid1 cut from alpha, longest loss of the other pairs: ${summary(uninvolved)}`);
    for (const { pair, ms } of involved)
      t.true(ms <= OUTAGE_BOUND_MS, `${pair}: outage ${ms} ms > ${OUTAGE_BOUND_MS} ms`);
    // The others never changed path: a lost ping there would be the loaded machine, not failover.
    for (const { pair, ms } of uninvolved) t.true(ms <= 1_000, `${pair}: lost ${ms} ms though hid1 alone moved`);

    const back = await startPings(pairs);
    await waitForCurrent(['hid1'], 'alpha', { timeoutMs: 40_000 });
    await waitForCarrier(publics, 'hid1', 'alpha', 30_000);
    await waitForProgress(back, 2_000, 30_000);
    const returned = outages(
      await Promise.all(back.map(async ({ pair, ping }) => ({ pair, report: await ping.stop() }))),
    );
    t.log(`hid1's flow to alpha back, longest loss per pair: ${summary(returned)}`);
    for (const { pair, ms } of returned)
      t.true(ms <= RETURN_BOUND_MS, `${pair}: ${ms} ms without answers on the return`);
  },
);
