/**
 * Crash safety of provisiond with the REAL networkd: 97 tasks over 10 one-node networks
 * (network.apply, workload.attach/detach of workload namespaces the test made, a second
 * revision for some, network.delete for others) flow from a real `zmesh provisiond` into a real `zmesh networkd`
 * (userspace WireGuard, NR namespaces in the kernel) while each daemon is SIGKILLed three times
 * at random moments and restarted. The same task list runs crash-free on a second node of the
 * same world (same identity, so the very same definitions), and the two end states are compared:
 * networkd's networks (revisions, workloads and their addresses), the NR namespaces and the
 * workload ends in the kernel. Executions are counted from networkd's side, from the effects it
 * logs once each is done; replays from its X-Task-Id record are read in provisiond's history.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FINAL_STATES } from '../../src/provisiond/task-store.js';
import { type NodeKeys, makeNodeKeys } from '../../src/sim/harness/networkd.js';
import { worldFor } from '../harness/ava.js';
import { type Namespace, type World, waitFor } from '../harness/index.js';
import { type NetworkView, StackNode, effectsIn, oneNodeNetwork, withRevision } from './provisiond-networkd-stack.js';
import type { NetworkDefinition } from '../../src/netdef/index.js';

const NETWORKS = 10;
/** Networks from this index on are deleted at the end of their task list. */
const DELETED_FROM = 7;
const WORKLOADS = 6;

interface PlannedTask {
  readonly body: Record<string, unknown>;
  /** The effect networkd logs when it performs the task (effectsIn). */
  readonly effect: string;
  readonly network: string;
}

const networkName = (n: number) => `pn${n}`;
/** Networks that get a second revision in the middle of their task list. */
const revised = (n: number) => n % 3 === 0;
const workloadId = (n: number, i: number) => `w${n}-${i}`;

/** Per network, in order; the networks interleaved in submission, as a busy node sees them. */
function plan(definitions: readonly NetworkDefinition[], netns: (n: number, i: number) => string): PlannedTask[] {
  const perNetwork = definitions.map((definition, n) => {
    const name = networkName(n);
    const id = (k: number) => `${name}-t${k}`;
    const attach = (k: number, i: number): PlannedTask => ({
      body: {
        id: id(k),
        type: 'workload.attach',
        network: name,
        workload: workloadId(n, i),
        netns: netns(n, i),
        ifname: 'eth0',
      },
      effect: `attach ${name} ${workloadId(n, i)}`,
      network: name,
    });
    const detach = (k: number, i: number): PlannedTask => ({
      body: { id: id(k), type: 'workload.detach', network: name, workload: workloadId(n, i) },
      effect: `detach ${name} ${workloadId(n, i)}`,
      network: name,
    });
    const apply = (k: number, revision: number): PlannedTask => ({
      body: { id: id(k), type: 'network.apply', definition: withRevision(definition, revision) },
      effect: `apply ${name} r${revision}`,
      network: name,
    });
    // A second revision for some networks only: each apply makes networkd run a full reconcile,
    // which re-checks every workload of the node (the slowest part of this test).
    const tasks = [
      apply(0, 1),
      attach(1, 0),
      attach(2, 1),
      attach(3, 2),
      attach(4, 3),
      attach(5, 4),
      detach(6, 1),
      ...(revised(n) ? [apply(7, 2)] : []),
      detach(8, 3),
      attach(9, 5),
    ];
    if (n >= DELETED_FROM)
      tasks.push({
        body: { id: id(10), type: 'network.delete', network: name },
        effect: `delete ${name}`,
        network: name,
      });
    return tasks;
  });
  const out: PlannedTask[] = [];
  for (let k = 0; k < Math.max(...perNetwork.map((p) => p.length)); k++)
    for (const tasks of perNetwork) if (tasks[k]) out.push(tasks[k] as PlannedTask);
  return out;
}

/** "METHOD /path" of the networkd request a task becomes (provisiond's networkd-handler.ts). */
function requestOf(task: PlannedTask): string {
  const body = task.body;
  switch (body.type) {
    case 'network.apply':
      return `PUT /v1/networks/${task.network}`;
    case 'network.delete':
      return `DELETE /v1/networks/${task.network}`;
    case 'workload.attach':
      return `POST /v1/networks/${task.network}/workloads`;
    default:
      return `DELETE /v1/networks/${task.network}/workloads/${body.workload as string}`;
  }
}

