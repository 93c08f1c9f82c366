// Tests of the native addon's namespace-scoped creation (native/netns.c,
// native/tun.c): objects appear in the namespace asked for and not in the
// root namespace, the calling thread always returns to its own namespace, and
// bad arguments are refused clearly. Root-namespace checks look up only the
// exact prefixed name or port the test created.
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { native, type NativeError } from '../../src/native/binding.js';
import { worldFor } from '../harness/ava.js';
import { runCommand, systemTool, waitFor, type Namespace } from '../harness/index.js';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

function threadNetnsInode(): number {
  return statSync('/proc/thread-self/ns/net').ino;
}

/** The open flags of one of our fds, from /proc/self/fdinfo (octal). */
function fdFlags(fd: number): number {
  const m = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s+([0-7]+)/m);
  return m ? parseInt(m[1] as string, 8) : -1;
}

/** `ss -uln` lines for one port, inside a namespace or (ns null) in the root namespace. */
async function udpListeners(ns: Namespace | null, port: number): Promise<string[]> {
  const args = ['-ulnH', `sport = :${port}`];
  const r = ns ? await ns.exec('ss', args) : await runCommand(systemTool('ss'), args);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

function closeAll(t: { teardown(fn: () => void): void }, fds: number[]): void {
  t.teardown(() => {
    for (const fd of fds) {
      try {
        native().closeFd(fd);
      } catch {
        // already closed by the test
      }
    }
  });
}

test('a TUN opened by name inside a namespace exists there, not in the root namespace, and goes when closed', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('tun');
  const name = w.ifname('tun0');
  const fds: number[] = [];
  closeAll(t, fds);
  const tun = native().openTun(ns.path, name, 0);
  fds.push(tun.fd);
  t.is(tun.name, name);
  t.true(tun.fd >= 0);
  t.true(
    (await ns.links()).some((l) => l.ifname === name),
    'the TUN is in the namespace',
  );
  const root = await runCommand(systemTool('ip'), ['link', 'show', 'dev', name], { check: false });
  t.not(root.exitCode, 0, 'the TUN is not in the root namespace');
  t.is(fdFlags(tun.fd) & (O_NONBLOCK | O_CLOEXEC), O_NONBLOCK | O_CLOEXEC);
  native().closeFd(tun.fd);
  await waitFor(async () => !(await ns.links()).some((l) => l.ifname === name), {
    what: `${name} to vanish after close`,
  });
  t.pass();
});

test('a TUN with IFF_VNET_HDR and IFF_MULTI_QUEUE opens, with two queues on one device', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('mq');
  const name = w.ifname('mq0');
  const { TUN_VNET_HDR, TUN_MULTI_QUEUE } = native().constants;
  const fds: number[] = [];
  closeAll(t, fds);
  const q1 = native().openTun(ns.path, name, TUN_VNET_HDR | TUN_MULTI_QUEUE);
  fds.push(q1.fd);
  const q2 = native().openTun(ns.path, name, TUN_VNET_HDR | TUN_MULTI_QUEUE);
  fds.push(q2.fd);
  t.not(q1.fd, q2.fd);
  const details = (await ns.ip(['-d', 'link', 'show', 'dev', name])).stdout;
  t.regex(details, /vnet_hdr on/);
  t.regex(details, /multi_queue/);
  t.regex(details, /numqueues 2/);
});

test('a UDP socket made inside a namespace is bound there, not in the root namespace, and receives there', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('udp');
  const fds: number[] = [];
  closeAll(t, fds);
  const s = native().udpSocketInNetns(ns.path, 4, '0.0.0.0', 0);
  fds.push(s.fd);
  t.true(s.port > 0 && s.port < 65536, 'port 0 means any; the bound port is returned');
  const inside = await udpListeners(ns, s.port);
  t.is(inside.length, 1);
  t.regex(inside[0] as string, new RegExp(`0\\.0\\.0\\.0:${s.port}\\b`));
  t.deepEqual(await udpListeners(null, s.port), [], 'nothing bound on that port in the root namespace');
  t.is(fdFlags(s.fd) & (O_NONBLOCK | O_CLOEXEC), O_NONBLOCK | O_CLOEXEC);

  // A datagram sent inside the namespace queues on our socket (Recv-Q > 0).
  await ns.exec('ncat', ['-u', '--send-only', '127.0.0.1', String(s.port)], { input: 'ping\n' });
  await waitFor(async () => /^\S+\s+[1-9]\d*\s/.test((await udpListeners(ns, s.port))[0] ?? ''), {
    what: 'the datagram to be queued on the socket',
  });
  t.pass();
});

