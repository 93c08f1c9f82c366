/**
 * UnixHttpClient (src/http/client.ts), the one client of zmesh's JSON APIs, against real HTTP
 * servers on UNIX sockets that answer well, badly, slowly, too much, or not at all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { HttpClientError, UnixHttpClient, apiErrorOf } from '../../../src/http/client.js';

function socketDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'http-client-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function serve(t: ExecutionContext, handle: http.RequestListener): Promise<string> {
  const path = join(socketDir(t), 'api.sock');
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return path;
}

async function failure(t: ExecutionContext, promise: Promise<unknown>): Promise<HttpClientError> {
  const error = await t.throwsAsync(promise, { instanceOf: HttpClientError });
  return error as HttpClientError;
}

test('a JSON body goes out with its type and length and the answer comes back parsed, whatever its status', async (t) => {
  const socketPath = await serve(t, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const echo = {
        method: request.method,
        url: request.url,
        type: request.headers['content-type'],
        length: request.headers['content-length'],
        task: request.headers['x-task-id'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
      };
      response.writeHead(409, { 'content-type': 'application/json', 'x-task-replayed': 'true' });
      response.end(
        JSON.stringify({ echo, error: { code: 'ECONFLICT', message: 'older revision', field: 'revision' } }),
      );
    });
  });
  const client = new UnixHttpClient({ socketPath });
  t.teardown(() => client.close());
  const answer = await client.request('PUT', '/v1/networks/a', {
    body: { revision: 3 },
    headers: { 'x-task-id': 't1' },
  });
  t.is(answer.status, 409);
  t.is(answer.headers['x-task-replayed'], 'true');
  t.deepEqual((answer.body as { echo: unknown }).echo, {
    method: 'PUT',
    url: '/v1/networks/a',
    type: 'application/json',
    length: String(Buffer.byteLength('{"revision":3}')),
    task: 't1',
    body: { revision: 3 },
  });
  t.like(apiErrorOf(answer.body), { code: 'ECONFLICT', message: 'older revision', field: 'revision' });
});

test('an empty body reads as null, a body that is not JSON as undefined with its text kept', async (t) => {
  const socketPath = await serve(t, (request, response) => {
    response.writeHead(request.url === '/empty' ? 204 : 502);
    response.end(request.url === '/empty' ? undefined : 'Bad Gateway');
  });
  const client = new UnixHttpClient({ socketPath });
  t.teardown(() => client.close());
  const empty = await client.request('DELETE', '/empty');
  t.is(empty.status, 204);
  t.is(empty.body, null);
  const text = await client.request('GET', '/text');
  t.is(text.status, 502);
  t.is(text.body, undefined);
  t.is(text.text, 'Bad Gateway');
  t.is(apiErrorOf(text.body), null);
});

test('no socket file and a socket nobody listens on are EUNREACHABLE naming the socket and the errno', async (t) => {
  const dir = socketDir(t);
  const missing = await failure(
    t,
    new UnixHttpClient({ socketPath: join(dir, 'none.sock') }).request('GET', '/v1/health'),
  );
  t.is(missing.code, 'EUNREACHABLE');
  t.is(missing.context.errno, 'ENOENT');
  t.regex(missing.message, /GET \/v1\/health: no answer at .*none\.sock: ENOENT/);

  // A socket file whose server was killed: the file stays, connecting is refused.
  const path = join(dir, 'gone.sock');
  const listener = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', listener]);
  t.true(existsSync(path));
  const refused = await failure(t, new UnixHttpClient({ socketPath: path }).request('GET', '/'));
  t.is(refused.code, 'EUNREACHABLE');
  t.is(refused.context.errno, 'ECONNREFUSED');
});

test('the deadline bounds the whole exchange, even while the server keeps sending', async (t) => {
  const socketPath = await serve(t, (request, response) => {
    if (request.url === '/silent') return; // never answers
    // Trickles a byte every 20 ms: no idle gap is ever as long as the deadline.
    response.writeHead(200);
    const timer = setInterval(() => response.write(' '), 20);
    response.on('close', () => clearInterval(timer));
  });
  const client = new UnixHttpClient({ socketPath, timeoutMs: 5_000 });
  t.teardown(() => client.close());
  const started = Date.now();
  const silent = await failure(t, client.request('GET', '/silent', { timeoutMs: 150 }));
  t.is(silent.code, 'ETIMEDOUT');
  t.regex(silent.message, /within 150 ms/);
  const trickle = await failure(t, client.request('GET', '/trickle', { timeoutMs: 300 }));
  t.is(trickle.code, 'ETIMEDOUT');
  t.true(Date.now() - started < 3_000, 'both deadlines ended their requests');
});

test('an answer past the size bound is ETOOLARGE with its status, and the client still works after it', async (t) => {
  const socketPath = await serve(t, (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(request.url === '/big' ? JSON.stringify({ data: 'x'.repeat(100_000) }) : '{"ok":true}');
  });
  const client = new UnixHttpClient({ socketPath, maxAnswerBytes: 10_000 });
  t.teardown(() => client.close());
  const big = await failure(t, client.request('GET', '/big'));
  t.is(big.code, 'ETOOLARGE');
  t.is(big.context.status, 200);
  t.regex(big.message, /exceeds 10000 bytes/);
  t.deepEqual((await client.request('GET', '/small')).body, { ok: true });
});

test('a raw body is sent as it is, without a JSON content type', async (t) => {
  const socketPath = await serve(t, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ type: request.headers['content-type'] ?? null, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
  });
  const client = new UnixHttpClient({ socketPath });
  t.teardown(() => client.close());
  const answer = await client.request('POST', '/v1/tasks', { rawBody: '{not json' });
  t.deepEqual(answer.body, { type: null, text: '{not json' });
});
