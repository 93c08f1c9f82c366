/**
 * The soak (scripts/soak [--minutes N] [--seed S], default 3 minutes): 6 simulated nodes (2 hidden)
 * with the store (3 etcd members) and provisiond as its agent on each, one network defined
 * through the store, a workload per node, steady pings around a ring of the workloads of the
 * five nodes that never leave (every 200 ms, each to the next), and every few seconds one random
 * operation, each followed by its recovery:
 *   workload attach / detach (extra workloads on any node), a new revision (the exit moved or
 *   cleared), the node "delta" leaving and joining again, SIGKILL of networkd (restarted), of
 *   provisiond (restarted), of wgd (networkd's supervisor restarts it) and of one etcd member
 *   (restarted 3 s later).
 * Kills never hit "alpha": its networkd and wgd live through the whole soak, so their RSS and fd
 * counts, sampled every 30 s after a 60 s warm-up, show growth. At the end: every pair of
 * workloads reachable, no NR namespace beyond the node's ndmz and its network's NR, one networkd
 * and one wgd per node, ping loss attributed to the operation windows it fell in. Prints a table
 * and one JSON line; exit 1 when a check fails.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ContinuousPing, type FlowReport } from '../src/sim/continuous-ping.js';
import { SimFleet, type FleetWorkload } from '../src/sim/fleet.js';
import type { SimNode } from '../src/sim/node.js';
import { SimWorld } from '../src/sim/world.js';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' } },
});
const MINUTES = Number(values.minutes);
if (!(MINUTES > 0 && MINUTES <= 240)) throw new Error('--minutes must be a number in (0, 240]');
let seed = Number(values.seed) >>> 0 || 1;
/** mulberry32: a soak is replayed by its seed. */
const random = (n: number): number => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  return ((x ^ (x >>> 14)) >>> 0) % n;
};

const NET = 'soak';
const PING_MS = 200;
const NODES = [
  { id: 'alpha' },
  { id: 'bravo' },
  { id: 'charlie' },
  { id: 'delta' },
  { id: 'hid1', hidden: true },
  { id: 'hid2', hidden: true },
];
const log = (line: string): void => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);

