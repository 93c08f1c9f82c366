/**
 * The soak (scripts/soak [--minutes N] [--seed S], default 3 minutes): 6 simulated nodes (2 hidden)
 * with the store (3 etcd members) and provisiond as its agent on each, one network defined
 * through the store, a workload per node, steady pings around a ring of the workloads of the
 * five nodes that never leave (every 200 ms, each to the next), a service address ("web") on one
 * of those workloads that alpha's pings (the service flow), and every few seconds one operation
 * (each once first, in a seeded order, then at random), each followed by its recovery:
 *   workload attach / detach (extra workloads on any node but "delta", as tasks submitted to the
 *   node's provisiond and not waited for: later operations, kills among them, run while they are
 *   in flight), a new revision (the exit moved or cleared), the node "delta" leaving and joining
 *   again, SIGKILL of networkd (restarted), of provisiond (restarted), of wgd (networkd's
 *   supervisor restarts it; the operation ends when every flow answers again) and of one etcd
 *   member (restarted 3 s later), a key rotation of any node's NR (`net rotate-key`; ends when
 *   every node applied it and every flow answers) and a service move to another ring workload
 *   (ends when every node applied it, the new owner holds the address and the old one not, and
 *   every flow answers).
 * Kills never hit "alpha": its networkd and wgd live through the whole soak, so their RSS and fd
 * counts, sampled every 30 s after a 60 s warm-up, show growth (checked when the samples span at
 * least 5 minutes: a shorter span measures start-up, not a leak). At the end: every pair of
 * workloads reachable; no task lost or duplicated (TaskLedger: provisiond's history and
 * networkd's workloads against what was submitted); no NR namespace beyond the node's ndmz and
 * its network's NR, one wgd per node, and links, nft tables, UAPI sockets and the run's child
 * processes as counted before the churn (leak-census.ts); ping loss only where expected (each
 * lost request placed in time by the answers around it, ±1 s): in wgd kills, at most 1 per flow
 * in a key rotation (trust-continuity's bound), on the service flow in a service move. Prints a
 * table of the operations and one of the checks, and one JSON line; exit 1 when a check fails.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ContinuousPing, type FlowReport } from '../src/sim/continuous-ping.js';
import { SimFleet, type FleetWorkload } from '../src/sim/fleet.js';
import { censusChanges, nodeCensus, processesGained, runProcesses } from '../src/sim/leak-census.js';
import { namespacesWithPrefix } from '../src/sim/harness/runs.js';
import { type LostPing, OUTSIDE, type OpWindow, attributeLoss } from '../src/sim/loss-windows.js';
import { FOUR_PUBLIC_TWO_HIDDEN_NODES } from '../src/sim/mesh.js';
import { TaskLedger } from '../src/sim/task-ledger.js';
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
const SERVICE_FLOW = 'alpha→service';
const PING_MS = 200;
/** Pings a key rotation may lose per flow: the trust-continuity e2e's bound for one rotation. */
const ROTATION_LOSS_PER_FLOW = 1;
const log = (line: string): void => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);

