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
 *
 * Prints a table and one JSON line. The real networkd's own attach time is measured by its
 * benchmarks; adding it to line 4 gives the end-to-end figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../../src/provisiond/database.js';
import { noopHandler, type TaskHandler } from '../../src/provisiond/handler.js';
import { NetworkdHandler } from '../../src/provisiond/networkd-handler.js';
import { TaskQueue } from '../../src/provisiond/queue.js';
import { parseTask, type Task } from '../../src/provisiond/task.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '10000' }, networks: { type: 'string', default: '100' }, concurrency: { type: 'string', default: '64' } } });
const TASKS = Number(values.tasks);
const NETWORKS = Number(values.networks);
const CONCURRENCY = Number(values.concurrency);

function tasksFor(count: number, networks: number, lead: string): Task[] {
  return Array.from({ length: count }, (_, i) =>
    parseTask({ id: `${lead}-${i}`, type: 'workload.attach', network: `net${i % networks}`, workload: `w${i}`, netns: `/run/netns/w${i}`, ifname: 'eth0' }),
  );
}

async function run(name: string, count: number, networks: number, handler: TaskHandler): Promise<{ name: string; tasks: number; networks: number; queuedPerS: number; drainedPerS: number; overheadMsPerTask: number; wallMs: number }> {
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
  return { name, tasks: count, networks, queuedPerS: Math.round(count / (queuedMs / 1000)), drainedPerS: Math.round(count / (wallMs / 1000)), overheadMsPerTask: Number((wallMs / count).toFixed(3)), wallMs: Math.round(wallMs) };
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

const results = [];
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

console.log('run          tasks  networks  queued/s  done/s  ms/task  wall ms');
for (const r of results) {
  console.log(`${r.name.padEnd(11)}  ${String(r.tasks).padStart(5)}  ${String(r.networks).padStart(8)}  ${String(r.queuedPerS).padStart(8)}  ${String(r.drainedPerS).padStart(6)}  ${r.overheadMsPerTask.toFixed(3).padStart(7)}  ${String(r.wallMs).padStart(7)}`);
}
console.log(JSON.stringify({ bench: 'provisiond', concurrency: CONCURRENCY, results }));