const world = await SimWorld.create(NODES);
let failed = false;
try {
  const fleet = await SimFleet.create(world);
  await fleet.startAgents();
  await fleet.net('create', NET, ['--ip-range', '10.77.0.0/16']);
  for (const n of world.nodes) await fleet.net('add-node', NET, ['--node-record', n.recordFile]);
  await fleet.net('set-aggregator', NET, ['--node', 'alpha']);
  await fleet.converged(NET, 120);
  const ring: FleetWorkload[] = [];
  for (const n of world.nodes) {
    const w = await fleet.attachWorkload(n, NET);
    if (n.id !== 'delta') ring.push(w);
  }
  log(`world up: ${world.nodes.length} nodes, ${ring.length} ring workloads`);
  const started = Date.now();
  const pings = await Promise.all(
    ring.map((w, i) => ContinuousPing.start(w.ns, (ring[(i + 1) % ring.length] as FleetWorkload).ip, PING_MS, 30_000)),
  );

  const alpha = world.node('alpha');
  const samples: { t: number; networkdRss: number; wgdRss: number; networkdFds: number; wgdFds: number }[] = [];
  const proc = (pid: number) => ({
    rss: Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN),
    fds: readdirSync(`/proc/${pid}/fd`).length,
  });
  const networkdPid = alpha.networkd?.pid as number;
  const wgdPid = alpha.wgdPids()[0] as number;
  const sample = (): void => {
    const a = proc(networkdPid),
      b = proc(wgdPid);
    samples.push({
      t: Math.round((Date.now() - started) / 1000),
      networkdRss: a.rss,
      wgdRss: b.rss,
      networkdFds: a.fds,
      wgdFds: b.fds,
    });
  };

  type Window = { op: string; from: number; to: number; ok: boolean; error?: string };
  const windows: Window[] = [];
  const extras: { node: SimNode; workload: string }[] = [];
  const gone = new Set<FleetWorkload>();
  let serial = 0;
  let exitOn = false;
  let deltaIn = true;
  const victims = (): SimNode[] => world.nodes.filter((n) => n.id !== 'alpha' && (n.id !== 'delta' || deltaIn));
  const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)] as T;
  const ops: Record<string, () => Promise<void>> = {
    'workload attach': async () => {
      const node = pick(world.nodes.filter((n) => n.id !== 'delta' || deltaIn));
      const ns = await world.harness.namespace(`sk${serial}`);
      const workload = `soak-${serial++}`;
      await node.api.attach(NET, workload, ns.path, 'eth0');
      extras.push({ node, workload });
    },
    'workload detach': async () => {
      const e = extras.splice(random(Math.max(1, extras.length)), 1)[0];
      if (e) await e.node.api.detach(NET, e.workload);
    },
    'new revision': async () => {
      exitOn = !exitOn;
      await fleet.net('set-exit', NET, exitOn ? ['--node', 'bravo'] : ['--none']);
      await fleet.converged(NET, 120);
    },
    'delta leaves/joins': async () => {
      const delta = world.node('delta');
      if (deltaIn) {
        for (const e of extras.filter((x) => x.node === delta)) extras.splice(extras.indexOf(e), 1);
        await fleet.net('remove-node', NET, ['--node', 'delta']);
        // Its NR goes, and with it the attachment of its workloads: they are gone, not unreachable.
        for (const w of fleet.workloads) if (w.node === delta) gone.add(w);
      } else {
        await fleet.net('add-node', NET, ['--node-record', delta.recordFile]);
      }
      deltaIn = !deltaIn;
      await fleet.converged(NET, 120);
      if (deltaIn) await fleet.attachWorkload(delta, NET); // a workload again on the node back
    },
    'SIGKILL networkd': async () => {
      const node = pick(victims());
      await node.killNetworkd('SIGKILL');
      await node.startNetworkd(60_000);
    },
    'SIGKILL provisiond': async () => {
      const node = pick(victims());
      await fleet.stopAgent(node, { kill: true });
      await fleet.startAgent(node);
    },
    'SIGKILL wgd': async () => {
      const node = pick(victims());
      const [pid] = node.wgdPids();
      if (pid) process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 60_000;
      while (!node.wgdPids().some((p) => p !== pid)) {
        if (Date.now() > deadline) throw new Error(`${node.id}: wgd not restarted within 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    'SIGKILL etcd member': async () => {
      const i = random(3);
      await fleet.etcd.kill(i);
      await new Promise((r) => setTimeout(r, 3_000));
      await fleet.etcd.restart(i);
    },
  };
  const names = Object.keys(ops);
  const end = started + MINUTES * 60_000;
  let nextSample = started + 60_000;
  while (Date.now() < end) {
    if (Date.now() >= nextSample) {
      sample();
      nextSample += 30_000;
    }
    const op = pick(names);
    const w: Window = { op, from: Date.now(), to: 0, ok: true };
    try {
      await (ops[op] as () => Promise<void>)();
    } catch (e) {
      w.ok = false;
      w.error = (e as Error).message.slice(0, 300);
    }
    w.to = Date.now();
    windows.push(w);
    log(`${op}: ${w.ok ? 'ok' : `FAILED: ${w.error}`} (${w.to - w.from} ms)`);
    await new Promise((r) => setTimeout(r, 2_000 + random(3_000)));
  }
  if (!deltaIn) await ops['delta leaves/joins']?.();
  await fleet.converged(NET, 120);
  sample();

  // Loss: each lost sequence number at its send time, attributed to the operation window (±2 s) it fell in.
  const reports: FlowReport[] = await Promise.all(pings.map((p) => p.stop()));
  const lossByOp = new Map<string, number>();
  for (const r of reports) {
    for (const seq of r.lost) {
      const at = started + seq * PING_MS;
      const w = windows.find((x) => at >= x.from - 2_000 && at <= x.to + 2_000);
      const key = w ? w.op : 'outside any operation';
      lossByOp.set(key, (lossByOp.get(key) ?? 0) + 1);
    }
  }
  const current = fleet.workloads.filter((w) => !gone.has(w));
  const reach = await fleet.reachability(current);
  const unreachable = reach.filter((r) => !r.reachable).map((r) => `${r.from}→${r.to}`);
  const leaks: string[] = [];
  for (const n of world.nodes) {
    const owned = n.ownedNamespaces();
    if (owned.length !== 2) leaks.push(`${n.id}: namespaces ${owned.join(' ')}`);
    const wgd = n.wgdPids();
    if (wgd.length !== 1) leaks.push(`${n.id}: ${wgd.length} wgd processes`);
  }
  const first = samples[0],
    last = samples[samples.length - 1];
  const growth = (a?: number, b?: number): number => (a && b ? Math.round(((b - a) / a) * 1000) / 10 : NaN);
  const rssGrowth = {
    networkd: growth(first?.networkdRss, last?.networkdRss),
    wgd: growth(first?.wgdRss, last?.wgdRss),
  };
  const fdGrowth = {
    networkd: growth(first?.networkdFds, last?.networkdFds),
    wgd: growth(first?.wgdFds, last?.wgdFds),
  };
  const outside = lossByOp.get('outside any operation') ?? 0;
  const lossOutsideWgd = [...lossByOp.entries()].filter(([op]) => op !== 'SIGKILL wgd').reduce((s, [, n]) => s + n, 0);

  console.log('\noperation              count  failed  ms(avg)  pings lost in window');
  for (const op of names) {
    const ws = windows.filter((w) => w.op === op);
    const avg = ws.length ? Math.round(ws.reduce((s, w) => s + w.to - w.from, 0) / ws.length) : 0;
    console.log(
      `${op.padEnd(22)} ${String(ws.length).padStart(5)} ${String(ws.filter((w) => !w.ok).length).padStart(7)} ${String(avg).padStart(8)}  ${lossByOp.get(op) ?? 0}`,
    );
  }
  console.log(`${'(no operation)'.padEnd(22)} ${''.padStart(5)} ${''.padStart(7)} ${''.padStart(8)}  ${outside}`);
  console.log(
    `\npings: ${reports.reduce((s, r) => s + r.sent, 0)} sent on ${reports.length} ring flows; pairs reachable at the end: ${reach.length - unreachable.length}/${reach.length}`,
  );
  console.log(
    `alpha networkd RSS ${first?.networkdRss}→${last?.networkdRss} kB (${rssGrowth.networkd}%), fds ${first?.networkdFds}→${last?.networkdFds}; ` +
      `wgd RSS ${first?.wgdRss}→${last?.wgdRss} kB (${rssGrowth.wgd}%), fds ${first?.wgdFds}→${last?.wgdFds} (${samples.length} samples after warm-up)`,
  );
  console.log(`leaks: ${leaks.length ? leaks.join('; ') : 'none (2 owned namespaces and 1 wgd per node)'}`);
  const checks = {
    reachable: unreachable.length === 0,
    noLeaks: leaks.length === 0,
    noFailedOps: windows.every((w) => w.ok),
    rssFlat: !(rssGrowth.networkd >= 10 || rssGrowth.wgd >= 10),
    fdsFlat: !(fdGrowth.networkd >= 10 || fdGrowth.wgd >= 10),
  };
  console.log(
    JSON.stringify({
      minutes: MINUTES,
      seed: Number(values.seed),
      operations: windows.length,
      lossByOp: Object.fromEntries(lossByOp),
      lossOutsideWgdKills: lossOutsideWgd,
      unreachable,
      leaks,
      rssGrowth,
      fdGrowth,
      samples,
      checks,
    }),
  );
  failed = Object.values(checks).some((c) => !c);
} catch (e) {
  console.error(`soak: ${(e as Error).stack ?? e}`);
  failed = true;
} finally {
  await world.teardown();
}
process.exit(failed ? 1 : 0);
