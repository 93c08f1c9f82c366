// The UAPI server on a real UNIX socket (in a private temp directory): framing, errnos,
// ordering, bounds, and the socket file's lifecycle.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sodium from 'libsodium-wrappers';
import { ConfigOnlyDevice } from '../../../src/wg/uapi/config-only-device.js';
import { UapiClient } from '../../../src/wg/uapi/client.js';
import { UapiError } from '../../../src/wg/uapi/errors.js';
import { UapiServer, type UapiDevice } from '../../../src/wg/uapi/server.js';
import { PublicKey } from '../../../src/netdef/index.js';
import { AllowedIp, EMPTY_DEVICE_CONFIG, UapiEndpoint, type PeerConfig } from '../../../src/wg/config.js';
import { viewFromConfig } from '../../../src/wg/uapi/view.js';

await sodium.ready;

const root = mkdtempSync(path.join(os.tmpdir(), 'zmesh-uapi-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
const freshPath = (): string => path.join(root, `d${counter++}`, 'wg0.sock');
const hex = (byte: number): string => Buffer.alloc(32, byte).toString('hex');
/** Polls a condition with a deadline (for events with no notification, e.g. another process's file). */
async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const client = new UapiClient({ timeoutMs: 5000 });

async function serve(
  device?: UapiDevice,
  options = {},
): Promise<{ server: UapiServer; device: UapiDevice; socketPath: string }> {
  const dev = device ?? (await ConfigOnlyDevice.create());
  const socketPath = freshPath();
  const server = await UapiServer.listen(socketPath, dev, options);
  return { server, device: dev, socketPath };
}

/** Opens a raw connection and collects everything the server sends until it closes or `until` matches. */
function rawSession(
  socketPath: string,
  send: string | Buffer[],
  opts: { halfClose?: boolean } = {},
): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, 3000);
    socket.on('connect', () => {
      for (const piece of typeof send === 'string' ? [Buffer.from(send)] : send) socket.write(piece);
      if (opts.halfClose) socket.end();
    });
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e),
    );
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
  });
}

/** Sends requests one after another on one connection, resolving each answer. */
class Conversation {
  readonly #socket: net.Socket;
  #buffer = '';
  #waiters: ((answer: string) => void)[] = [];
  closed = false;
  constructor(socketPath: string) {
    this.#socket = net.connect(socketPath);
    this.#socket.on('data', (d) => {
      this.#buffer += d.toString();
      let end;
      while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
        const answer = this.#buffer.slice(0, end + 2);
        this.#buffer = this.#buffer.slice(end + 2);
        this.#waiters.shift()?.(answer);
      }
    });
    this.#socket.on('close', () => (this.closed = true));
  }
  ask(text: string): Promise<string> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#socket.write(text);
    });
  }
  close(): void {
    this.#socket.destroy();
  }
}

test('several requests on one connection are answered in order, and a malformed one leaves the connection usable', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  const c = new Conversation(socketPath);
  t.teardown(() => c.close());
  t.is(await c.ask(`set=1\nlisten_port=51820\npublic_key=${hex(1)}\nallowed_ip=10.0.0.0/24\n\n`), 'errno=0\n\n');
  t.is(await c.ask('set=1\nlisten_port=99999\n\n'), 'errno=-22\n\n');
  t.is(await c.ask('set=1\nlisten_port\n\n'), 'errno=-71\n\n');
  t.is(await c.ask('frobnicate=1\nwhatever\n\n'), 'errno=-22\n\n');
  const got = await c.ask('get=1\n\n');
  t.true(got.startsWith('listen_port=51820\n'), got);
  t.true(got.endsWith('allowed_ip=10.0.0.0/24\nerrno=0\n\n'));
  t.false(c.closed);
});

test('pipelined requests sent in one write are all answered, in order', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  const requests =
    Array.from({ length: 30 }, (_, i) =>
      i % 3 === 2 ? 'set=1\nfwmark=x\n\n' : `set=1\nlisten_port=${1000 + i}\n\n`,
    ).join('') + 'get=1\n\n';
  const { text } = await rawSession(socketPath, requests, { halfClose: true });
  const answers = text.split('\n\n').slice(0, -1);
  t.is(answers.length, 31);
  answers.slice(0, 30).forEach((a, i) => t.is(a, i % 3 === 2 ? 'errno=-22' : 'errno=0'));
  t.is(answers[30], 'listen_port=1028\nerrno=0');
});