test('a v6 UDP socket is V6ONLY (a v4 socket shares its port) and binding a taken port fails with EADDRINUSE', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('udp6');
  const fds: number[] = [];
  closeAll(t, fds);
  const v6 = native().udpSocketInNetns(ns.path, 6, '::', 0);
  fds.push(v6.fd);
  const v4 = native().udpSocketInNetns(ns.path, 4, '0.0.0.0', v6.port);
  fds.push(v4.fd);
  t.is(v4.port, v6.port);
  const lines = await udpListeners(ns, v6.port);
  t.is(lines.length, 2);
  t.true(lines.some((l) => l.includes(`[::]:${v6.port}`)));
  const err = t.throws(() => native().udpSocketInNetns(ns.path, 4, '0.0.0.0', v6.port)) as NativeError;
  t.is(err.code, 'EADDRINUSE');
  t.regex(err.message, new RegExp(`0\\.0\\.0\\.0:${v6.port} in network namespace '${ns.path}'`));
  // A specific address that exists only in this namespace binds (the socket really is inside).
  await ns.addAddress('lo', '10.77.0.1/32');
  const bound = native().udpSocketInNetns(ns.path, 4, '10.77.0.1', 0);
  fds.push(bound.fd);
  t.true(bound.port > 0);
});

test('after a failing call the calling thread is back in its original namespace', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('back');
  const fds: number[] = [];
  closeAll(t, fds);
  const before = threadNetnsInode();
  const missing = `/run/netns/${w.prefix}missing`;
  const n = native();
  const failures: Array<[string, () => unknown, string]> = [
    ['udpSocketInNetns', () => n.udpSocketInNetns(missing, 4, '0.0.0.0', 0), 'ENOENT'],
    ['openTun', () => n.openTun(missing, w.ifname('t'), 0), 'ENOENT'],
    ['socketInNetns', () => n.socketInNetns(missing, n.constants.AF_INET, n.constants.SOCK_DGRAM, 0), 'ENOENT'],
    ['not a namespace', () => n.socketInNetns('/dev/null', n.constants.AF_INET, n.constants.SOCK_DGRAM, 0), 'EINVAL'],
  ];
  for (const [label, call, code] of failures) {
    const err = t.throws(call, undefined, label) as NativeError;
    t.is(err.code, code, label);
    t.is(threadNetnsInode(), before, `${label}: thread back in its namespace`);
  }
  t.regex((t.throws(failures[0]![1]) as Error).message, new RegExp(missing));

  // A failure after entering a real namespace (the port is taken there) also returns.
  const first = n.udpSocketInNetns(ns.path, 4, '127.0.0.1', 0);
  fds.push(first.fd);
  t.is(threadNetnsInode(), before, 'back after a successful call');
  const taken = t.throws(() => n.udpSocketInNetns(ns.path, 4, '127.0.0.1', first.port)) as NativeError;
  t.is(taken.code, 'EADDRINUSE');
  t.is(threadNetnsInode(), before, 'back after a failure inside the namespace');
  t.not(statSync(ns.path).ino, before, 'the namespace used really is another one');
});

test('a TUN name of 16 or more bytes is refused with a clear error and nothing is created', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('long');
  const long = w.ifname('x').padEnd(16, 'x');
  t.is(Buffer.byteLength(long), 16);
  const err = t.throws(() => native().openTun(ns.path, long, 0)) as NativeError;
  t.is(err.code, 'EINVAL');
  t.regex(err.message, new RegExp(`TUN name '${long}' is 16 bytes; Linux interface names are at most 15 bytes`));
  t.false(
    (await ns.links()).some((l) => l.ifname.startsWith(w.prefix)),
    'no (truncated) device was created',
  );
  const bad = t.throws(() => native().openTun(ns.path, 'a/b', 0)) as NativeError;
  t.regex(bad.message, /not a valid interface name/);
  // 15 bytes is the limit, and works.
  const max = long.slice(0, 15);
  const ok = native().openTun(ns.path, max, 0);
  t.teardown(() => native().closeFd(ok.fd));
  t.is(ok.name, max);
});

test('bad udpSocketInNetns arguments are refused, naming the argument', (t) => {
  const n = native();
  const cases: Array<[() => unknown, RegExp]> = [
    [() => n.udpSocketInNetns(null, 5 as 4, '0.0.0.0', 0), /family must be 4 or 6, got 5/],
    [() => n.udpSocketInNetns(null, 4, '::', 0), /address '::' is not a numeric IPv4 address/],
    [() => n.udpSocketInNetns(null, 6, '10.0.0.1', 0), /address '10.0.0.1' is not a numeric IPv6 address/],
    [() => n.udpSocketInNetns(null, 4, 'localhost', 0), /address 'localhost'/],
    [() => n.udpSocketInNetns(null, 4, '0.0.0.0', 65536), /port must be an integer 0..65535, got 65536/],
    [() => n.udpSocketInNetns(null, 4, '0.0.0.0', 1.5), /port must be an integer/],
  ];
  for (const [call, message] of cases) {
    const err = t.throws(call, { message }) as NativeError;
    t.is(err.code, 'EINVAL');
  }
});
