import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { type Db, openDatabase } from '../../../src/provisiond/database.js';
import { ProvisiondError } from '../../../src/provisiond/errors.js';
import { NetworkdHandler } from '../../../src/provisiond/networkd-handler.js';
import { type QueueOptions, TaskQueue } from '../../../src/provisiond/queue.js';
import { parseTask, parseTasks } from '../../../src/provisiond/task.js';
import { FINAL_STATES } from '../../../src/provisiond/task-store.js';
import { type Behaviour, FakeNetworkd } from './fake-networkd.js';
import { attach, detach, tempDir } from './helpers.js';

interface Rig {
  dir: string;
  socket: string;
  db: Db;
  queue: TaskQueue;
  handler: NetworkdHandler;
  fake: FakeNetworkd | null;
}

async function rig(
  t: ExecutionContext,
  behaviour: Behaviour | null,
  options: Partial<QueueOptions> = {},
): Promise<Rig> {
  const dir = tempDir(t);
  const socket = join(dir, 'networkd.sock');
  const fake = behaviour ? await FakeNetworkd.start(socket, behaviour) : null;
  const db = openDatabase(join(dir, 'provisiond.db'));
  const handler = new NetworkdHandler({ socketPath: socket, timeoutMs: 5000 });
  const queue = new TaskQueue({ db, handler: handler.handle, backoff: { baseMs: 10, maxMs: 50 }, ...options });
  const r: Rig = { dir, socket, db, queue, handler, fake };
  t.teardown(async () => {
    await queue.stop(2000);
    handler.close();
    await r.fake?.close();
    db.close();
  });
  queue.start();
  return r;
}

const allFinal = (queue: TaskQueue) => () =>
  queue.list({ limit: 100_000 }).every((task) => FINAL_STATES.includes(task.state));

test('tasks of one network run one at a time in submission order; different networks run concurrently', async (t) => {
  const { queue, fake } = await rig(t, () => ({ status: 200, body: {}, delayMs: 15 }), { concurrency: 4 });
  const networks = ['n1', 'n2', 'n3'];
  const tasks = [];
  for (let i = 0; i < 5; i++) for (const n of networks) tasks.push(attach(`${n}-${i}`, n));
  await queue.submit(parseTasks(tasks));
  await queue.waitUntil(allFinal(queue), 20_000);
  t.true(queue.list().every((task) => task.state === 'succeeded'));
  for (const n of networks) {
    const seen = fake!.requests.filter((r) => r.path.startsWith(`/v1/networks/${n}/`));
    t.deepEqual(
      seen.map((r) => r.taskId),
      [0, 1, 2, 3, 4].map((i) => `${n}-${i}`),
    );
    for (let i = 1; i < seen.length; i++)
      t.true(seen[i]!.startedAt >= seen[i - 1]!.finishedAt!, `${n}: request ${i} started before ${i - 1} ended`);
  }
  t.true(fake!.maxInFlight > 1, 'networks ran concurrently');
  t.true(fake!.maxInFlight <= 3, 'never two tasks of one network at once');
});

test('the concurrency limit bounds the tasks in flight across networks', async (t) => {
  // Requests are answered in pairs: with a limit of 1 this would never finish, above 2 a third would be seen in flight.
  let waiting: (() => void)[] = [];
  const { queue, fake } = await rig(
    t,
    async () => {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 2) {
          for (const release of waiting) release();
          waiting = [];
        }
      });
      return { status: 200, body: {} };
    },
    { concurrency: 2 },
  );
  await queue.submit(parseTasks(Array.from({ length: 12 }, (_, i) => attach(`t${i}`, `net${i}`))));
  await queue.waitUntil(allFinal(queue), 20_000);
  t.is(fake!.maxInFlight, 2);
});

test('the same id with the same body is one task done once; with another body it is refused and changes nothing', async (t) => {
  const { queue, fake } = await rig(t, () => ({ status: 200, body: { done: true } }));
  const [first] = await queue.submit([parseTask(attach('once', 'n'))]);
  const [second] = await queue.submit([
    parseTask({
      ifname: 'eth0',
      netns: '/run/netns/w-once',
      workload: 'w-once',
      network: 'n',
      type: 'workload.attach',
      id: 'once',
    }),
  ]);
  t.true(first!.created);
  t.false(second!.created);
  t.is(second!.task.seq, first!.task.seq);
  const refused = await t.throwsAsync(queue.submit([parseTask({ ...attach('once', 'n'), ifname: 'eth1' })]), {
    instanceOf: ProvisiondError,
  });
  t.is(refused.code, 'ECONFLICT');
  t.is(refused.context.field, '/id');
  await queue.waitUntil(allFinal(queue));
  const [third] = await queue.submit([parseTask(attach('once', 'n'))]);
  t.false(third!.created);
  t.is(third!.task.state, 'succeeded');
  t.is(queue.list().length, 1);
  t.is(fake!.requests.length, 1);
  t.is(fake!.executions.get('once'), 1);
});

