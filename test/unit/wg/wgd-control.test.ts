// zmesh wgd's control socket, registry and client over real UNIX sockets, without namespaces:
// devices here are the configuration half of a device (ConfigOnlyDevice, the project's own
// UAPI-complete device without a data plane) so no TUN or link is made; the real devices are
// proven in test/netns/wgd.test.ts. Each test has its own temp directory for the control and
// UAPI sockets, removed in teardown.
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { SetRequest } from '../../../src/wg/config.js';
import { UapiClient } from '../../../src/wg/uapi/client.js';
import { ConfigOnlyDevice } from '../../../src/wg/uapi/config-only-device.js';
import { UapiServer } from '../../../src/wg/uapi/server.js';
import { Wgd } from '../../../src/wg/wgd/daemon.js';
import { WgdClient } from '../../../src/wg/wgd/client.js';
import { WgdError } from '../../../src/wg/wgd/errors.js';
import type { DeviceSpec, HostedDevice, OpenDevice } from '../../../src/wg/wgd/registry.js';
import type { DeviceView } from '../../../src/wg/uapi/view.js';

/** ConfigOnlyDevice with what the registry needs beside UAPI: a port and close(). */
class ConfigHostedDevice implements HostedDevice {
  readonly listenPort: number;
  closed = false;
  readonly spec: DeviceSpec;
  readonly #config: ConfigOnlyDevice;
  constructor(spec: DeviceSpec, config: ConfigOnlyDevice, port: number) {
    this.spec = spec;
    this.#config = config;
    this.listenPort = port;
  }
  get(): DeviceView {
    return this.#config.get();
  }
  set(request: SetRequest): void {
    this.#config.set(request);
  }
  close(): void {
    this.closed = true;
  }
}

interface Fixture {
  dir: string;
  controlSocket: string;
  uapiDir: string;
  wgd: Wgd;
  client: WgdClient;
  opened: ConfigHostedDevice[];
  /** Makes the next open fail with this error. */
  failNextOpen: (error: Error) => void;
}

async function start(t: ExecutionContext, opts: { controlSocket?: string } = {}): Promise<Fixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zwgd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const controlSocket = opts.controlSocket ?? path.join(dir, 'ctl', 'wgd.sock');
  const uapiDir = path.join(dir, 'uapi');
  const opened: ConfigHostedDevice[] = [];
  let failure: Error | null = null;
  let port = 40000;
  const openDevice: OpenDevice = async (spec) => {
    if (failure) {
      const e = failure;
      failure = null;
      throw e;
    }
    const device = new ConfigHostedDevice(spec, await ConfigOnlyDevice.create(), port++);
    opened.push(device);
    return device;
  };
  const wgd = await Wgd.start({ controlSocket, uapiDir, openDevice });
  t.teardown(() => wgd.close());
  return {
    dir,
    controlSocket,
    uapiDir,
    wgd,
    client: new WgdClient(controlSocket, { timeoutMs: 3000 }),
    opened,
    failNextOpen: (e) => {
      failure = e;
    },
  };
}

