// The socket file's publication: the path appears only once the socket listens. wg(8) unlinks a
// socket that refuses its connection as stale, so a path visible between bind() and listen()
// would let a wg(8) run at that instant remove a starting daemon's socket (the zmesh-wg-lifecycle
// race: `wg set` answered "Protocol not supported" and the daemon was gone).
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { bindSocketFile, SocketFileError } from '../../../src/socket/socket-file.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'zmesh-socket-file-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function connects(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

test('the socket path does not exist while the server starts listening, and answers from its first instant', async (t) => {
  const socketPath = path.join(root, 'a', 'wg0.sock');
  const server = net.createServer((c) => c.end());
  let pathAtListening: boolean | null = null;
  server.on('listening', () => {
    pathAtListening = existsSync(socketPath);
  });
  const bound = await bindSocketFile(server, socketPath, { directoryMode: 0o755 });
  t.false(pathAtListening, 'not published when listen() completed: published after it');
  t.true(statSync(socketPath).isSocket());
  t.is(statSync(socketPath).mode & 0o077, 0, 'root-only: bound under umask 077');
  t.true(await connects(socketPath), 'it accepts');
  t.deepEqual(readdirSync(path.dirname(socketPath)), ['wg0.sock'], 'no hidden binding name is left behind');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  bound.removeIfOurs();
  t.false(existsSync(socketPath));
});

test('a socket published by someone else between the liveness check and publication is not replaced', async (t) => {
  const socketPath = path.join(root, 'b', 'wg0.sock');
  const other = net.createServer((c) => c.end());
  const mine = net.createServer((c) => c.end());
  // The other server takes the path while ours is between its check and its link.
  mine.on('listening', () => {
    other.listen(socketPath);
  });
  const error = await t.throwsAsync(bindSocketFile(mine, socketPath, { directoryMode: 0o755 }));
  t.true(error instanceof SocketFileError && error.code === 'EADDRINUSE', String(error));
  t.true(await connects(socketPath), "the other's socket still answers");
  t.deepEqual(readdirSync(path.dirname(socketPath)), ['wg0.sock'], 'our hidden binding name is removed');
  await new Promise<void>((resolve) => other.close(() => resolve()));
});
