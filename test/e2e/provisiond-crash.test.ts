/**
 * Crash safety of the queue at scale: 500 tasks across 20 networks flow while provisiond and the
 * networkd stand-in (a separate process whose effect and task-id record are one atomic append:
 * test/unit/provisiond/fixtures/journal-networkd.ts) are each killed with SIGKILL at random
 * moments and restarted. The real networkd is exercised by the netns tests of networkd; this
 * proves provisiond's side: every task ends succeeded, each effect happened exactly once, every
 * network saw its tasks in submission order, and the end state equals a crash-free run's.
 */
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ProvisiondClient } from '../../src/provisiond/client.js';
import { FINAL_STATES } from '../../src/provisiond/task-store.js';
import { waitFor } from '../harness/index.js';
import { attach, detach, tempDir } from '../unit/provisiond/helpers.js';
import {
  type JournalEntry,
  kill9,
  readJournal,
  startJournalNetworkd,
  startProvisiond,
} from '../unit/provisiond/processes.js';

const NETWORKS = 20;
const PER_NETWORK = 25;

/** Per network: attach w0..w12 and detach every third one after it was attached. */
function workload(): object[] {
  const tasks: object[] = [];
  for (let i = 0; i < PER_NETWORK; i++) {
    for (let n = 0; n < NETWORKS; n++) {
      const id = `net${n}-t${i}`;
      tasks.push(i % 3 === 2 ? detach(id, `net${n}`, `w${n}-${i - 1}`) : attach(id, `net${n}`, `w${n}-${i}`));
    }
  }
  return tasks;
}

/** The state the executions leave behind: per network, the attached workloads. */
function finalState(journal: JournalEntry[]): Record<string, string[]> {
  const state: Record<string, Set<string>> = {};
  for (const entry of journal) {
    const [, network, , workload] = /^\/v1\/networks\/([^/]+)\/workloads(\/(.+))?$/.exec(entry.path) ?? [];
    if (!network) continue;
    const set = (state[network] ??= new Set());
    if (entry.method === 'POST') set.add(entry.taskId.replace(/^net(\d+)-t(\d+)$/, 'w$1-$2'));
    else if (workload) set.delete(workload);
  }
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, [...v].sort()]));
}

async function runOnce(t: ExecutionContext, kills: number): Promise<{ journal: JournalEntry[]; attempts: number }> {
  const dir = tempDir(t, 'provisiond-crash-');
  const p = {
    stateDir: join(dir, 'state'),
    networkdSocket: join(dir, 'networkd.sock'),
    socket: join(dir, 'provisiond.sock'),
    journal: join(dir, 'journal.jsonl'),
  };
  let networkd = await startJournalNetworkd(t, p.networkdSocket, p.journal, 10);
  const args = { ...p, extra: ['--concurrency', '8', '--retry-base-ms', '20', '--retry-max-ms', '200'] };
  let provisiond = await startProvisiond(t, args);
  const client = new ProvisiondClient(p.socket);
  const tasks = workload();
  await client.submit(tasks);
  const total = tasks.length;
  const points = Array.from(
    { length: kills },
    (_, k) => Math.floor(((k + 1) * total) / (kills + 2)) + Math.floor(Math.random() * 15),
  ).sort((a, b) => a - b);
  for (const [k, at] of points.entries()) {
    await waitFor(() => readJournal(p.journal).length >= at, {
      what: `${at} executions`,
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    if (k % 2 === 0) {
      await kill9(provisiond);
      provisiond = await startProvisiond(t, args);
    } else {
      await kill9(networkd);
      networkd = await startJournalNetworkd(t, p.networkdSocket, p.journal, 10);
    }
  }
  await waitFor(
    async () =>
      (await client.list({ limit: 1000 })).every((task) => (FINAL_STATES as readonly string[]).includes(task.state)),
    { what: 'every task to reach a final state', timeoutMs: 90_000, intervalMs: 200 },
  );
  const listed = await client.list({ limit: 1000 });
  t.is(listed.length, total);
  t.deepEqual(
    listed.filter((task) => task.state !== 'succeeded').map((task) => `${task.id}: ${task.state}`),
    [],
  );
  return { journal: readJournal(p.journal), attempts: listed.reduce((sum, task) => sum + task.attempts, 0) };
}

test('500 tasks over 20 networks survive SIGKILLs of provisiond and networkd: all succeed, each executed once, in order, same end state as a crash-free run', async (t) => {
  const calm = await runOnce(t, 0);
  const crashed = await runOnce(t, 6);
  const counts = new Map<string, number>();
  for (const entry of crashed.journal) counts.set(entry.taskId, (counts.get(entry.taskId) ?? 0) + 1);
  t.is(counts.size, NETWORKS * PER_NETWORK);
  t.deepEqual(
    [...counts].filter(([, n]) => n !== 1),
    [],
    'no task was executed twice',
  );
  for (let n = 0; n < NETWORKS; n++) {
    const order = crashed.journal.filter((e) => e.path.startsWith(`/v1/networks/net${n}/`)).map((e) => e.taskId);
    t.deepEqual(
      order,
      Array.from({ length: PER_NETWORK }, (_, i) => `net${n}-t${i}`),
      `net${n} in submission order`,
    );
  }
  t.deepEqual(finalState(crashed.journal), finalState(calm.journal));
  t.true(crashed.attempts > NETWORKS * PER_NETWORK, 'the kills forced re-sends (attempts beyond one per task)');
});