test('a refused submission in the same commit as good ones undoes only itself', async (t) => {
  const { queue } = await rig(t, () => ({ status: 200, body: {} }));
  await queue.submit([parseTask(attach('a', 'n'))]);
  const results = await Promise.allSettled([
    queue.submit([parseTask(attach('b', 'n'))]),
    queue.submit([parseTask(attach('c', 'n')), parseTask({ ...attach('a', 'n'), ifname: 'eth9' })]),
    queue.submit([parseTask(attach('d', 'n'))]),
  ]);
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.deepEqual(
    queue.list().map((task) => task.id),
    ['a', 'b', 'd'],
  );
});

test('transient 503s are retried with exponential backoff and the injected jitter, with the same task id', async (t) => {
  const randoms = [0.25, 0.75];
  const { queue, fake } = await rig(
    t,
    (_r, before) =>
      before < 0
        ? { status: 200 }
        : fake!.requests.length <= 2
          ? { status: 503, body: { error: { code: 'EUNAVAILABLE', message: 'wgd is restarting' } } }
          : { status: 200, body: { ok: 1 } },
    {
      backoff: { baseMs: 20, maxMs: 1000 },
      random: () => randoms.shift() ?? 0,
    },
  );
  await queue.submit([parseTask(attach('r1', 'n'))]);
  await queue.waitUntil(allFinal(queue), 10_000);
  const task = queue.get('r1')!;
  t.is(task.state, 'succeeded');
  t.is(task.attempts, 3);
  t.deepEqual(task.result, { ok: 1 });
  const attempts = queue.store.attempts(task.seq);
  // attempt 1: ceiling 20 → 10 + 10·0.25 = 12.5 → 13; attempt 2: ceiling 40 → 20 + 20·0.75 = 35.
  t.deepEqual(
    attempts.map((a) => [a.attempt, a.outcome, a.status, a.retryInMs]),
    [
      [1, 'retry', 503, 13],
      [2, 'retry', 503, 35],
      [3, 'succeeded', 200, null],
    ],
  );
  t.is(attempts[0]!.error?.message, 'wgd is restarting');
  t.true(attempts[1]!.startedAt - attempts[0]!.finishedAt! >= 13);
  t.true(attempts[2]!.startedAt - attempts[1]!.finishedAt! >= 35);
  t.deepEqual(
    fake!.requests.map((r) => r.taskId),
    ['r1', 'r1', 'r1'],
  );
});

test("a 4xx fails the task at once with networkd's message, and the network's next task still runs", async (t) => {
  const { queue } = await rig(t, (r) =>
    r.taskId === 'bad'
      ? { status: 400, body: { error: { code: 'EINVAL', message: 'ip: 10.9.9.9 is outside the subnet', field: 'ip' } } }
      : { status: 200, body: {} },
  );
  await queue.submit(parseTasks([attach('bad', 'n'), attach('next', 'n')]));
  await queue.waitUntil(allFinal(queue));
  const bad = queue.get('bad')!;
  t.is(bad.state, 'failed');
  t.is(bad.attempts, 1);
  t.deepEqual(bad.error, { code: 'EINVAL', message: 'ip: 10.9.9.9 is outside the subnet', field: 'ip', status: 400 });
  t.is(queue.get('next')!.state, 'succeeded');
});

test('a 5xx answered every time gives up after maxAttempts with the last error', async (t) => {
  const { queue } = await rig(
    t,
    () => ({ status: 500, body: { error: { code: 'EKERNEL', message: 'RTNETLINK answers: File exists' } } }),
    { maxAttempts: 3 },
  );
  await queue.submit([parseTask(attach('k', 'n'))]);
  await queue.waitUntil(allFinal(queue));
  const task = queue.get('k')!;
  t.is(task.state, 'failed');
  t.is(task.attempts, 3);
  t.regex(task.error!.message, /gave up after 3 attempts: RTNETLINK answers: File exists/);
});

test('a 404 to a detach or delete is done: the thing is already gone', async (t) => {
  const { queue } = await rig(t, () => ({
    status: 404,
    body: { error: { code: 'ENOENT', message: 'workload "w" is not attached to network "n"' } },
  }));
  await queue.submit(
    parseTasks([detach('d', 'n', 'w'), { id: 'del', type: 'network.delete', network: 'n' }, attach('a', 'm')]),
  );
  await queue.waitUntil(allFinal(queue));
  t.is(queue.get('d')!.state, 'succeeded');
  t.deepEqual(queue.get('d')!.result, {
    absent: true,
    networkd: { code: 'ENOENT', message: 'workload "w" is not attached to network "n"', status: 404 },
  });
  t.is(queue.get('del')!.state, 'succeeded');
  t.is(queue.get('a')!.state, 'failed', 'a 404 to an attach (no such network) is a failure');
});