/** What the task list leaves, worked out by hand: lowest free address first, .1 the gateway. */
function expectedNetworks(): object[] {
  return Array.from({ length: DELETED_FROM }, (_, n) => ({
    network: networkName(n),
    revision: revised(n) ? 2 : 1,
    nrExists: true,
    workloads: [
      { workload: workloadId(n, 0), ip: `10.${60 + n}.0.2`, ifname: 'eth0' },
      { workload: workloadId(n, 2), ip: `10.${60 + n}.0.4`, ifname: 'eth0' },
      { workload: workloadId(n, 4), ip: `10.${60 + n}.0.6`, ifname: 'eth0' },
      { workload: workloadId(n, 5), ip: `10.${60 + n}.0.3`, ifname: 'eth0' },
    ],
  }));
}

function comparable(networks: readonly NetworkView[]): object[] {
  return [...networks]
    .sort((a, b) => a.network.localeCompare(b.network))
    .map((n) => ({
      network: n.network,
      revision: n.revision,
      nrExists: n.nrExists,
      workloads: [...n.workloads]
        .sort((a, b) => a.workload.localeCompare(b.workload))
        .map((w) => ({ workload: w.workload, ip: w.ip, ifname: w.ifname })),
    }));
}

/** The same, with what the kernel says on top: NR namespaces and each workload's eth0. */
async function kernelState(node: StackNode, workloads: ReadonlyMap<string, Namespace>): Promise<object> {
  const ends: Record<string, string> = {};
  for (const [id, ns] of workloads) {
    const reply = await ns.ip(['-j', '-4', 'addr', 'show'], { check: false });
    const links = JSON.parse(reply.stdout || '[]') as {
      ifname: string;
      addr_info?: { local: string; prefixlen: number }[];
    }[];
    const eth0 = links.find((l) => l.ifname === 'eth0');
    ends[id] = eth0 ? (eth0.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).join(',') : 'none';
  }
  return { nrs: node.nrNetIds(), ends };
}

interface Run {
  readonly node: StackNode;
  readonly tasks: PlannedTask[];
  readonly workloads: Map<string, Namespace>;
}

async function prepare(
  t: ExecutionContext,
  world: World,
  tag: string,
  identity: NodeKeys,
  definitions: readonly NetworkDefinition[],
): Promise<Run> {
  const node = await StackNode.create(world, tag, identity);
  t.teardown(async () => {
    const errors = await node.deleteNetworks();
    if (errors.length > 0) t.log(`cleanup of node ${tag}: ${errors.join('; ')}`);
  });
  const workloads = new Map<string, Namespace>();
  for (let n = 0; n < NETWORKS; n++) {
    const made = await Promise.all(Array.from({ length: WORKLOADS }, (_, i) => world.namespace(`${tag}${n}w${i}`)));
    made.forEach((ns, i) => workloads.set(workloadId(n, i), ns));
  }
  const tasks = plan(definitions, (n, i) => (workloads.get(workloadId(n, i)) as Namespace).path);
  await node.startNetworkd();
  await node.startProvisiond(['--concurrency', '8']);
  return { node, tasks, workloads };
}

async function finalCount(node: StackNode): Promise<number> {
  const { tasks } = await node.client.health();
  return FINAL_STATES.reduce((sum, state) => sum + (tasks[state] ?? 0), 0);
}

/** Deadlines are generous: the 2 cores are shared, and a loaded machine slows networkd's many ip(8) runs. */
const DRAIN_TIMEOUT_MS = 150_000;

async function allFinal(node: StackNode, total: number): Promise<void> {
  try {
    await waitFor(async () => (await finalCount(node)) === total, {
      what: `all ${total} tasks final`,
      timeoutMs: DRAIN_TIMEOUT_MS,
      intervalMs: 100,
    });
  } catch (error) {
    const health = await node.client.health().catch(() => null);
    throw new Error(
      `${(error as Error).message}; node ${node.prefix}: ${JSON.stringify(health?.tasks)}; networkd's last lines:\n${node.networkdLog().slice(-1500)}`,
    );
  }
}

interface History {
  readonly id: string;
  readonly state: string;
  readonly result: unknown;
  readonly history: {
    attempt: number;
    startedAt: string;
    outcome: string | null;
    status: number | null;
    replayed: boolean;
    error: { code: string } | null;
  }[];
}