test('a request split across many small writes is reassembled', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  const text = `set=1\npublic_key=${hex(2)}\nendpoint=[2001:db8::1]:51820\n\nget=1\n\n`;
  const pieces = [...text].map((ch) => Buffer.from(ch));
  const { text: answer } = await rawSession(socketPath, pieces, { halfClose: true });
  t.regex(answer, /^errno=0\n\npublic_key=0202.*\nendpoint=\[2001:db8::1\]:51820\n/s);
});

test('a client that half-closes after its request still gets the answer; a request cut short by EOF is answered -EPROTO and not applied', async (t) => {
  const { server, socketPath, device } = await serve();
  t.teardown(() => server.close());
  const { text, closedByServer } = await rawSession(socketPath, 'set=1\nlisten_port=7\n\nset=1\nlisten_port=8\n', {
    halfClose: true,
  });
  t.is(text, 'errno=0\n\nerrno=-71\n\n');
  t.true(closedByServer);
  t.is((await device.get()).listenPort, 7);
});

test('never silence at EOF: a get without its blank line, or a last line without its newline, is answered -EPROTO', async (t) => {
  const { server, socketPath, device } = await serve();
  t.teardown(() => server.close());
  t.deepEqual(await rawSession(socketPath, 'get=1\n', { halfClose: true }), {
    text: 'errno=-71\n\n',
    closedByServer: true,
  });
  t.deepEqual(await rawSession(socketPath, 'set=1\nlisten_port=9', { halfClose: true }), {
    text: 'errno=-71\n\n',
    closedByServer: true,
  });
  t.deepEqual(
    await rawSession(socketPath, 'get=1\n\n\n', { halfClose: true }),
    { text: 'errno=0\n\n', closedByServer: true },
    'a stray blank line is no request',
  );
  t.is((await device.get()).listenPort, 0);
});

test('a CRLF-framed request is answered -EPROTO and the connection closed, never left unanswered; nothing is applied', async (t) => {
  const { server, socketPath, device } = await serve();
  t.teardown(() => server.close());
  t.deepEqual(await rawSession(socketPath, 'set=1\r\nlisten_port=5\r\n\r\n'), {
    text: 'errno=-71\n\n',
    closedByServer: true,
  });
  t.deepEqual(await rawSession(socketPath, 'get=1\r\n\r\n'), { text: 'errno=-71\n\n', closedByServer: true });
  t.is((await device.get()).listenPort, 0);
});

test('an oversized line is answered -EPROTO and the connection closed', async (t) => {
  const { server, socketPath, device } = await serve(undefined, { maxLineBytes: 256 });
  t.teardown(() => server.close());
  const { text, closedByServer } = await rawSession(
    socketPath,
    `set=1\nlisten_port=5\nallowed_ip=${'1'.repeat(300)}\n\n`,
  );
  t.is(text, 'errno=-71\n\n');
  t.true(closedByServer);
  t.is((await device.get()).listenPort, 0);
});

test('an endless line without a newline is cut off at the bound, not buffered', async (t) => {
  const { server, socketPath } = await serve(undefined, { maxLineBytes: 1024 });
  t.teardown(() => server.close());
  const chunks = Array.from({ length: 64 }, () => Buffer.alloc(16 * 1024, 0x61)); // 1 MiB, no newline
  const { text, closedByServer } = await rawSession(socketPath, [Buffer.from('set=1\n'), ...chunks]);
  t.is(text, 'errno=-71\n\n');
  t.true(closedByServer);
});

test('a request with more lines than the bound is answered -EPROTO and the connection closed', async (t) => {
  const { server, socketPath, device } = await serve(undefined, { maxRequestLines: 100 });
  t.teardown(() => server.close());
  const lines = Array.from({ length: 200 }, (_, i) => `listen_port=${i + 1}`).join('\n');
  const { text, closedByServer } = await rawSession(socketPath, `set=1\n${lines}\n`);
  t.is(text, 'errno=-71\n\n');
  t.true(closedByServer);
  t.is((await device.get()).listenPort, 0);
});

test('device errors become their errno; a foreign error becomes -EIO without its message', async (t) => {
  let fail: Error = new UapiError('EADDRINUSE', 'port 51820 is taken');
  const device: UapiDevice = {
    get: () => viewFromConfig(EMPTY_DEVICE_CONFIG),
    set: () => {
      throw fail;
    },
  };
  const seen: UapiError[] = [];
  const { server, socketPath } = await serve(device, { onRequestError: (e: UapiError) => seen.push(e) });
  t.teardown(() => server.close());
  const c = new Conversation(socketPath);
  t.teardown(() => c.close());
  t.is(await c.ask('set=1\nlisten_port=51820\n\n'), 'errno=-98\n\n');
  fail = new Error(`secret ${hex(9)}`);
  t.is(await c.ask('set=1\nlisten_port=51820\n\n'), 'errno=-5\n\n');
  t.is(seen.length, 2);
  t.false(seen[1]!.message.includes(hex(9)));
  t.is(await c.ask('get=1\n\n'), 'errno=0\n\n');
});