const world = await SimWorld.create(FOUR_PUBLIC_TWO_HIDDEN_NODES);
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
  // A service address on a ring workload, moved between the ring workloads of nodes other than
  // alpha, whose ring workload pings it (the service flow).
  const service = { owner: ring.find((w) => w.node.id === 'bravo') as FleetWorkload, address: '' };
  const serviceTool = (action: string, args: readonly string[]) =>
    fleet.tool(['net', 'service', action, NET, '--store', fleet.url, '--name', 'web', ...args]);
  const added = await serviceTool('add', ['--node', service.owner.node.id, '--workload', service.owner.id]);
  service.address = /service "web": (\S+) on/.exec(added.stdout)?.[1] ?? '';
  if (!service.address) throw new Error(`service add printed no address: ${added.stdout}`);
  await fleet.converged(NET, 120);
  log(`world up: ${world.nodes.length} nodes, ${ring.length} ring workloads, service web at ${service.address}`);
  // What could leak, counted before the churn (and before the pings, whose processes end with them).
  const attachedOn = async (n: SimNode): Promise<number> => (await n.api.getNetwork(NET)).workloads.length;
  const censusAtStart = new Map<SimNode, Awaited<ReturnType<typeof nodeCensus>>>();
  for (const n of world.nodes) censusAtStart.set(n, await nodeCensus(n, await attachedOn(n)));
  const processesAtStart = runProcesses(namespacesWithPrefix(world.harness.prefix));
  const started = Date.now();
  const pings = await Promise.all([
    ...ring.map(async (w, i) => {
      const to = ring[(i + 1) % ring.length] as FleetWorkload;
      return { flow: `${w.node.id}→${to.node.id}`, ping: await ContinuousPing.start(w.ns, to.ip, PING_MS, 30_000) };
    }),
    (async () => ({
      flow: SERVICE_FLOW,
      ping: await ContinuousPing.start((ring[0] as FleetWorkload).ns, service.address, PING_MS, 30_000),
    }))(),
  ]);
  /** Until every flow (ring and service) has an answer after `since`. */
  const everyFlowAnswers = async (since: number, deadline: number, what: string): Promise<void> => {
    while (!pings.every((p) => p.ping.lastAnswerAt() > since)) {
      if (Date.now() > deadline) {
        const silent = pings.filter((p) => p.ping.lastAnswerAt() <= since).map((p) => p.flow);
        throw new Error(`${what}: ${silent.join(', ')} not answering`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

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

  const windows: OpWindow[] = [];
  const ledger = new TaskLedger();
  const extras: { node: SimNode; workload: string }[] = [];
  const gone = new Set<FleetWorkload>();
  let serial = 0;
  let exitOn = false;
  let deltaIn = true;
  const victims = (): SimNode[] => world.nodes.filter((n) => n.id !== 'alpha' && (n.id !== 'delta' || deltaIn));
  const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)] as T;
  /** Each operation; what it returns (e.g. the node it hit) goes into its log line. */
  const ops: Record<string, () => Promise<string | undefined>> = {
    // Never on delta: its leaving would fail the tasks queued there, which is no loss.
    'workload attach': async () => {
      const node = pick(world.nodes.filter((n) => n.id !== 'delta'));
      const ns = await world.harness.namespace(`sk${serial}`);
      const workload = `soak-${serial++}`;
      const entry = { node, id: `${workload}-attach`, type: 'workload.attach', network: NET, workload } as const;
      await ledger.submit(entry, { workload, netns: ns.path, ifname: 'eth0' });
      extras.push({ node, workload });
      return `${workload} on ${node.id}`;
    },
    'workload detach': async () => {
      const e = extras.splice(random(Math.max(1, extras.length)), 1)[0];
      if (e) {
        const entry = { ...e, id: `${e.workload}-detach`, type: 'workload.detach', network: NET } as const;
        await ledger.submit(entry, { workload: e.workload });
      }
      return e ? `${e.workload} on ${e.node.id}` : 'none attached';
    },
    'new revision': async () => {
      exitOn = !exitOn;
      await fleet.net('set-exit', NET, exitOn ? ['--node', 'bravo'] : ['--none']);
      await fleet.converged(NET, 120);
      return exitOn ? 'exit bravo' : 'no exit';
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
      return deltaIn ? 'joined' : 'left';
    },
    'SIGKILL networkd': async () => {
      const node = pick(victims());
      await node.killNetworkd('SIGKILL');
      await node.startNetworkd(60_000);
      return node.id;
    },
    'SIGKILL provisiond': async () => {
      const node = pick(victims());
      await fleet.stopAgent(node, { kill: true });
      await fleet.startAgent(node);
      return node.id;
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
      // The window lasts until the data plane is back: every flow answered after the restart.
      await everyFlowAnswers(Date.now(), deadline, `${node.id}: 60 s after the wgd kill`);
      return node.id;
    },
    // A new WireGuard key pair for one NR (any node in the network, the aggregator too): its peers
    // learn it in the same revision; the window lasts until every node applied it and every flow answers.
    'key rotation': async () => {
      const node = pick(world.nodes.filter((n) => n.id !== 'delta' || deltaIn));
      await fleet.net('rotate-key', NET, ['--node', node.id]);
      await fleet.converged(NET, 120);
      await everyFlowAnswers(Date.now(), Date.now() + 60_000, `${node.id}'s key rotated`);
      return node.id;
    },
    // The service address to another ring workload (never alpha's: it pings the service).
    'service move': async () => {
      const from = service.owner;
      const to = pick(ring.filter((w) => w !== from && w.node.id !== 'alpha'));
      await serviceTool('move', ['--node', to.node.id, '--workload', to.id]);
      service.owner = to;
      await fleet.converged(NET, 120);
      const cidr = `${service.address}/32`;
      if (!(await to.ns.addresses('eth0')).includes(cidr)) throw new Error(`${to.label} does not hold ${cidr}`);
      if ((await from.ns.addresses('eth0')).includes(cidr)) throw new Error(`${from.label} still holds ${cidr}`);
      await everyFlowAnswers(Date.now(), Date.now() + 60_000, `service moved ${from.node.id}→${to.node.id}`);
      return `${from.node.id}→${to.node.id}`;
    },
    'SIGKILL etcd member': async () => {
      const i = random(3);
      await fleet.etcd.kill(i);
      await new Promise((r) => setTimeout(r, 3_000));
      await fleet.etcd.restart(i);
      return String(i + 1);
    },
  };
  const names = Object.keys(ops);
  // Every operation once first, in a seeded order (a short soak runs each), then at random.
  const firstRound = [...names];
  for (let i = firstRound.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [firstRound[i], firstRound[j]] = [firstRound[j] as string, firstRound[i] as string];
  }
  const end = started + MINUTES * 60_000;
  let nextSample = started + 60_000;
  while (Date.now() < end) {
    if (Date.now() >= nextSample) {
      sample();
      nextSample += 30_000;
    }
    const op = firstRound.shift() ?? pick(names);
    const w: OpWindow & { detail?: string | undefined } = { op, from: Date.now(), to: 0, ok: true };
    try {
      w.detail = await (ops[op] as () => Promise<string | undefined>)();
    } catch (e) {
      w.ok = false;
      w.error = (e as Error).message.slice(0, 300);
    }
    w.to = Date.now();
    windows.push(w);
    log(`${op}${w.detail ? ` ${w.detail}` : ''}: ${w.ok ? 'ok' : `FAILED: ${w.error}`} (${w.to - w.from} ms)`);
    await new Promise((r) => setTimeout(r, 2_000 + random(3_000)));
  }
  if (!deltaIn) await ops['delta leaves/joins']?.();
  await fleet.converged(NET, 120);
  await ledger.settled(120_000);
  sample();

  const reports: { flow: string; report: FlowReport }[] = await Promise.all(
    pings.map(async (p) => ({ flow: p.flow, report: await p.ping.stop() })),
  );
  // Where loss is expected: a wgd kill stops a data plane (any flow, any count); a key rotation may
  // lose ROTATION_LOSS_PER_FLOW per flow (trust-continuity's bound); a service move only on the
  // service flow, until every node routes the address to its new owner. Anywhere else it is a failure.
  const WGD_KILL = 'SIGKILL wgd',
    ROTATION = 'key rotation',
    MOVE = 'service move';
  const loss = attributeLoss(
    reports.flatMap(({ flow, report }) => report.lostAt.map((at): LostPing => ({ flow, at }))),
    windows,
    (op) => op === WGD_KILL || op === ROTATION || op === MOVE,
    1_000,
  );
  const lossByOp = loss.byOp;
  const windowsOf = (op: string): OpWindow[] => windows.filter((w) => w.op === op);
  const sum = (m?: Map<string, number>): number =>
    [...(m ?? new Map<string, number>()).values()].reduce((a, b) => a + b, 0);
  const lostIn = (ws: OpWindow[], flows: (flow: string) => boolean): number =>
    ws.reduce(
      (s, w) => s + [...(loss.byWindow.get(w) ?? [])].filter(([f]) => flows(f)).reduce((a, [, n]) => a + n, 0),
      0,
    );
  const rotationMax = Math.max(0, ...windowsOf(ROTATION).flatMap((w) => [...(loss.byWindow.get(w)?.values() ?? [])]));
  const moveLoss = windowsOf(MOVE).map((w) => loss.byWindow.get(w)?.get(SERVICE_FLOW) ?? 0);
  const lossUnexpected =
    sum(loss.outside) +
    windows
      .filter((w) => w.op !== WGD_KILL && w.op !== ROTATION && w.op !== MOVE)
      .reduce((s, w) => s + sum(loss.byWindow.get(w)), 0) +
    lostIn(windowsOf(MOVE), (f) => f !== SERVICE_FLOW);
  const lossInWgdKills = lostIn(windowsOf(WGD_KILL), () => true);
  const lossInRotations = lostIn(windowsOf(ROTATION), () => true);
  const lossInMoves = lostIn(windowsOf(MOVE), (f) => f === SERVICE_FLOW);

  // Workloads attached outside the ledger (fleet.attachWorkload) per node, still attached.
  const direct = new Map<string, Set<string>>();
  for (const n of world.nodes) direct.set(n.id, new Set());
  const live = world.nodes.filter((n) => n.id !== 'delta' || deltaIn);
  for (const n of live) {
    const body = await n.api.getNetwork(NET);
    for (const wl of body.workloads) if (!wl.workload.startsWith('soak-')) direct.get(n.id)?.add(wl.workload);
  }
  const tasks = await ledger.audit(live, NET, direct);
  const current = fleet.workloads.filter((w) => !gone.has(w));
  const reach = await fleet.reachability(current);
  const unreachable = reach.filter((r) => !r.reachable).map((r) => `${r.from}→${r.to}`);
  const leaks: string[] = [];
  for (const n of world.nodes) {
    const owned = n.ownedNamespaces();
    if (owned.length !== 2) leaks.push(`${n.id}: namespaces ${owned.join(' ')}`);
    const wgd = n.wgdPids();
    if (wgd.length !== 1) leaks.push(`${n.id}: ${wgd.length} wgd processes`);
    const changes = censusChanges(censusAtStart.get(n) ?? {}, await nodeCensus(n, await attachedOn(n)));
    for (const c of changes) leaks.push(`${n.id}: ${c}`);
  }
  const processesAtEnd = runProcesses(namespacesWithPrefix(world.harness.prefix));
  for (const c of processesGained(processesAtStart, processesAtEnd)) leaks.push(`processes: ${c}`);
  const total = (m: Map<string, number>): number => [...m.values()].reduce((x, y) => x + y, 0);
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
  const outside = lossByOp.get(OUTSIDE) ?? 0;
  const lostTotal = reports.reduce((s, r) => s + r.report.lost.length, 0);
  const sentTotal = reports.reduce((s, r) => s + r.report.sent, 0);
  const wgdWindows = windowsOf(WGD_KILL);
  const span = first && last ? last.t - first.t : 0;
  const growthChecked = span >= 300;

  console.log('\noperation              count  failed  ms(avg)  pings lost in window');
  for (const op of names) {
    const ws = windowsOf(op);
    const avg = ws.length ? Math.round(ws.reduce((s, w) => s + w.to - w.from, 0) / ws.length) : 0;
    console.log(
      `${op.padEnd(22)} ${String(ws.length).padStart(5)} ${String(ws.filter((w) => !w.ok).length).padStart(7)} ${String(avg).padStart(8)}  ${lossByOp.get(op) ?? 0}`,
    );
  }
  console.log(`${'(no operation)'.padEnd(22)} ${''.padStart(5)} ${''.padStart(7)} ${''.padStart(8)}  ${outside}`);
  const fmtWindow = (w: OpWindow): string =>
    `${new Date(w.from).toISOString().slice(11, 19)}+${((w.to - w.from) / 1000).toFixed(1)}s`;
  const growthNote = growthChecked ? '' : ` (not checked: samples span ${span} s < 300 s)`;
  // [check, passed, what was measured]; a check not applicable to a short run passes and says so.
  const checks: [string, boolean, string][] = [
    ['every pair reachable', unreachable.length === 0, `${reach.length - unreachable.length}/${reach.length} pairs`],
    [
      'no task lost',
      tasks.lost.length === 0,
      `${tasks.succeeded}/${tasks.submitted} succeeded${tasks.lost.length ? `; ${tasks.lost.slice(0, 5).join('; ')}` : ''}`,
    ],
    [
      'no task duplicated',
      tasks.duplicated.length === 0,
      tasks.duplicated.length ? tasks.duplicated.slice(0, 5).join('; ') : '0 duplicated',
    ],
    [
      'ping loss only where expected',
      lossUnexpected === 0,
      `${lostTotal}/${sentTotal} lost: ${lossInWgdKills} in ${wgdWindows.length} wgd kills, ` +
        `${lossInRotations} in ${windowsOf(ROTATION).length} key rotations, ` +
        `${lossInMoves} of the service flow in ${moveLoss.length} moves; ` +
        `${lossUnexpected} elsewhere (${outside} in no operation)`,
    ],
    [
      `key rotation ≤ ${ROTATION_LOSS_PER_FLOW} lost/flow`,
      rotationMax <= ROTATION_LOSS_PER_FLOW,
      `at most ${rotationMax} lost by one flow in one rotation`,
    ],
    [
      'service answers after moves',
      windowsOf(MOVE).every((w) => w.ok),
      `${windowsOf(MOVE).filter((w) => w.ok).length}/${moveLoss.length} moves answered; service flow lost ` +
        `${moveLoss.join(', ') || '-'} per move`,
    ],
    [
      'no failed operation',
      windows.every((w) => w.ok),
      `${windows.filter((w) => !w.ok).length}/${windows.length} failed`,
    ],
    [
      'no leak',
      leaks.length === 0,
      leaks.length
        ? leaks.join('; ')
        : '2 owned namespaces and 1 wgd per node; links, nft tables, UAPI sockets as at the start; ' +
          `processes ${total(processesAtStart)}→${total(processesAtEnd)}, none more of any name`,
    ],
    [
      'RSS growth < 10%',
      !growthChecked || (rssGrowth.networkd < 10 && rssGrowth.wgd < 10),
      `networkd ${first?.networkdRss}→${last?.networkdRss} kB (${rssGrowth.networkd}%), ` +
        `wgd ${first?.wgdRss}→${last?.wgdRss} kB (${rssGrowth.wgd}%)${growthNote}`,
    ],
    [
      'fd growth < 10%',
      !growthChecked || (fdGrowth.networkd < 10 && fdGrowth.wgd < 10),
      `networkd ${first?.networkdFds}→${last?.networkdFds} (${fdGrowth.networkd}%), ` +
        `wgd ${first?.wgdFds}→${last?.wgdFds} (${fdGrowth.wgd}%)${growthNote}`,
    ],
  ];
  console.log(`\nwgd kill windows (start+length, until every flow answered): ${wgdWindows.map(fmtWindow).join(', ')}`);
  for (const [op, n] of lossByOp) if (op !== WGD_KILL) console.log(`loss outside wgd kills: ${n} in ${op}`);
  console.log(`\n${'check'.padEnd(30)} result  measured`);
  for (const [name, ok, measured] of checks)
    console.log(`${name.padEnd(30)} ${(ok ? 'pass' : 'FAIL').padEnd(6)}  ${measured}`);
  console.log(
    `(${MINUTES} min, seed ${values.seed}, ${windows.length} operations, ${reports.length - 1} ring flows and ` +
      `the service flow every ${PING_MS} ms, alpha's networkd and wgd sampled ${samples.length} times over ${span} s ` +
      `after a 60 s warm-up)`,
  );
  console.log(
    JSON.stringify({
      minutes: MINUTES,
      seed: Number(values.seed),
      operations: windows.length,
      lossByOp: Object.fromEntries(lossByOp),
      lossUnexpected,
      lossInWgdKills,
      lossInRotations,
      rotationMaxPerFlow: rotationMax,
      serviceFlowLossPerMove: moveLoss,
      wgdKillWindows: wgdWindows.map((w) => ({ from: w.from, to: w.to })),
      tasks,
      unreachable,
      leaks,
      rssGrowth,
      fdGrowth,
      samples,
      checks: Object.fromEntries(checks.map(([name, ok]) => [name, ok])),
    }),
  );
  failed = checks.some(([, ok]) => !ok);
} catch (e) {
  console.error(`soak: ${(e as Error).stack ?? e}`);
  failed = true;
} finally {
  await world.teardown();
}
process.exit(failed ? 1 : 0);