/** A task that has been with networkd for a while (sent ≥ 100 ms ago, no answer yet). */
async function taskInFlight(node: StackNode): Promise<string> {
  return waitFor(
    async () => {
      for (const task of await node.client.list({ state: 'running' })) {
        const detail = (await node.client.show(task.id)) as unknown as History;
        const last = detail.history.at(-1);
        if (detail.state === 'running' && last?.outcome === null && Date.now() - Date.parse(last.startedAt) >= 100)
          return task.id;
      }
      return null;
    },
    { what: 'a task in flight at networkd', timeoutMs: 30_000, intervalMs: 20 },
  );
}

test('97 tasks over 10 networks through the real networkd survive 3 SIGKILLs of each daemon: all succeed, each effect once and in order, same networks and kernel state as a crash-free run', async (t) => {
  const world = await worldFor(t);
  const identity = await makeNodeKeys('alpha');
  const definitions = Array.from({ length: NETWORKS }, (_, n) =>
    oneNodeNetwork(identity, networkName(n), `10.${60 + n}.0.0/16`, 52_100 + n),
  );
  const started = performance.now();

  // The crash-free reference and the run with kills go side by side (the machine has 2 cores:
  // one after the other they took twice as long). Kills: provisiond while a task is with
  // networkd (so its re-send must be answered from networkd's record), networkd at random
  // moments (whatever it was doing).
  const [calm, crash] = await Promise.all([
    prepare(t, world, 'r', identity, definitions),
    prepare(t, world, 'c', identity, definitions),
  ]);
  const preparedMs = performance.now() - started;
  const total = crash.tasks.length;
  await Promise.all([
    calm.node.client.submit(calm.tasks.map((task) => task.body)),
    crash.node.client.submit(crash.tasks.map((task) => task.body)),
  ]);
  const calmDone = allFinal(calm.node, total);
  const mustReplay: string[] = [];
  const kills: string[] = [];
  for (let k = 0; k < 6; k++) {
    const at = Math.floor(((k + 1) * total) / 8) + Math.floor(Math.random() * 8);
    await waitFor(async () => (await finalCount(crash.node)) >= at, {
      what: `${at} tasks final`,
      timeoutMs: DRAIN_TIMEOUT_MS,
      intervalMs: 25,
    });
    if (k % 2 === 0) {
      // The task seen in flight may get its answer between that look and the SIGKILL (networkd
      // is fast); such a kill interrupts nothing, so it is repeated on another task (at most 4).
      for (let attempt = 1; ; attempt++) {
        const inFlight = await taskInFlight(crash.node);
        await crash.node.killProvisiond();
        await crash.node.startProvisiond();
        // Its re-send must reach the networkd that did the work, not a restarted one.
        await waitFor(
          async () => ((await crash.node.client.show(inFlight)) as unknown as History).state === 'succeeded',
          { what: `${inFlight} re-sent`, timeoutMs: 30_000, intervalMs: 25 },
        );
        const landed = ((await crash.node.client.show(inFlight)) as unknown as History).history.some(
          (a) => a.outcome === 'interrupted',
        );
        if (landed || attempt === 4) {
          kills.push(
            `provisiond (${inFlight} in flight${attempt > 1 ? `; ${attempt - 1} earlier kill(s) came after the answer` : ''})`,
          );
          mustReplay.push(inFlight);
          break;
        }
      }
    } else {
      await crash.node.killNetworkd();
      kills.push(`networkd after ${at}`);
      await crash.node.startNetworkd();
    }
  }
  await Promise.all([calmDone, allFinal(crash.node, total)]);
  t.log(
    `prepared both nodes in ${Math.round(preparedMs)} ms, drained in ${Math.round(performance.now() - started - preparedMs)} ms; kills: ${kills.join(', ')}`,
  );

  for (const run of [calm, crash]) {
    const listed = await run.node.client.list({ limit: 1000 });
    t.is(listed.length, total);
    t.deepEqual(
      listed
        .filter((task) => task.state !== 'succeeded')
        .map((task) => `${task.id}: ${task.state} ${JSON.stringify(task.error)}`),
      [],
      `node ${run.node.prefix}: every task succeeded`,
    );
  }

  // Executions, from networkd's own log of effects.
  const histories = new Map<string, History>();
  for (const task of crash.tasks)
    histories.set(task.body.id as string, (await crash.node.client.show(task.body.id as string)) as unknown as History);
  const calmEffects = effectsIn(calm.node.networkdLog());
  t.deepEqual(
    [...calmEffects].sort(),
    calm.tasks.map((task) => task.effect).sort(),
    'crash-free: every task took effect exactly once',
  );
  const crashEffects = effectsIn(crash.node.networkdLog());
  const counts = new Map<string, number>();
  for (const effect of crashEffects) counts.set(effect, (counts.get(effect) ?? 0) + 1);
  t.deepEqual(
    [...counts].filter(([, n]) => n > 1),
    [],
    'no effect happened twice across the kills',
  );
  // An effect may be missing from the log only when networkd died while it was in progress (its
  // store write happened, the line did not; the re-send found the work done): such a task's
  // history shows an attempt that got no answer.
  const unanswered = (id: string) => (histories.get(id)?.history ?? []).some((a) => a.error?.code === 'EUNREACHABLE');
  const missing = crash.tasks.filter((task) => !counts.has(task.effect));
  t.deepEqual(
    missing.filter((task) => !unanswered(task.body.id as string)).map((task) => task.effect),
    [],
    'every effect not cut by a networkd kill was logged',
  );
  t.true(
    missing.length <= 3,
    `at most one effect per networkd kill is cut (${missing.map((m) => m.effect).join(', ')})`,
  );
  for (let n = 0; n < NETWORKS; n++) {
    const name = networkName(n);
    const expected = crash.tasks
      .filter((task) => task.network === name && counts.has(task.effect))
      .map((task) => task.effect);
    t.deepEqual(
      crashEffects.filter((e) => e.split(' ')[1] === name),
      expected,
      `${name}: effects in submission order`,
    );
  }
  // networkd's X-Task-Id record holds every task once, for the request it was sent as.
  const record = JSON.parse(readFileSync(join(crash.node.stateDir, 'networkd', 'tasks.json'), 'utf8')) as {
    entries: { taskId: string; request: string; outcome: { status: number } }[];
  };
  t.deepEqual(
    record.entries.map((e) => `${e.taskId} ${e.request}`).sort(),
    crash.tasks.map((task) => `${task.body.id as string} ${requestOf(task)}`).sort(),
    "networkd's task record: each task id once, for its own request",
  );
  // networkd writes a task's record after its effect: when it died in between, the re-send did
  // the work again, found it done and was recorded as such (e.g. a 404 for a detached workload).
  // That is allowed only for tasks with an attempt networkd never answered.
  const cut = new Set(crash.tasks.map((task) => task.body.id as string).filter((id) => unanswered(id)));
  t.deepEqual(
    record.entries
      .filter((e) => e.outcome.status !== 200 && !cut.has(e.taskId))
      .map((e) => `${e.taskId}: ${e.outcome.status}`),
    [],
    'recorded outcomes are 200 (another only where networkd died mid-task)',
  );
  for (const id of mustReplay) {
    const attempts = histories.get(id)?.history ?? [];
    t.true(
      attempts.some((a) => a.outcome === 'interrupted'),
      `${id}: the kill interrupted an attempt`,
    );
    t.like(
      attempts.at(-1),
      { outcome: 'succeeded', replayed: true },
      `${id}: its re-send was answered from networkd's record (x-task-replayed)`,
    );
  }
  const replayed = [...histories.values()].filter((h) => h.history.some((a) => a.replayed)).length;
  t.log(
    `effects logged ${crashEffects.length}/${total}, cut by a networkd kill: ${missing.length}; tasks answered from networkd's record: ${replayed}; attempts: ${[...histories.values()].reduce((s, h) => s + h.history.length, 0)}`,
  );

  // The end state: networkd's view, then the kernel's.
  const calmNetworks = comparable(await calm.node.networks());
  t.deepEqual(calmNetworks, expectedNetworks(), 'the crash-free run ends where the task list says');
  t.deepEqual(
    comparable(await crash.node.networks()),
    calmNetworks,
    'networks, revisions, workloads and addresses equal the crash-free run',
  );
  const calmKernel = await kernelState(calm.node, calm.workloads);
  t.deepEqual(
    await kernelState(crash.node, crash.workloads),
    calmKernel,
    'NR namespaces and workload ends in the kernel equal the crash-free run',
  );
  t.is((calmKernel as { nrs: string[] }).nrs.length, DELETED_FROM);
});
