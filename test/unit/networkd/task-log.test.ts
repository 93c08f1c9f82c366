import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { NetworkdError } from '../../../src/networkd/errors.js';
import type { TaskId } from '../../../src/networkd/requests.js';
import { TaskLog, type TaskRequest } from '../../../src/networkd/task-log.js';

async function tempFile(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'networkd-tasks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'tasks.json');
}

const id = (text: string) => text as TaskId;
/** A request line with its body's digest (any hex stands in for one here). */
const req = (request: string, digest = 'a'.repeat(64)): TaskRequest => ({ request, digest });

test('a repeated task id does the work once and replays the recorded outcome', async (t) => {
  const log = TaskLog.open(await tempFile(t));
  let runs = 0;
  const work = async () => ({ status: 200, body: { run: ++runs } });
  const first = await log.run(id('t1'), req('PUT /v1/networks/a'), work);
  const second = await log.run(id('t1'), req('PUT /v1/networks/a'), work);
  t.is(runs, 1);
  t.deepEqual(first, { status: 200, body: { run: 1 }, replayed: false });
  t.deepEqual(second, { status: 200, body: { run: 1 }, replayed: true });
});

test('the record survives a restart (a new TaskLog on the same file)', async (t) => {
  const file = await tempFile(t);
  await TaskLog.open(file).run(id('t1'), req('DELETE /v1/networks/a'), async () => ({
    status: 404,
    body: { error: 'x' },
  }));
  let ran = false;
  const again = await TaskLog.open(file).run(id('t1'), req('DELETE /v1/networks/a'), async () => {
    ran = true;
    return { status: 200, body: {} };
  });
  t.false(ran);
  t.is(again.status, 404);
  t.is(JSON.parse(await readFile(file, 'utf8')).entries.length, 1);
});

test('a repeat arriving while the first is running waits for it instead of running again', async (t) => {
  const log = TaskLog.open(await tempFile(t));
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const work = async () => {
    runs++;
    await gate;
    return { status: 200, body: { ok: true } };
  };
  const a = log.run(id('t'), req('POST /x'), work);
  const b = log.run(id('t'), req('POST /x'), work);
  release();
  const [ra, rb] = await Promise.all([a, b]);
  t.is(runs, 1);
  t.false(ra.replayed);
  t.true(rb.replayed);
});

test('a task id reused for another request is a 409 naming X-Task-Id', async (t) => {
  const log = TaskLog.open(await tempFile(t));
  await log.run(id('t'), req('PUT /v1/networks/a'), async () => ({ status: 200, body: {} }));
  const error = await t.throwsAsync(
    log.run(id('t'), req('PUT /v1/networks/b'), async () => ({ status: 200, body: {} })),
    { instanceOf: NetworkdError },
  );
  t.is(error?.status, 409);
  t.is(error?.context.field, 'X-Task-Id');
});

test('transient failures (5xx) are not recorded, so a retry does the work', async (t) => {
  const log = TaskLog.open(await tempFile(t));
  let runs = 0;
  const work = async () => ({ status: ++runs === 1 ? 503 : 200, body: {} });
  t.is((await log.run(id('t'), req('POST /x'), work)).status, 503);
  t.is((await log.run(id('t'), req('POST /x'), work)).status, 200);
  t.is(runs, 2);
});

test('the record is bounded: the oldest task ids are dropped first', async (t) => {
  const file = await tempFile(t);
  const log = TaskLog.open(file, 3);
  for (const n of [1, 2, 3, 4]) await log.run(id(`t${n}`), req('POST /x'), async () => ({ status: 200, body: { n } }));
  t.is(log.size, 3);
  const reloaded = TaskLog.open(file, 3);
  let ran = 0;
  await reloaded.run(id('t1'), req('POST /x'), async () => ({ status: 200, body: { n: ++ran } }));
  await reloaded.run(id('t4'), req('POST /x'), async () => ({ status: 200, body: { n: ++ran } }));
  t.is(ran, 1, 't1 was evicted and runs again; t4 is replayed');
});

test('without a task id every request does the work', async (t) => {
  const log = TaskLog.open(await tempFile(t));
  let runs = 0;
  await log.run(undefined, req('POST /x'), async () => ({ status: 200, body: { n: ++runs } }));
  await log.run(undefined, req('POST /x'), async () => ({ status: 200, body: { n: ++runs } }));
  t.is(runs, 2);
  t.is(log.size, 0);
});

test('the same task id with another body is a 409 naming both digests, recorded or still running', async (t) => {
  const log = TaskLog.open(await tempFile(t));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const first = log.run(id('t'), req('POST /x', 'a'.repeat(64)), async () => {
    await gate;
    return { status: 200, body: {} };
  });
  const running = await t.throwsAsync(
    log.run(id('t'), req('POST /x', 'b'.repeat(64)), async () => ({ status: 200, body: {} })),
    { instanceOf: NetworkdError },
  );
  t.is(running?.status, 409);
  t.regex(
    running!.message,
    /^X-Task-Id: task t is running as POST \/x with a body of sha256 a{16}…, not this body \(sha256 b{16}…\)/,
  );
  release();
  await first;
  const recorded = await t.throwsAsync(
    log.run(id('t'), req('POST /x', 'b'.repeat(64)), async () => ({ status: 200, body: {} })),
    { instanceOf: NetworkdError },
  );
  t.regex(recorded!.message, /task t was used for POST \/x with a body of sha256 a{16}…, not this body/);
});

test("a waiter never inherits the first attempt's transient failure: it does the work itself", async (t) => {
  const log = TaskLog.open(await tempFile(t));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let runs = 0;
  const first = log.run(id('t'), req('POST /x'), async () => {
    runs++;
    await gate;
    return { status: 500, body: { error: { code: 'EINTERNAL', message: 'internal error (ECONNRESET)' } } };
  });
  const waiter = log.run(id('t'), req('POST /x'), async () => ({ status: 200, body: { run: ++runs } }));
  release();
  t.is((await first).status, 500);
  t.deepEqual(await waiter, { status: 200, body: { run: 2 }, replayed: false });
});
