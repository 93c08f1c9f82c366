/**
 * provisiond's queue throughput (npm run bench:provisiond [-- --tasks N --networks M]):
 *
 *   1. queued: N workload.attach tasks submitted (in batches of 100, concurrently) into a fresh
 *      database (WAL, synchronous=FULL): tasks/s until every submit is durable.
 *   2. through the queue with a no-op handler: from the first submit until every task is
 *      succeeded — tasks/s and the queue's overhead per task (wall time / tasks).
 *   3. one network only (strict order): the per-task latency of the state machine alone
 *      (submit → running → succeeded), which is bound by two fsyncs.
 *   4. end to end through a networkd-shaped HTTP server on a UNIX socket (answers at once,
 *      honours X-Task-Id): what provisiond adds around a real networkd's own handling time.
 *   5. end to end for real (--attaches N, default 60; 0 skips it): `zmesh provisiond` and
 *      `zmesh networkd --wg userspace` as processes in a node namespace of a harness world, N
 *      workload.attach tasks on one network submitted through provisiond's API (10 at a time),
 *      from each submit until the last of them is recorded succeeded (one network: strictly one
 *      after the other);
 *      alternating with it, blocks of the same attaches POSTed straight to networkd's API, one
 *      after the other, on a second network: the difference is what provisiond adds per task.
 *
 * Prints a table and one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UnixHttpClient } from '../../src/http/client.js';
import { AdminKey, addNode, createNetwork, signDefinition, sodiumKeySource } from '../../src/netdef/index.js';
import { ProvisiondClient } from '../../src/provisiond/client.js';
import { openDatabase } from '../../src/provisiond/database.js';
import { noopHandler, type TaskHandler } from '../../src/provisiond/handler.js';
import { NetworkdHandler } from '../../src/provisiond/networkd-handler.js';
import { TaskQueue } from '../../src/provisiond/queue.js';
import { parseTask, type Task } from '../../src/provisiond/task.js';
import { type BackgroundProcess, type Namespace, World } from '../../src/sim/harness/index.js';
import { makeNodeKeys, spawnNetworkd, writeNodeState } from '../../src/sim/harness/networkd.js';
import { defaultZmeshInvocation, zmeshArgs } from '../../src/sim/zmesh-command.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '10000' },
    networks: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '64' },
    attaches: { type: 'string', default: '60' },
  },
});
const TASKS = Number(values.tasks);
const NETWORKS = Number(values.networks);
const CONCURRENCY = Number(values.concurrency);
const ATTACHES = Number(values.attaches);
if (!Number.isInteger(ATTACHES) || ATTACHES < 0 || ATTACHES > 250)
  throw new Error('--attaches: must be an integer from 0 to 250 (one /24 per network)');

interface Row {
  name: string;
  tasks: number;
  networks: number;
  /** null where nothing is queued (straight to networkd). */
  queuedPerS: number | null;
  drainedPerS: number;
  overheadMsPerTask: number;
  wallMs: number;
}

function tasksFor(count: number, networks: number, lead: string): Task[] {
  return Array.from({ length: count }, (_, i) =>
    parseTask({
      id: `${lead}-${i}`,
      type: 'workload.attach',
      network: `net${i % networks}`,
      workload: `w${i}`,
      netns: `/run/netns/w${i}`,
      ifname: 'eth0',
    }),
  );
}

async function run(name: string, count: number, networks: number, handler: TaskHandler): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-provisiond-'));
  const db = openDatabase(join(dir, 'provisiond.db'));
  const queue = new TaskQueue({ db, handler, concurrency: CONCURRENCY });
  queue.start();
  const tasks = tasksFor(count, networks, name);
  const started = performance.now();
  const batches: Promise<unknown>[] = [];
  for (let i = 0; i < tasks.length; i += 100) batches.push(queue.submit(tasks.slice(i, i + 100)));
  await Promise.all(batches);
  const queuedMs = performance.now() - started;
  await queue.waitUntil(() => queue.store.counts().succeeded === count, 600_000);
  const wallMs = performance.now() - started;
  await queue.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    name,
    tasks: count,
    networks,
    queuedPerS: Math.round(count / (queuedMs / 1000)),
    drainedPerS: Math.round(count / (wallMs / 1000)),
    overheadMsPerTask: Number((wallMs / count).toFixed(3)),
    wallMs: Math.round(wallMs),
  };
}