test('sets from many concurrent connections are serialised: none is lost', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => client.set(socketPath, `public_key=${hex(i + 1)}\nallowed_ip=10.${i}.0.0/16`)),
  );
  const view = await client.get(socketPath);
  t.is(view.peers.length, 20);
  t.deepEqual(new Set(view.peers.map((p) => p.allowedIps[0]!.text)).size, 20);
});

test('the client reports a refused set as a UapiError with the errno code', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  const err = await t.throwsAsync(client.set(socketPath, 'endpoint=192.0.2.1:1'), { instanceOf: UapiError });
  t.is(err!.code, 'EINVAL');
  t.is(err!.errno, -22);
});

test('the socket is root-only and its new directory is 0755', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  const st = statSync(socketPath);
  t.true(st.isSocket());
  t.is(st.mode & 0o077, 0, `mode ${(st.mode & 0o777).toString(8)}`);
  t.is(statSync(path.dirname(socketPath)).mode & 0o777, 0o755);
});

test('a stale socket file is replaced; a live socket is refused with EADDRINUSE; a non-socket is left alone', async (t) => {
  const socketPath = freshPath();
  // Stale: a socket file left behind by a process that was killed (ncat, SIGKILL: no cleanup).
  await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(socketPath), { recursive: true }));
  const ncat = spawn('ncat', ['-lU', socketPath], { stdio: 'ignore' });
  const exited = new Promise((r) => ncat.once('exit', r));
  t.teardown(() => {
    if (ncat.exitCode === null && ncat.signalCode === null) ncat.kill('SIGKILL');
  });
  await until(() => existsSync(socketPath), 'ncat to create its socket');
  ncat.kill('SIGKILL');
  await exited;
  t.true(statSync(socketPath).isSocket());
  await t.throwsAsync(new Promise((_, reject) => net.connect(socketPath).on('error', reject)), {
    code: 'ECONNREFUSED',
  });

  const second = await UapiServer.listen(socketPath, await ConfigOnlyDevice.create());
  t.teardown(() => second.close());
  t.is((await client.get(socketPath)).peers.length, 0);

  const refused = await t.throwsAsync(UapiServer.listen(socketPath, await ConfigOnlyDevice.create()), {
    instanceOf: UapiError,
  });
  t.is(refused!.code, 'EADDRINUSE');
  t.regex(refused!.message, /in use/);
  t.is((await client.get(socketPath)).peers.length, 0); // still served by the first one

  const filePath = freshPath();
  await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(filePath), { recursive: true }));
  writeFileSync(filePath, 'not a socket');
  const notSocket = await t.throwsAsync(UapiServer.listen(filePath, await ConfigOnlyDevice.create()), {
    instanceOf: UapiError,
  });
  t.is(notSocket!.code, 'EEXIST');
  t.true(statSync(filePath).isFile());
});

test('deleting the socket file calls onSocketRemoved; close removes only its own socket file', async (t) => {
  let removed!: () => void;
  const gone = new Promise<void>((r) => (removed = r));
  const { server, socketPath } = await serve(undefined, {
    onSocketRemoved: () => removed(),
    socketCheckIntervalMs: 200,
  });
  t.teardown(() => server.close());
  unlinkSync(socketPath);
  await Promise.race([
    gone,
    new Promise((_, reject) => setTimeout(() => reject(new Error('not noticed within 3 s')), 3000)),
  ]);
  t.pass();

  const other = await serve();
  await other.server.close();
  t.throws(() => statSync(other.socketPath), { code: 'ENOENT' });
});

test('10,000 peers set and read back over the socket arrive whole (a multi-megabyte answer across many chunks)', async (t) => {
  const { server, socketPath } = await serve();
  t.teardown(() => server.close());
  const lines: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    lines.push(
      `public_key=${i.toString(16).padStart(64, '0')}`,
      `endpoint=198.51.100.${i & 255}:${10_000 + i}`,
      `allowed_ip=10.${i >> 8}.${i & 255}.0/24`,
      `allowed_ip=fd00:${i.toString(16)}::/64`,
    );
  }
  let started = performance.now();
  await client.set(socketPath, lines.join('\n'));
  const setMs = performance.now() - started;
  started = performance.now();
  const view = await client.get(socketPath);
  const getMs = performance.now() - started;
  t.log(`set ${setMs.toFixed(0)} ms, get ${getMs.toFixed(0)} ms for 10,000 peers`);
  t.is(view.peers.length, 10_000);
  const last = view.peers[9_999]!;
  t.is(last.publicKey.hex, (9_999).toString(16).padStart(64, '0'));
  t.deepEqual(
    last.allowedIps.map((ip) => ip.text),
    ['10.39.15.0/24', 'fd00:270f::/64'],
  );
  t.is(last.endpoint!.text, '198.51.100.15:19999');
});

