import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import test from 'ava';
import { ProvisiondClient } from '../../../src/provisiond/client.js';
import { FINAL_STATES } from '../../../src/provisiond/task-store.js';
import { waitFor } from '../../harness/index.js';
import { attach, detach, tempDir } from './helpers.js';
import { kill9, readJournal, startJournalNetworkd, startProvisiond, zmesh } from './processes.js';

function paths(dir: string) {
  return {
    stateDir: join(dir, 'state'),
    networkdSocket: join(dir, 'networkd.sock'),
    socket: join(dir, 'api', 'provisiond.sock'),
    journal: join(dir, 'journal.jsonl'),
    spool: join(dir, 'spool'),
  };
}

// As a spool writer must: written under a name the spool ignores, then renamed. A plain write
// can be claimed while still empty (the watch fires on create).
function dropIntoSpool(spool: string, name: string, text: string): void {
  writeFileSync(join(spool, `.${name}.writing`), text);
  renameSync(join(spool, `.${name}.writing`), join(spool, name));
}

const allFinal = async (client: ProvisiondClient) =>
  (await client.list({ limit: 100_000 })).every((task) => (FINAL_STATES as readonly string[]).includes(task.state));

test('zmesh task submit/list/show/cancel drive a running provisiond; a bad file is refused naming the JSON path', async (t) => {
  const p = paths(tempDir(t));
  // No networkd yet: tasks stay pending, so one can be cancelled.
  await startProvisiond(t, { ...p, extra: ['--retry-base-ms', '20', '--retry-max-ms', '100'] });
  t.is(statSync(p.socket).mode & 0o077, 0, 'the API socket is root-only');
  const file = join(p.stateDir, '..', 'tasks.json');
  writeFileSync(file, JSON.stringify([attach('a1', 'n'), attach('a2', 'n')]));
  const submitted = await zmesh(['task', 'submit', file, '--socket', p.socket]);
  t.is(submitted.code, 0, submitted.stderr);
  t.is(submitted.stdout, 'a1: queued\na2: queued\n');
  const again = await zmesh(['task', 'submit', '-', '--socket', p.socket], JSON.stringify(attach('a1', 'n')));
  t.regex(again.stdout, /^a1: already known \(pending\)\n$/);
  const conflicting = await zmesh(
    ['task', 'submit', '-', '--socket', p.socket],
    JSON.stringify({ ...attach('a1', 'n'), ifname: 'eth1' }),
  );
  t.is(conflicting.code, 2);
  t.regex(conflicting.stderr, /zmesh: task submit: stdin#\/id: .*task "a1" was submitted before with a different body/);
  writeFileSync(file, JSON.stringify([attach('b1', 'n'), { id: 'b2', type: 'workload.detach', network: 'n' }]));
  const bad = await zmesh(['task', 'submit', file, '--socket', p.socket]);
  t.is(bad.code, 2);
  t.regex(
    bad.stderr,
    new RegExp(`zmesh: task submit: ${file.replace(/[.]/g, '\\.')}#/1/workload: required field "workload" is missing`),
  );
  writeFileSync(file, '{"id": "c1", "type": "network.del');
  const truncated = await zmesh(['task', 'submit', file, '--socket', p.socket]);
  t.is(truncated.code, 2);
  t.regex(truncated.stderr, /not valid JSON/);
  const listed = await zmesh(['task', 'list', '--network', 'n', '--socket', p.socket]);
  t.regex(listed.stdout, /^ID +TYPE +NETWORK +STATE/);
  t.deepEqual(
    listed.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/)[0]),
    ['a1', 'a2'],
    'the refused files queued nothing',
  );
  const cancelled = await zmesh(['task', 'cancel', 'a2', '--socket', p.socket]);
  t.is(cancelled.stdout, 'a2: cancelled\n');
  const shown = JSON.parse((await zmesh(['task', 'show', 'a2', '--socket', p.socket])).stdout);
  t.is(shown.state, 'cancelled');
  t.deepEqual(shown.task, {
    id: 'a2',
    type: 'workload.attach',
    network: 'n',
    workload: 'w-a2',
    netns: '/run/netns/w-a2',
    ifname: 'eth0',
  });
  const missing = await zmesh(['task', 'show', 'nope', '--socket', p.socket]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no task "nope"/);
  const malformed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request({ socketPath: p.socket, path: '/v1/tasks/%E0%A4%A' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
  t.is(malformed.status, 400, malformed.body);
  t.regex(JSON.parse(malformed.body).error.message, /^task: malformed percent-encoding/);
  // networkd arrives: the queue drains; the cancelled task is never sent.
  await startJournalNetworkd(t, p.networkdSocket, p.journal);
  const client = new ProvisiondClient(p.socket);
  await waitFor(() => allFinal(client), { what: 'the queue to drain', timeoutMs: 10_000 });
  t.deepEqual(
    readJournal(p.journal).map((e) => e.taskId),
    ['a1'],
  );
  const a1 = await client.show('a1');
  t.is(a1.state, 'succeeded');
  t.true(a1.attempts >= 2, 'a1 was retried while networkd was away');
  const noDaemon = await zmesh(['task', 'list', '--socket', join(p.stateDir, 'none.sock')]);
  t.is(noDaemon.code, 1);
  t.regex(noDaemon.stderr, /provisiond is not answering at .*none\.sock/);
});

test('the spool ingests complete JSON files, refuses bad ones beside their reason, ignores temp names', async (t) => {
  const p = paths(tempDir(t));
  await startJournalNetworkd(t, p.networkdSocket, p.journal);
  const daemon = await startProvisiond(t, { ...p });
  const client = new ProvisiondClient(p.socket);
  const files: Record<string, string> = {
    'good.json': JSON.stringify([attach('g1', 'n'), detach('g2', 'n', 'w-g1')]),
    'single.json': JSON.stringify(attach('s1', 'm')),
    'truncated.json': JSON.stringify(attach('t1', 'm')).slice(0, 30),
    'garbage.json': 'this is not json',
    'schema.json': JSON.stringify([
      attach('x1', 'm'),
      {
        id: 'x2',
        type: 'workload.attach',
        network: 'm',
        workload: 'w',
        netns: '/run/netns/w',
        ifname: 'way-too-long-name',
      },
    ]),
    'conflict.json': JSON.stringify({ ...attach('g1', 'n'), ifname: 'eth7' }),
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(p.spool, `.${name}.tmp`), text);
    if (name !== 'conflict.json') dropIntoSpool(p.spool, name, text);
  }
  // A reason appears only once its file is beside it; what is being written is a dotfile.
  const listed = (dir: string) => readdirSync(join(p.spool, dir)).filter((n) => !n.startsWith('.'));
  await waitFor(() => listed('done').length === 2 && listed('failed').length === 6, {
    what: 'the spool to sort the files',
    timeoutMs: 10_000,
  });
  const refused = ['garbage.json', 'schema.json', 'truncated.json'];
  t.deepEqual(
    listed('failed').sort(),
    refused.flatMap((n) => [n, `${n}.error.txt`]),
  );
  // The conflict only after g1 is known.
  dropIntoSpool(p.spool, 'conflict.json', files['conflict.json']!);
  await waitFor(() => existsSync(join(p.spool, 'failed', 'conflict.json.error.txt')), {
    what: 'the conflicting file to be refused',
    timeoutMs: 10_000,
  });
  const reason = (name: string) => readFileSync(join(p.spool, 'failed', `${name}.error.txt`), 'utf8');
  t.regex(reason('truncated.json'), /^truncated\.json: \/: truncated JSON \(the document ends early\)/);
  t.regex(reason('garbage.json'), /^garbage\.json: \/: not valid JSON/);
  t.regex(reason('schema.json'), /^schema\.json: invalid task: \/1\/ifname: malformed interface name/);
  t.regex(reason('conflict.json'), /^conflict\.json: \/id: task "g1" was submitted before with a different body/);
  t.deepEqual(readdirSync(join(p.spool, 'done')).sort(), ['good.json', 'single.json']);
  t.deepEqual(
    readdirSync(p.spool).filter((n) => n.startsWith('.') && n.endsWith('.tmp')).length,
    6,
    'temp names are left alone',
  );
  await waitFor(() => allFinal(client), { what: 'the queue to drain' });
  t.deepEqual((await client.list()).map((task) => [task.id, task.state, task.source]).sort(), [
    ['g1', 'succeeded', 'spool:good.json'],
    ['g2', 'succeeded', 'spool:good.json'],
    ['s1', 'succeeded', 'spool:single.json'],
  ]);
  t.true(daemon.running);
});