async function fakeNetworkd(socketPath: string): Promise<http.Server> {
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['x-task-id']);
      const replayed = seen.has(id);
      seen.add(id);
      res.writeHead(200, { 'content-type': 'application/json', ...(replayed ? { 'x-task-replayed': 'true' } : {}) });
      res.end('{"ip":"10.1.1.2","prefix":24}');
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

/** HTTP+JSON over a UNIX socket (networkd's API), resolving with status and body. */
async function request(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const client = new UnixHttpClient({ socketPath, timeoutMs: 120_000 });
  try {
    const answer = await client.request(method, path, { body, headers });
    return { status: answer.status, body: answer.body };
  } finally {
    client.close();
  }
}

async function untilSucceeded(client: ProvisiondClient, total: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { tasks } = await client.health();
    if (tasks.failed > 0 || tasks.cancelled > 0) throw new Error(`tasks failed: ${JSON.stringify(tasks)}`);
    if (tasks.succeeded >= total) return;
    if (Date.now() > deadline)
      throw new Error(`not all ${total} tasks succeeded within ${timeoutMs} ms: ${JSON.stringify(tasks)}`);
    // Not faster: polling competes for the same 2 cores as networkd (the time is taken from
    // provisiond's own record of when the last task finished, not from this loop).
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Line 5: real daemons in a node namespace of a harness world (run prefix on everything; the
 * world's teardown removes the namespaces and kills what runs in them, wgd included).
 */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
}

/** provisiond's own record of the e2e attaches. */
interface Split {
  attemptMeanMs: number;
  attemptP50Ms: number;
  /** Attempts beyond one per task (0 unless networkd failed transiently). */
  retries: number;
}

async function endToEnd(count: number): Promise<{ rows: Row[]; split: Split }> {
  const world = await World.create();
  const procs: BackgroundProcess[] = [];
  try {
    const node = await world.namespace('node');
    const stateDir = join(world.tempDir(), 'node');
    const keys = await makeNodeKeys('bench');
    const admin = AdminKey.generate();
    await writeNodeState(stateDir, keys, [admin.publicKey()]);
    const networkdSocket = join(stateDir, 'networkd.sock');
    const provisiondSocket = join(stateDir, 'provisiond.sock');
    const zmesh = defaultZmeshInvocation();
    await spawnNetworkd(node, {
      stateDir,
      prefix: world.prefix,
      wg: 'userspace',
      socket: networkdSocket,
      onSpawn: (proc) => procs.push(proc),
    });
    const provisiond = node.spawnSharingMounts(
      zmesh.file,
      zmeshArgs(zmesh, [
        'provisiond',
        '--state-dir',
        join(stateDir, 'provisiond'),
        '--networkd-socket',
        networkdSocket,
        '--socket',
        provisiondSocket,
      ]),
    );
    procs.push(provisiond);
    await provisiond.waitForOutput(/ready, pid/, { timeoutMs: 30_000 });
    const client = new ProvisiondClient(provisiondSocket, 60_000);

    const spaces: Namespace[] = [];
    for (let i = 0; i < 2 * count; i += 10)
      spaces.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, 2 * count - i) }, (_, k) => world.namespace(`w${i + k}`)),
        )),
      );
    const definition = (name: string, ipRange: string, listenPort: number) =>
      signDefinition(addNode(createNetwork(name, ipRange), keys.record, sodiumKeySource, { listenPort }), admin);
    await client.submit([
      { id: 'apply-e2e', type: 'network.apply', definition: definition('bench-e2e', '10.91.0.0/16', 52_401) },
      { id: 'apply-direct', type: 'network.apply', definition: definition('bench-direct', '10.92.0.0/16', 52_402) },
    ]);
    await untilSucceeded(client, 2, 60_000);

    // In blocks of 10, alternating the two ways, so that the other load on the machine falls on
    // both alike (one long run after the other differed by 2x here under a load of ~8).
    const BLOCK = 10;
    let e2eMs = 0;
    let queuedMs = 0;
    let directMs = 0;
    for (let from = 0; from < count; from += BLOCK) {
      const to = Math.min(count, from + BLOCK);
      const attaches = spaces.slice(from, to).map((ns, k) => ({
        id: `attach-${from + k}`,
        type: 'workload.attach',
        network: 'bench-e2e',
        workload: `e2e-${from + k}`,
        netns: ns.path,
        ifname: 'eth0',
      }));
      const started = performance.now();
      const startedAt = Date.now();
      await client.submit(attaches);
      queuedMs += performance.now() - started;
      await untilSucceeded(client, 2 + to, 300_000);
      const last = (await client.show(`attach-${to - 1}`)) as unknown as { finishedAt: string };
      e2eMs += Date.parse(last.finishedAt) - startedAt;
      const directStarted = performance.now();
      for (const [k, ns] of spaces.slice(count + from, count + to).entries()) {
        // With X-Task-Id, as provisiond sends it: networkd then records the outcome durably too.
        const reply = await request(
          networkdSocket,
          'POST',
          '/v1/networks/bench-direct/workloads',
          { workload: `direct-${from + k}`, netns: ns.path, ifname: 'eth0' },
          { 'x-task-id': `direct-${from + k}` },
        );
        if (reply.status !== 200)
          throw new Error(`direct attach ${from + k}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
      directMs += performance.now() - directStarted;
    }
    // provisiond's own record of each attempt: from its claim (before the commit that makes it
    // "running") to its completion — the claim's fsync, HTTP and networkd's work.
    const attemptMs: number[] = [];
    let retries = 0;
    for (let i = 0; i < count; i++) {
      const detail = (await client.show(`attach-${i}`)) as unknown as { history: { durationMs: number }[] };
      const last = detail.history.at(-1);
      retries += detail.history.length - 1;
      if (last) attemptMs.push(last.durationMs);
    }
    const split: Split = {
      attemptMeanMs: Number((attemptMs.reduce((a, b) => a + b, 0) / Math.max(1, attemptMs.length)).toFixed(1)),
      attemptP50Ms: median(attemptMs),
      retries,
    };
    for (const name of ['bench-e2e', 'bench-direct']) await request(networkdSocket, 'DELETE', `/v1/networks/${name}`);
    const row = (name: string, wallMs: number, queued: number | null): Row => ({
      name,
      tasks: count,
      networks: 1,
      queuedPerS: queued === null ? null : Math.round(count / (queued / 1000)),
      drainedPerS: Number((count / (wallMs / 1000)).toFixed(1)),
      overheadMsPerTask: Number((wallMs / count).toFixed(3)),
      wallMs: Math.round(wallMs),
    });
    return { rows: [row('e2e-attach', e2eMs, queuedMs), row('direct-nd', directMs, null)], split };
  } finally {
    for (const p of procs) await p.stop({ graceMs: 3_000 });
    await world.teardown();
  }
}

const results: Row[] = [];
results.push(await run('noop', TASKS, NETWORKS, noopHandler));
results.push(await run('noop-1net', Math.min(TASKS, 500), 1, noopHandler));
const dir = mkdtempSync(join(tmpdir(), 'bench-provisiond-nd-'));
const socket = join(dir, 'networkd.sock');
const server = await fakeNetworkd(socket);
const networkd = new NetworkdHandler({ socketPath: socket, maxSockets: CONCURRENCY });
results.push(await run('http-attach', Math.min(TASKS, 5000), NETWORKS, networkd.handle));
networkd.close();
server.close();
rmSync(dir, { recursive: true, force: true });
const endToEndResult = ATTACHES > 0 ? await endToEnd(ATTACHES) : null;
if (endToEndResult) results.push(...endToEndResult.rows);
const measured = endToEndResult?.split ?? null;

console.log('run          tasks  networks  queued/s  done/s  ms/task  wall ms');
for (const r of results) {
  console.log(
    `${r.name.padEnd(11)}  ${String(r.tasks).padStart(5)}  ${String(r.networks).padStart(8)}  ${String(r.queuedPerS ?? '-').padStart(8)}  ${String(r.drainedPerS).padStart(6)}  ${r.overheadMsPerTask.toFixed(3).padStart(7)}  ${String(r.wallMs).padStart(7)}`,
  );
}
const e2e = results.find((r) => r.name === 'e2e-attach');
const direct = results.find((r) => r.name === 'direct-nd');
if (e2e && direct)
  console.log(
    `end to end: provisiond adds ${(e2e.overheadMsPerTask - direct.overheadMsPerTask).toFixed(1)} ms per workload.attach to networkd's own ${direct.overheadMsPerTask.toFixed(1)} ms`,
  );
if (measured)
  console.log(
    `provisiond's record of e2e-attach: attempt (claim commit + HTTP + networkd) mean ${measured.attemptMeanMs} ms, p50 ${measured.attemptP50Ms} ms; ${measured.retries} retries`,
  );
console.log(JSON.stringify({ bench: 'provisiond', concurrency: CONCURRENCY, results, e2eSplit: measured }));