test('with networkd down tasks stay queued and retried; they drain in order when it comes back', async (t) => {
  const r = await rig(t, null);
  const { queue } = r;
  await queue.submit(parseTasks([attach('a1', 'n'), attach('a2', 'n'), attach('b1', 'm')]));
  await queue.waitUntil(() => (queue.get('a1')?.attempts ?? 0) >= 3, 10_000);
  t.is(queue.get('a1')!.state === 'succeeded', false);
  t.is(queue.get('a2')!.attempts, 0, 'the second task of a network waits for the first');
  t.regex(
    queue.store.attempts(queue.get('a1')!.seq)[0]!.error!.message,
    /networkd did not answer at .*networkd\.sock: (ECONNREFUSED|ENOENT)/,
  );
  r.fake = await FakeNetworkd.start(r.socket);
  await queue.waitUntil(allFinal(queue), 10_000);
  t.true(queue.list().every((task) => task.state === 'succeeded'));
  t.deepEqual(
    r.fake.requests.filter((x) => x.path.includes('/n/')).map((x) => x.taskId),
    ['a1', 'a2'],
  );
  t.deepEqual([...r.fake.executions.values()], [1, 1, 1]);
});

test('cancel: a pending task is never sent; a running or finished one cannot be cancelled', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { queue, fake } = await rig(t, async (r) => {
    if (r.taskId === 'first') await gate;
    return { status: 200, body: {} };
  });
  await queue.submit(parseTasks([attach('first', 'n'), attach('second', 'n')]));
  await queue.waitUntil(() => queue.get('first')!.state === 'running');
  const refused = await t.throwsAsync(queue.cancel('first'), { instanceOf: ProvisiondError });
  t.is(refused.code, 'ESTATE');
  t.regex(refused.message, /running \(attempt 1\)/);
  const cancelled = await queue.cancel('second');
  t.is(cancelled.state, 'cancelled');
  t.is((await queue.cancel('second')).state, 'cancelled', 'cancelling twice is harmless');
  release();
  await queue.waitUntil(allFinal(queue));
  t.is(queue.get('first')!.state, 'succeeded');
  t.deepEqual(
    fake!.requests.map((r) => r.taskId),
    ['first'],
  );
  await t.throwsAsync(queue.cancel('first'), { message: /already succeeded/ });
  await t.throwsAsync(queue.cancel('nope'), { message: /no task "nope"/ });
});

test('a task left running by a crash is re-sent with its task id and networkd replays instead of redoing it', async (t) => {
  const dir = tempDir(t);
  const socket = join(dir, 'networkd.sock');
  const fake = await FakeNetworkd.start(socket, () => ({ status: 200, body: { attached: true } }));
  t.teardown(() => fake.close());
  const file = join(dir, 'provisiond.db');
  // First life: the request reaches networkd, which does the work; the process "dies" before recording.
  const db1 = openDatabase(file);
  let answered!: () => void;
  const networkdAnswered = new Promise<void>((resolve) => (answered = resolve));
  const crashing = new TaskQueue({
    db: db1,
    handler: async (task) => {
      const handler = new NetworkdHandler({ socketPath: socket });
      await handler.handle(task, 1);
      handler.close();
      answered();
      return new Promise(() => {}); // never reports: the crash
    },
  });
  crashing.start();
  await crashing.submit([parseTask(attach('c1', 'n'))]);
  await networkdAnswered;
  t.is(fake.executions.get('c1'), 1);
  t.is(crashing.get('c1')!.state, 'running');
  db1.close();
  // Second life on the same file.
  const db2 = openDatabase(file);
  const handler = new NetworkdHandler({ socketPath: socket });
  const queue = new TaskQueue({ db: db2, handler: handler.handle });
  t.teardown(async () => {
    await queue.stop();
    handler.close();
    db2.close();
  });
  t.deepEqual(queue.start(), { recovered: 1 });
  await queue.waitUntil(allFinal(queue));
  const task = queue.get('c1')!;
  t.is(task.state, 'succeeded');
  t.is(task.attempts, 2);
  t.deepEqual(
    queue.store.attempts(task.seq).map((a) => [a.attempt, a.outcome, a.replayed]),
    [
      [1, 'interrupted', false],
      [2, 'succeeded', true],
    ],
  );
  t.is(fake.executions.get('c1'), 1);
  t.deepEqual(task.result, { attached: true });
});