test('a refusal a crash interrupted is finished at start: the reason joins its file, or goes without it', async (t) => {
  const p = paths(tempDir(t));
  const failed = join(p.spool, 'failed');
  mkdirSync(failed, { recursive: true });
  // Crashed after moving moved.json beside its pending reason; and before moving early.json.
  writeFileSync(join(failed, 'moved.json'), '{');
  writeFileSync(join(failed, '.moved.json.error.txt.tmp'), 'moved.json: /: truncated JSON\n');
  writeFileSync(join(failed, '.early.json.error.txt.tmp'), 'early.json: /: not valid JSON\n');
  await startProvisiond(t, { ...p });
  t.deepEqual(readdirSync(failed).sort(), ['moved.json', 'moved.json.error.txt']);
  t.is(readFileSync(join(failed, 'moved.json.error.txt'), 'utf8'), 'moved.json: /: truncated JSON\n');
});

test('provisiond killed with SIGKILL mid-run restarts with a consistent database and every task done exactly once, in order', async (t) => {
  const p = paths(tempDir(t));
  await startJournalNetworkd(t, p.networkdSocket, p.journal, 20);
  const args = { ...p, extra: ['--concurrency', '4'] };
  let daemon = await startProvisiond(t, args);
  const client = new ProvisiondClient(p.socket);
  const tasks = [];
  for (let i = 0; i < 20; i++)
    for (let n = 0; n < 10; n++)
      tasks.push(
        i % 2 === 0 ? attach(`n${n}-${i}`, `net${n}`, `w${n}-${i}`) : detach(`n${n}-${i}`, `net${n}`, `w${n}-${i - 1}`),
      );
  await client.submit(tasks);
  for (const killAt of [30, 90, 150].map((n) => n + Math.floor(Math.random() * 20))) {
    await waitFor(() => readJournal(p.journal).length >= killAt, {
      what: `${killAt} executions`,
      timeoutMs: 20_000,
      intervalMs: 5,
    });
    await kill9(daemon);
    const db = new Database(join(p.stateDir, 'provisiond.db'), { readonly: true });
    t.is(db.pragma('integrity_check', { simple: true }), 'ok');
    t.is(
      (db.prepare('SELECT COUNT(*) AS n FROM tasks').get() as { n: number }).n,
      200,
      'no acknowledged task was lost',
    );
    db.close();
    daemon = await startProvisiond(t, args);
  }
  await waitFor(() => allFinal(client), { what: 'the queue to drain', timeoutMs: 30_000 });
  const listed = await client.list({ limit: 1000 });
  t.true(listed.every((task) => task.state === 'succeeded'));
  const journal = readJournal(p.journal);
  const counts = new Map<string, number>();
  for (const entry of journal) counts.set(entry.taskId, (counts.get(entry.taskId) ?? 0) + 1);
  t.is(counts.size, 200);
  t.true(
    [...counts.values()].every((n) => n === 1),
    'no task was executed twice',
  );
  for (let n = 0; n < 10; n++) {
    const order = journal.filter((e) => e.path.startsWith(`/v1/networks/net${n}/`)).map((e) => e.taskId);
    t.deepEqual(
      order,
      Array.from({ length: 20 }, (_, i) => `n${n}-${i}`),
    );
  }
  t.true(
    listed.some((task) => task.attempts > 1),
    'some task was re-sent after a kill',
  );
});
