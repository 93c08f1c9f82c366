/**
 * requestOverSocket (src/socket/socket-request.ts), the request/answer exchange of the UAPI
 * client and wgd's client, against real UNIX-socket servers that answer in awkward ways.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { requestOverSocket, type SocketRequestOptions } from '../../../src/socket/socket-request.js';

class Refusal extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

const errors: SocketRequestOptions['errors'] = {
  timeout: () => new Refusal('timeout'),
  tooLarge: () => new Refusal('too large'),
  closedEarly: () => new Refusal('closed early'),
  socket: (error) => new Refusal(`socket ${error.code}`),
};

/** A server that answers each connection with `answer(request)` written piece by piece. */
async function server(
  t: ExecutionContext,
  pieces: (request: string) => readonly string[],
  endAfter = false,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'socket-request-'));
  const path = join(dir, 's.sock');
  const srv = net.createServer((socket) => {
    socket.once('data', async (data) => {
      for (const piece of pieces(data.toString('utf8'))) {
        await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (endAfter) socket.end();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => srv.listen(path, resolve));
  t.teardown(() => {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return path;
}

const options = (terminator: '\n' | '\n\n', maxAnswerBytes = 1 << 20): SocketRequestOptions => ({
  terminator,
  timeoutMs: 5000,
  maxAnswerBytes,
  errors,
});

test('a blank-line answer split byte by byte, its "\\n\\n" across writes, is returned whole and nothing after it', async (t) => {
  const answer = 'listen_port=1\nerrno=0\n\n';
  const path = await server(t, () => [...answer.split(''), 'junk\n\n']);
  t.is(await requestOverSocket(path, 'get=1\n\n', options('\n\n')), answer);
});

test('a line answer ends at its first newline, however the server splits it', async (t) => {
  const path = await server(t, (request) => [`{"echo":${JSON.stringify(request.trim())}`, '}\n{"more":1}\n']);
  t.is(await requestOverSocket(path, '{"op":"ping"}\n', options('\n')), '{"echo":"{\\"op\\":\\"ping\\"}"}\n');
});

test('an answer past the byte bound, a hang-up before the terminator, no socket and silence each give their own error', async (t) => {
  const big = await server(t, () => ['x'.repeat(2000), 'y'.repeat(2000)]);
  await t.throwsAsync(requestOverSocket(big, 'get=1\n\n', options('\n\n', 3000)), {
    instanceOf: Refusal,
    message: 'too large',
  });
  const early = await server(t, () => ['errno=0\n'], true);
  await t.throwsAsync(requestOverSocket(early, 'get=1\n\n', options('\n\n')), {
    instanceOf: Refusal,
    message: 'closed early',
  });
  await t.throwsAsync(requestOverSocket(join(tmpdir(), `no-such-${process.pid}.sock`), 'x\n', options('\n')), {
    instanceOf: Refusal,
    message: 'socket ENOENT',
  });
  const silent = await server(t, () => []);
  await t.throwsAsync(requestOverSocket(silent, 'x\n', { ...options('\n'), timeoutMs: 100 }), {
    instanceOf: Refusal,
    message: 'timeout',
  });
});
