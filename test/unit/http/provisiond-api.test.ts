/**
 * The shared JSON API layer (src/http) as provisiond serves it, in process on a real UNIX
 * socket: routing errors, body limits, malformed bodies and error bodies keep provisiond's codes,
 * statuses and messages, and a bad request never takes the daemon down.
 */
import http from 'node:http';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { UnixHttpClient } from '../../../src/http/client.js';
import { Api, MAX_BODY_BYTES } from '../../../src/provisiond/api.js';
import { openDatabase } from '../../../src/provisiond/database.js';
import { noopHandler } from '../../../src/provisiond/handler.js';
import { TaskQueue } from '../../../src/provisiond/queue.js';
import { tempDir } from '../provisiond/helpers.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

async function request(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<Reply> {
  const client = new UnixHttpClient({ socketPath });
  try {
    const answer = await client.request(method, path, { headers, ...(body === undefined ? {} : { rawBody: body }) });
    return { status: answer.status, headers: answer.headers, body: answer.body };
  } finally {
    client.close();
  }
}

async function serve(t: ExecutionContext): Promise<string> {
  const dir = tempDir(t);
  const db = openDatabase(join(dir, 'provisiond.db'));
  const queue = new TaskQueue({ db, handler: noopHandler });
  const api = new Api({ queue });
  const socket = join(dir, 'api', 'provisiond.sock');
  await api.listen(socket);
  t.teardown(async () => {
    await api.close();
    await queue.stop(2000);
    db.close();
  });
  return socket;
}

test('an unknown path answers 404 ENOENT and a wrong method 405 EMETHOD listing the allowed ones', async (t) => {
  const socket = await serve(t);
  const missing = await request(socket, 'GET', '/v1/nothing');
  t.is(missing.status, 404);
  t.deepEqual(missing.body, { error: { code: 'ENOENT', message: 'no such path: /v1/nothing', field: 'path' } });
  const method = await request(socket, 'DELETE', '/v1/tasks');
  t.is(method.status, 405);
  t.deepEqual(method.body, {
    error: { code: 'EMETHOD', message: 'DELETE is not allowed on /v1/tasks (allowed: POST, GET)', field: 'method' },
  });
  t.is(method.headers['content-type'], 'application/json');
});

test('a body that is not JSON, or empty, answers 400 EINVAL naming body, and the daemon keeps serving', async (t) => {
  const socket = await serve(t);
  const garbage = await request(socket, 'POST', '/v1/tasks', '{not json', { 'content-type': 'application/json' });
  t.is(garbage.status, 400);
  t.like(garbage.body, { error: { code: 'EINVAL', field: 'body' } });
  t.regex((garbage.body as { error: { message: string } }).error.message, /^body: not valid JSON: /);
  const truncated = await request(socket, 'POST', '/v1/tasks', '{"id": "a", "type": "network.del');
  t.regex(
    (truncated.body as { error: { message: string } }).error.message,
    /^body: truncated JSON \(the document ends early\)/,
  );
  const empty = await request(socket, 'POST', '/v1/tasks', '');
  t.deepEqual(empty.body, {
    error: { code: 'EINVAL', message: 'body: is empty (expected a JSON task or array of tasks)', field: 'body' },
  });
  const health = await request(socket, 'GET', '/v1/health');
  t.is(health.status, 200, 'still serving after the bad bodies');
});

test('a body declared larger than the limit answers 413 ETOOLARGE before any of it is read', async (t) => {
  const socket = await serve(t);
  const reply = await new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method: 'POST',
        path: '/v1/tasks',
        headers: { 'content-length': String(MAX_BODY_BYTES + 1) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          });
        });
      },
    );
    req.on('error', reject);
    req.write('['); // the rest is never sent: the answer must not wait for it
  });
  t.is(reply.status, 413);
  t.deepEqual(reply.body, {
    error: { code: 'ETOOLARGE', message: `body: larger than ${MAX_BODY_BYTES} bytes`, field: 'body' },
  });
});

test('a second API on a live socket is refused with ECONFLICT naming --socket', async (t) => {
  const socket = await serve(t);
  const dir = tempDir(t);
  const db = openDatabase(join(dir, 'other.db'));
  const queue = new TaskQueue({ db, handler: noopHandler });
  t.teardown(async () => {
    await queue.stop(2000);
    db.close();
  });
  const error = await t.throwsAsync(new Api({ queue }).listen(socket));
  t.like(error, { name: 'ProvisiondError', code: 'ECONFLICT', context: { field: '--socket' } });
  t.is((error as { status?: number }).status, 409);
});