/** A device of `count` peers, built directly (a set of this size would take longer than what is measured). */
async function manyPeers(count: number): Promise<ConfigOnlyDevice> {
  const peers = new Map<string, PeerConfig>();
  for (let i = 0; i < count; i++) {
    const publicKey = PublicKey.fromHex(i.toString(16).padStart(64, '0'));
    peers.set(publicKey.hex, {
      publicKey,
      presharedKey: null,
      endpoint: UapiEndpoint.parse(`198.51.100.${i & 255}:${10_000 + (i % 50_000)}`),
      persistentKeepalive: 0,
      allowedIps: [AllowedIp.parse(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`)],
      protocolVersion: 1,
    });
  }
  return ConfigOnlyDevice.create({ ...EMPTY_DEVICE_CONFIG, peers });
}

// 40,000 peers make an 11 MB get answer: far more than a socket buffers, so an unread answer
// exerts backpressure; few enough that reading every answer back fits the test's time.
const PIPELINE_PEERS = 40_000;
const PIPELINED_GETS = 8;

test(`a client pipelining ${PIPELINED_GETS} gets of a ${PIPELINE_PEERS}-peer device without reading holds one at a time: another connection's set is answered well under a second, and every get arrives whole, in order`, async (t) => {
  t.timeout(60_000);
  const inner = await manyPeers(PIPELINE_PEERS);
  let gets = 0; // how many gets the device has been asked for: the work the server took on
  const get = () => {
    gets++;
    return inner.get();
  };
  const { server, socketPath } = await serve({ get, set: (request) => inner.set(request) });
  t.teardown(() => server.close());
  // The pipelining client: every request in one write, then nothing read for a while.
  const greedy = net.connect(socketPath);
  t.teardown(() => greedy.destroy());
  await new Promise<void>((resolve) => greedy.on('connect', resolve));
  greedy.pause();
  greedy.write('get=1\n\n'.repeat(PIPELINED_GETS));
  await new Promise((r) => setTimeout(r, 300)); // the server has read the requests and started the first

  const other = new Conversation(socketPath);
  t.teardown(() => other.close());
  const started = performance.now();
  t.is(await other.ask('set=1\nlisten_port=4242\n\n'), 'errno=0\n\n');
  const setMs = performance.now() - started;
  t.log(`the other connection's set took ${setMs.toFixed(0)} ms`);
  t.true(setMs < 1000, `${setMs.toFixed(0)} ms`);
  t.true(
    gets <= 2,
    `while the client does not read, the server holds at most the get it is sending (it was asked for ${gets})`,
  );

  // Now the pipelining client reads: every answer, whole and in order (the first predates the set).
  const answers: string[] = [];
  let pieces: string[] = []; // the answer so far, unjoined (joining per chunk would copy megabytes each time)
  await new Promise<void>((resolve, reject) => {
    greedy.on('data', (chunk: Buffer) => {
      // An answer ends at its blank line (its only "\n\n"), which may straddle two chunks.
      let text = chunk.toString('latin1');
      for (;;) {
        const straddles = pieces.length > 0 && pieces.at(-1)!.endsWith('\n') && text.startsWith('\n');
        const end = straddles ? -1 : text.indexOf('\n\n');
        if (!straddles && end < 0) break;
        answers.push(straddles ? pieces.join('').slice(0, -1) : pieces.join('') + text.slice(0, end));
        text = text.slice(straddles ? 1 : end + 2);
        pieces = [];
        if (answers.length === PIPELINED_GETS) resolve();
      }
      if (text.length > 0) pieces.push(text);
    });
    greedy.on('close', () => reject(new Error(`closed after ${answers.length} answers`)));
    greedy.resume();
  });
  t.is(answers.length, PIPELINED_GETS);
  for (const [i, answer] of answers.entries()) {
    t.true(answer.endsWith('errno=0'), `answer ${i} ends in errno=0`);
    t.is(
      answer.split('\npublic_key=').length - 1 + (answer.startsWith('public_key=') ? 1 : 0),
      PIPELINE_PEERS,
      `answer ${i} lists every peer`,
    );
  }
  t.true(answers.at(-1)!.startsWith('listen_port=4242\n'), 'the last get follows the set');
});