/** A raw connection that collects answer lines. */
function connect(socketPath: string): {
  socket: net.Socket;
  lines: (n: number) => Promise<unknown[]>;
  ended: Promise<void>;
} {
  const socket = net.connect(socketPath);
  let buffered = '';
  const waiters: (() => void)[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (s: string) => {
    buffered += s;
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<void>((resolve) =>
    socket.on('close', () => {
      resolve();
      for (const w of waiters.splice(0)) w();
    }),
  );
  const lines = async (n: number): Promise<unknown[]> => {
    const deadline = Date.now() + 3000;
    for (;;) {
      const complete = buffered.split('\n').slice(0, -1);
      if (complete.length >= n) return complete.slice(0, n).map((l) => JSON.parse(l) as unknown);
      if (socket.destroyed || Date.now() > deadline)
        throw new Error(`only ${complete.length} of ${n} answers: ${buffered}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { socket, lines, ended };
}

async function oneAnswer(socketPath: string, line: string): Promise<Record<string, unknown>> {
  const c = connect(socketPath);
  c.socket.write(`${line}\n`);
  const [answer] = await c.lines(1);
  c.socket.destroy();
  return answer as Record<string, unknown>;
}

const NS_A = '/run/netns/zwgd-test-a';
const NS_B = '/run/netns/zwgd-test-b';

test('create returns the device with its UAPI socket and port; the socket speaks UAPI; list and ping report it', async (t) => {
  const f = await start(t);
  const { device, created } = await f.client.create({ name: 'wa0', netns: NS_A, mtu: 1380 });
  t.true(created);
  t.deepEqual(device, {
    name: 'wa0',
    netns: NS_A,
    mtu: 1380,
    uapiSocket: path.join(f.uapiDir, 'wa0.sock'),
    listenPort: 40000,
    peers: 0,
  });
  t.deepEqual(
    f.opened.map((d) => [d.spec.name, d.spec.netns, d.spec.mtu]),
    [['wa0', NS_A, 1380]],
  );
  const uapi = new UapiClient({ timeoutMs: 3000 });
  await uapi.set(
    device.uapiSocket,
    `public_key=${'11'.repeat(32)}\nallowed_ip=10.9.0.0/24\npublic_key=${'22'.repeat(32)}`,
  );
  const [listed] = await f.client.list();
  t.is(listed!.peers, 2);
  const ping = await f.client.ping();
  t.is(ping.pid, process.pid);
  t.is(ping.devices, 1);
  t.true(ping.uptimeMs >= 0);
  // Its memory as Node counts it (the wgd benchmark's breakdown reads it).
  t.true(ping.memory!.rss > ping.memory!.heapTotal);
  t.true(ping.memory!.heapTotal >= ping.memory!.heapUsed && ping.memory!.heapUsed > 0);
});

test('create is idempotent with the same netns and MTU (omitted MTU = 1420) and EEXIST names the field that differs', async (t) => {
  const f = await start(t);
  await f.client.create({ name: 'wa0', netns: NS_A });
  const again = await f.client.create({ name: 'wa0', netns: NS_A, mtu: 1420 });
  t.false(again.created);
  t.is(again.device.mtu, 1420);
  t.is(f.opened.length, 1, 'no second device was opened');
  const otherNs = await t.throwsAsync(f.client.create({ name: 'wa0', netns: NS_B }), { instanceOf: WgdError });
  t.is(otherNs!.code, 'EEXIST');
  t.regex(otherNs!.message, /^netns: device wa0 exists in namespace \/run\/netns\/zwgd-test-a/);
  const otherMtu = await t.throwsAsync(f.client.create({ name: 'wa0', netns: NS_A, mtu: 1280 }), {
    instanceOf: WgdError,
  });
  t.is(otherMtu!.code, 'EEXIST');
  t.regex(otherMtu!.message, /^mtu: device wa0 exists with MTU 1420/);
  t.deepEqual(
    (await f.client.list()).map((d) => [d.name, d.netns, d.mtu]),
    [['wa0', NS_A, 1420]],
  );
});

test('concurrent creates of one name open one device and all answer it', async (t) => {
  const f = await start(t);
  const results = await Promise.all(Array.from({ length: 5 }, () => f.client.create({ name: 'wa0', netns: NS_A })));
  t.is(f.opened.length, 1);
  t.is(results.filter((r) => r.created).length, 1);
  t.true(results.every((r) => r.device.listenPort === results[0]!.device.listenPort));
});

test('delete closes the device and removes its UAPI socket; deleting a missing device answers existed: false', async (t) => {
  const f = await start(t);
  const { device } = await f.client.create({ name: 'wa0', netns: NS_A });
  await f.client.create({ name: 'wb0', netns: NS_B });
  t.true(existsSync(device.uapiSocket));
  t.deepEqual(await f.client.delete('wa0'), { existed: true });
  t.false(existsSync(device.uapiSocket));
  t.true(f.opened[0]!.closed);
  t.false(f.opened[1]!.closed);
  t.deepEqual(await f.client.delete('wa0'), { existed: false });
  t.deepEqual(
    (await f.client.list()).map((d) => d.name),
    ['wb0'],
  );
});

test('every bad request is answered EINVAL naming the field, and the registry and UAPI directory are unchanged', async (t) => {
  const f = await start(t);
  await f.client.create({ name: 'wa0', netns: NS_A });
  await f.client.create({ name: 'wb0', netns: NS_B, mtu: 1300 });
  const before = { list: await f.client.list(), files: readdirSync(f.uapiDir).sort() };
  const bad: [string, string][] = [
    ['{"op":"delete","name":"wa0","force":true}', 'force'],
    ['{"op":"delete","name":"wa0/"}', 'name'],
    ['{"op":"create","name":"wa0","netns":"/run/netns/zwgd-test-b","mtu":"1420"}', 'mtu'],
    ['{"op":"create","name":"wc0","netns":"relative"}', 'netns'],
    ['{"op":"create","name":"wc0"}', 'netns'],
    ['{"op":"create","name":"wb0","netns":"/run/netns/zwgd-test-b","mtu":1300,"extra":1}', 'extra'],
    ['{"op":"remove","name":"wa0"}', 'op'],
    ['{"name":"wa0"}', 'op'],
    ['{"op":"list","id":[]}', 'id'],
    ['not json at all', 'request'],
    ['42', 'request'],
  ];
  const c = connect(f.controlSocket);
  c.socket.write(bad.map(([line]) => `${line}\n`).join(''));
  const answers = (await c.lines(bad.length)) as { ok: boolean; error: { code: string; message: string } }[];
  c.socket.destroy();
  answers.forEach((a, i) => {
    t.false(a.ok, bad[i]![0]);
    t.is(a.error.code, 'EINVAL', bad[i]![0]);
    t.true(a.error.message.startsWith(`${bad[i]![1]}: `), `${bad[i]![0]} → ${a.error.message}`);
  });
  t.deepEqual(await f.client.list(), before.list);
  t.deepEqual(readdirSync(f.uapiDir).sort(), before.files);
  t.is(f.opened.length, 2);
  t.false(f.opened.some((d) => d.closed));
});

test('several requests on one connection are answered in order, with their ids', async (t) => {
  const f = await start(t);
  const c = connect(f.controlSocket);
  c.socket.write(
    [
      '{"op":"create","name":"wa0","netns":"/run/netns/zwgd-test-a","id":1}',
      '{"op":"create","name":"wa0","netns":"/run/netns/zwgd-test-b","id":2}',
      '',
      '{"op":"list","id":"three"}',
      '{"op":"delete","name":"wa0","id":4}',
      '{"op":"ping","id":5}',
    ].join('\n') + '\n',
  );
  const answers = (await c.lines(5)) as Record<string, unknown>[];
  c.socket.destroy();
  t.deepEqual(
    answers.map((a) => [a.id, a.ok]),
    [
      [1, true],
      [2, false],
      ['three', true],
      [4, true],
      [5, true],
    ],
  );
  t.is((answers[0]!.device as { name: string }).name, 'wa0');
  t.is((answers[1]!.error as { code: string }).code, 'EEXIST');
  t.deepEqual(
    (answers[2]!.devices as { name: string }[]).map((d) => d.name),
    ['wa0'],
  );
  t.deepEqual(answers[3]!.existed, true);
  t.is(answers[4]!.devices, 0);
});

test('a request split across many writes is assembled; a line cut short by EOF is dropped', async (t) => {
  const f = await start(t);
  const c = connect(f.controlSocket);
  const line = '{"op":"create","name":"wa0","netns":"/run/netns/zwgd-test-a","id":"split"}\n';
  for (let i = 0; i < line.length; i += 7) {
    c.socket.write(line.slice(i, i + 7));
    // A round trip on another connection: the daemon has read the piece before the next arrives.
    await f.client.ping();
  }
  const [answer] = (await c.lines(1)) as Record<string, unknown>[];
  t.is(answer!.id, 'split');
  t.true(answer!.ok);
  // Half a delete, then EOF: nothing is deleted, the connection ends without an answer.
  c.socket.end('{"op":"delete","name":"wa0"');
  await c.ended;
  t.deepEqual(
    (await f.client.list()).map((d) => d.name),
    ['wa0'],
  );
});

test('an oversized line is answered EINVAL and its connection closed; the daemon keeps serving', async (t) => {
  const f = await start(t);
  const c = connect(f.controlSocket);
  c.socket.on('error', () => {}); // the daemon may close while we are still writing
  c.socket.write('{"op":"list"}\n');
  c.socket.write(`{"op":"create","name":"${'x'.repeat(70 * 1024)}`);
  const answers = (await c.lines(2)) as { ok: boolean; error?: { code: string; message: string } }[];
  t.true(answers[0]!.ok);
  t.false(answers[1]!.ok);
  t.is(answers[1]!.error!.code, 'EINVAL');
  t.regex(answers[1]!.error!.message, /^request: line longer than 65536 bytes/);
  await c.ended;
  t.is((await f.client.ping()).devices, 0);
});

test('the control socket is root-only in a new 0700 directory; a live one is refused, a stale one replaced', async (t) => {
  const f = await start(t);
  t.is(statSync(f.controlSocket).mode & 0o077, 0);
  t.is(statSync(path.dirname(f.controlSocket)).mode & 0o777, 0o700);
  const second = await t.throwsAsync(
    Wgd.start({
      controlSocket: f.controlSocket,
      uapiDir: f.uapiDir,
      openDevice: async () => {
        throw new Error('unused');
      },
    }),
    { instanceOf: WgdError },
  );
  t.is(second!.code, 'EADDRINUSE');
  t.regex(second!.message, /in use/);
  t.is((await f.client.ping()).pid, process.pid, 'the first daemon still answers');

  // A stale socket: left by a process that was SIGKILLed.
  const stale = path.join(f.dir, 'stale', 'wgd.sock');
  mkdirSync(path.dirname(stale));
  const ncat = spawn('/usr/bin/ncat', ['-lU', stale], { stdio: 'ignore' });
  const exited = new Promise((r) => ncat.once('exit', r));
  t.teardown(() => {
    if (ncat.exitCode === null && ncat.signalCode === null) ncat.kill('SIGKILL');
  });
  const deadline = Date.now() + 3000;
  while (!existsSync(stale) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ncat.kill('SIGKILL');
  await exited;
  t.true(statSync(stale).isSocket());
  const replacement = await Wgd.start({
    controlSocket: stale,
    uapiDir: f.uapiDir,
    openDevice: async () => {
      throw new Error('unused');
    },
  });
  t.teardown(() => replacement.close());
  t.is((await new WgdClient(stale).ping()).devices, 0);

  const notSocket = path.join(f.dir, 'file');
  writeFileSync(notSocket, 'x');
  const refused = await t.throwsAsync(
    Wgd.start({
      controlSocket: notSocket,
      uapiDir: f.uapiDir,
      openDevice: async () => {
        throw new Error('unused');
      },
    }),
    { instanceOf: WgdError },
  );
  t.is(refused!.code, 'EEXIST');
  t.true(statSync(notSocket).isFile());
});

test('a failed open leaves no entry and no socket; a UAPI socket served elsewhere is EADDRINUSE and the device is closed', async (t) => {
  const f = await start(t);
  f.failNextOpen(new WgdError('ENOENT', 'netns: /run/netns/zwgd-test-a does not exist', { field: 'netns' }));
  const missing = await t.throwsAsync(f.client.create({ name: 'wa0', netns: NS_A }), { instanceOf: WgdError });
  t.is(missing!.code, 'ENOENT');
  t.regex(missing!.message, /^netns: /);

  f.failNextOpen(new TypeError('secret detail that must not leak'));
  const internal = await t.throwsAsync(f.client.create({ name: 'wa0', netns: NS_A }), { instanceOf: WgdError });
  t.is(internal!.code, 'EIO');
  t.notRegex(internal!.message, /secret/);

  // Another process (here: a plain UAPI server) serves wb0's socket already.
  const other = await UapiServer.listen(path.join(f.uapiDir, 'wb0.sock'), await ConfigOnlyDevice.create());
  t.teardown(() => other.close());
  const busy = await t.throwsAsync(f.client.create({ name: 'wb0', netns: NS_B }), { instanceOf: WgdError });
  t.is(busy!.code, 'EADDRINUSE');
  t.regex(busy!.message, /^name: UAPI socket .*wb0\.sock is served by another process/);
  t.true(f.opened.at(-1)!.closed, 'the device opened for it was closed again');
  t.deepEqual(await f.client.list(), []);
  t.deepEqual(readdirSync(f.uapiDir), ['wb0.sock']);
});

test('a device leaves the registry when it reports itself gone or its UAPI socket is deleted', async (t) => {
  const f = await start(t);
  await f.client.create({ name: 'wa0', netns: NS_A });
  const { device: b } = await f.client.create({ name: 'wb0', netns: NS_B });
  f.opened[0]!.spec.onGone('interface wa0 was removed');
  unlinkSync(b.uapiSocket);
  const deadline = Date.now() + 5000;
  while ((await f.client.list()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(await f.client.list(), []);
  t.true(f.opened.every((d) => d.closed));
  t.deepEqual(readdirSync(f.uapiDir), []);
});

test('close stops every device, removes every socket, and later creates are refused', async (t) => {
  const f = await start(t);
  await f.client.create({ name: 'wa0', netns: NS_A });
  await f.client.create({ name: 'wb0', netns: NS_B });
  await f.wgd.close();
  t.true(f.opened.every((d) => d.closed));
  t.deepEqual(readdirSync(f.uapiDir), []);
  t.false(existsSync(f.controlSocket));
  const refused = await t.throwsAsync(f.client.ping(), { instanceOf: WgdError });
  t.is(refused!.code, 'ENOENT');
});

test('the client reports ECONNREFUSED for a dead socket, ETIMEDOUT for a silent one, EPROTO for garbage', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zwgd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const accepted = new Set<net.Socket>();
  const silent = net.createServer((s) => accepted.add(s)); // never answers
  const garbage = net.createServer((s) => accepted.add(s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  for (const [server, name] of [
    [silent, 'silent'],
    [garbage, 'garbage'],
  ] as const) {
    await new Promise<void>((resolve) => server.listen(path.join(dir, name), resolve));
    t.teardown(() => {
      for (const s of accepted) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
  }
  // A dead socket file: bound, then the server closed without unlinking.
  const dead = path.join(dir, 'dead');
  const ncat = spawn('/usr/bin/ncat', ['-lU', dead], { stdio: 'ignore' });
  const exited = new Promise((r) => ncat.once('exit', r));
  t.teardown(() => {
    if (ncat.exitCode === null && ncat.signalCode === null) ncat.kill('SIGKILL');
  });
  const deadline = Date.now() + 3000;
  while (!existsSync(dead) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ncat.kill('SIGKILL');
  await exited;

  t.is((await t.throwsAsync(new WgdClient(dead).ping(), { instanceOf: WgdError }))!.code, 'ECONNREFUSED');
  t.is((await t.throwsAsync(new WgdClient(path.join(dir, 'none')).ping(), { instanceOf: WgdError }))!.code, 'ENOENT');
  const slow = await t.throwsAsync(new WgdClient(path.join(dir, 'silent'), { timeoutMs: 200 }).ping(), {
    instanceOf: WgdError,
  });
  t.is(slow!.code, 'ETIMEDOUT');
  t.is(
    (await t.throwsAsync(new WgdClient(path.join(dir, 'garbage')).list(), { instanceOf: WgdError }))!.code,
    'EPROTO',
  );
});

test('a ping on a raw connection answers the daemon pid and echoes the request id', async (t) => {
  const f = await start(t);
  const answer = await oneAnswer(f.controlSocket, '{"op":"ping","id":9}');
  t.is(answer.id, 9);
  t.is(answer.ok, true);
  t.is(answer.pid, process.pid);
});

test('a UAPI directory too long for a 15-byte device name, or relative, is refused at start naming uapiDir; no socket is made', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zwgd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const controlSocket = path.join(dir, 'ctl', 'wgd.sock');
  const openDevice: OpenDevice = async () => {
    throw new Error('unused');
  };
  for (const uapiDir of [path.join(dir, 'u'.repeat(107 - 21 - dir.length)), 'relative/uapi']) {
    const error = await t.throwsAsync(Wgd.start({ controlSocket, uapiDir, openDevice }), { instanceOf: WgdError });
    t.is(error!.code, 'EINVAL');
    t.regex(error!.message, /^uapiDir: must be an absolute path of at most 86 bytes/);
  }
  t.false(existsSync(path.dirname(controlSocket)));
  const fits = await Wgd.start({
    controlSocket,
    uapiDir: path.join(dir, 'u'.repeat(106 - 21 - dir.length)),
    openDevice,
  });
  t.is(statSync(fits.controlSocket).mode & 0o077, 0);
  await fits.close();
});
