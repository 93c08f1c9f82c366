// Tests of the netns harness itself (test/harness): naming, links, routing,
// NAT, and above all that everything it creates is removed — after a passing
// test, a failing test, a crashing process and a killed process.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { worldFor } from '../harness/ava.js';
import {
  BackgroundProcess,
  isProcessAlive,
  namespacesWithPrefix,
  ping,
  processStartTime,
  randomRunPrefix,
  runCommand,
  sweepStaleRuns,
  tcpTransfer,
  waitFor,
  World,
  type Namespace,
} from '../harness/index.js';

const FIXTURE = new URL('../harness/fixtures/world-then-die.ts', import.meta.url).pathname;
const CLEANUP = new URL('../../scripts/test-cleanup', import.meta.url).pathname;

function tempRunDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'zmesh-runs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function listening(ns: Namespace, proto: 'tcp' | 'udp', port: number): Promise<boolean> {
  const r = await ns.exec('ss', [proto === 'tcp' ? '-tlnH' : '-ulnH', `sport = :${port}`]);
  return r.stdout.trim().length > 0;
}

// Runs first (serial): its world must be gone before the next test looks.
let failedWorldPrefix = '';
let failedWorldPid = 0;
let failedWorldStart: string | null = null;
test.serial.failing('a test that fails still gets its world torn down (this test is expected to fail)', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('a');
  const p = a.spawn('sleep', ['300']);
  failedWorldPrefix = w.prefix;
  failedWorldPid = p.pid;
  failedWorldStart = processStartTime(p.pid);
  t.is(1 + 1, 3, 'deliberate failure');
});

test.serial('after a failed test, no namespace with its prefix remains and its process is gone', (t) => {
  t.regex(failedWorldPrefix, /^zt[a-z2-7]{4}$/);
  t.deepEqual(namespacesWithPrefix(failedWorldPrefix), []);
  t.truthy(failedWorldStart);
  t.false(isProcessAlive(failedWorldPid, failedWorldStart));
  t.false(existsSync(`/run/zmesh-test/${failedWorldPrefix}.pid`));
});

test('namespaces carry the run prefix, have lo up, and are all gone after teardown', async (t) => {
  const w = await World.create();
  t.teardown(() => w.teardown());
  t.regex(w.prefix, /^zt[a-z2-7]{4}$/);
  const a = await w.namespace('a');
  const b = await w.namespace('bee');
  t.is(a.name, `${w.prefix}a`);
  t.is(a.path, `/run/netns/${w.prefix}a`);
  t.true(existsSync(b.path));
  t.deepEqual(namespacesWithPrefix(w.prefix).sort(), [a.name, b.name].sort());
  const lo = (await a.links()).find((l) => l.ifname === 'lo');
  t.true(lo?.flags.includes('UP'));
  t.true(existsSync(`/run/zmesh-test/${w.prefix}.pid`));
  await w.teardown();
  t.deepEqual(namespacesWithPrefix(w.prefix), []);
  t.false(existsSync(`/run/zmesh-test/${w.prefix}.pid`));
  await w.teardown(); // idempotent
  await t.throwsAsync(() => w.namespace('c'), { message: /torn down/ });
});

test('bad names are refused with the field and the reason, and nothing is created', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('a');
  const before = namespacesWithPrefix(w.prefix).length;
  await t.throwsAsync(() => w.namespace('Bad/Name'), {
    code: 'INVALID_ARGUMENT',
    message: /name 'Bad\/Name'.*lowercase/,
  } as never);
  await t.throwsAsync(() => w.link(a, 'x'.repeat(16), a, 'y', {}), { message: /ifA 'x{16}' is 16 bytes/ });
  await t.throwsAsync(() => w.link(a, 'v0', a, 'v1', { addressA: '10.0.0.300/24' }), {
    message: /addressA '10.0.0.300\/24'/,
  });
  await t.throwsAsync(() => a.sysctl('kernel.pid_max', 1000), { message: /only per-namespace net\.\* keys/ });
  t.is(namespacesWithPrefix(w.prefix).length, before);
  t.false(
    (await a.links()).some((l) => l.ifname === 'v0'),
    'the link was not created after a bad address',
  );
});

test('a veth between two namespaces carries ping, and neither end exists in the root namespace', async (t) => {
  const w = await worldFor(t);
  const a = await w.namespace('a');
  const b = await w.namespace('b');
  const ifA = w.ifname('va');
  const ifB = w.ifname('vb');
  await w.link(a, ifA, b, ifB, { addressA: '10.10.0.1/24', addressB: '10.10.0.2/24', mtu: 1400 });
  const result = await ping(a, '10.10.0.2', { count: 3, intervalMs: 50 });
  t.is(result.received, 3);
  t.is(result.loss, 0);
  t.is(result.rttsMs.length, 3);
  t.true(result.rttsMs.every((ms) => ms > 0 && ms < 1000));
  t.is((await b.links()).find((l) => l.ifname === ifB)?.mtu, 1400);
  // Only these two (prefixed, unique) names are looked up in the root namespace.
  for (const name of [ifA, ifB]) {
    const r = await runCommand('ip', ['link', 'show', 'dev', name], { check: false });
    t.not(r.exitCode, 0, `${name} must not exist in the root namespace`);
  }
});

test('a router namespace forwards between two subnets, and stops when forwarding is off', async (t) => {
  const w = await worldFor(t);
  const left = await w.namespace('left');
  const router = await w.router('r');
  const right = await w.namespace('right');
  await w.link(left, 'eth0', router, 'l0', { addressA: '10.1.0.2/24', addressB: '10.1.0.1/24' });
  await w.link(router, 'r0', right, 'eth0', { addressA: '10.2.0.1/24', addressB: '10.2.0.2/24' });
  await left.addRoute('default', { via: '10.1.0.1' });
  await right.addRoute('10.1.0.0/24', { via: '10.2.0.1' });
  t.is((await ping(left, '10.2.0.2', { count: 2, intervalMs: 50 })).loss, 0);
  await router.sysctl('net.ipv4.ip_forward', 0);
  const blocked = await ping(left, '10.2.0.2', { count: 1, timeoutMs: 1000 });
  t.is(blocked.loss, 1, 'without forwarding the router must not pass traffic');
});

test('behind the NAT router a host reaches the server, which sees the NAT address and cannot connect back', async (t) => {
  const w = await worldFor(t);
  const host = await w.namespace('host');
  const nat = await w.natRouter('nat', { outside: 'wan', udpTimeoutSec: 7, udpStreamTimeoutSec: 11 });
  const server = await w.namespace('srv');
  await w.link(host, 'eth0', nat, 'lan', { addressA: '10.0.0.2/24', addressB: '10.0.0.1/24' });
  await w.link(nat, 'wan', server, 'eth0', { addressA: '198.51.100.1/24', addressB: '198.51.100.10/24' });
  await host.addRoute('default', { via: '10.0.0.1' });
  // The server can even route to the private subnet: only the NAT's filter keeps it out.
  await server.addRoute('10.0.0.0/24', { via: '198.51.100.1' });

  // A real, independent server (ncat) logs the peer address of each connection.
  const ncatServer = server.spawn('ncat', ['-v', '-l', '-k', '198.51.100.10', '8000']);
  await waitFor(() => listening(server, 'tcp', 8000), { what: 'ncat on 198.51.100.10:8000' });
  await host.exec('ncat', ['--send-only', '-w', '2', '198.51.100.10', '8000'], { input: 'hello\n' });
  const seen = await ncatServer.waitForOutput(/Connection from (\d+\.\d+\.\d+\.\d+)/, { stream: 'stderr' });
  t.is(seen[1], '198.51.100.1', 'the server sees the NAT router, not 10.0.0.2');

  const transfer = await tcpTransfer({ server, client: host, connectTo: '198.51.100.10', bytes: 2 << 20 });
  t.true(transfer.intact);
  t.is(transfer.receivedBytes, 2 << 20);
  t.is(transfer.peerAddress, '198.51.100.1');

  // The host listens; its own side of the NAT can connect, the outside cannot.
  host.spawn('ncat', ['-l', '-k', '10.0.0.2', '9000']);
  await waitFor(() => listening(host, 'tcp', 9000), { what: 'ncat on 10.0.0.2:9000' });
  const inside = await nat.exec('ncat', ['-z', '-w', '2', '10.0.0.2', '9000'], { check: false });
  t.is(inside.exitCode, 0, 'the listener is reachable from the inside');
  const outside = await server.exec('ncat', ['-z', '-w', '1', '10.0.0.2', '9000'], { check: false });
  t.not(outside.exitCode, 0, 'a connection started outside the NAT must not get in');

  // Conntrack UDP timeouts are set in the NAT's namespace only.
  t.is(await nat.readSysctl('net.netfilter.nf_conntrack_udp_timeout'), '7');
  t.is(await nat.readSysctl('net.netfilter.nf_conntrack_udp_timeout_stream'), '11');
  t.not(await host.readSysctl('net.netfilter.nf_conntrack_udp_timeout'), '7');
});

test('spawned background processes are stopped at teardown, including ones that ignore SIGTERM and their children', async (t) => {
  const w = await World.create({ graceMs: 300 });
  t.teardown(() => w.teardown());
  const a = await w.namespace('a');
  const polite = a.spawn('sleep', ['300']);
  const stubborn = a.spawn('sh', ['-c', 'trap "" TERM; sleep 300 & echo $!; wait']);
  const child = Number((await stubborn.waitForOutput(/^(\d+)$/m))[1]);
  t.true(
    [polite.pid, stubborn.pid, child].every((pid) => isProcessAlive(pid)),
    'all three run before teardown',
  );
  const startTimes = [polite.pid, stubborn.pid, child].map((pid) => processStartTime(pid));
  await w.teardown();
  t.is(polite.exitStatus?.signal, 'SIGTERM');
  t.is(stubborn.exitStatus?.signal, 'SIGKILL');
  await waitFor(() => !isProcessAlive(child, startTimes[2]), { what: `grandchild ${child} to end`, timeoutMs: 2000 });
  t.false(isProcessAlive(polite.pid, startTimes[0]));
  t.false(isProcessAlive(stubborn.pid, startTimes[1]));
});

test('a process that throws after building a world leaves nothing behind (exit hook)', async (t) => {
  const runDir = tempRunDir(t);
  const r = await runCommand(process.execPath, ['--import', 'tsx', FIXTURE, 'throw', runDir], {
    check: false,
    timeoutMs: 20_000,
  });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /deliberate failure/);
  const info = JSON.parse(r.stdout.trim()) as { prefix: string; namespaces: string[]; pid: number; startTime: string };
  t.is(info.namespaces.length, 2);
  t.deepEqual(namespacesWithPrefix(info.prefix), []);
  t.false(isProcessAlive(info.pid, info.startTime));
  t.deepEqual(readdirSync(runDir), [], 'the run record is gone');
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a process ended by ${signal} cleans up its world and still dies of ${signal} (signal hook)`, async (t) => {
    const runDir = tempRunDir(t);
    const child = new BackgroundProcess(process.execPath, ['--import', 'tsx', FIXTURE, 'linger', runDir]);
    t.teardown(() => child.stop({ graceMs: 500 }).then(() => undefined));
    const line = await child.waitForOutput(/^\{.*\}$/m, { timeoutMs: 15_000 });
    const info = JSON.parse(line[0]) as { prefix: string; namespaces: string[]; pid: number; startTime: string };
    t.is(namespacesWithPrefix(info.prefix).length, 2);
    process.kill(child.pid, signal);
    const status = await child.exited;
    t.is(status.signal, signal, 'the signal is re-raised after cleanup');
    t.deepEqual(namespacesWithPrefix(info.prefix), []);
    t.false(isProcessAlive(info.pid, info.startTime));
    t.deepEqual(readdirSync(runDir), []);
  });
}

test('the sweeper removes a killed run’s namespaces and processes, but not a live run’s nor unrecorded ones', async (t) => {
  const runDir = tempRunDir(t);
  // A run killed with SIGKILL: no teardown, no exit hook.
  const r = await runCommand(process.execPath, ['--import', 'tsx', FIXTURE, 'sigkill', runDir], {
    check: false,
    timeoutMs: 20_000,
  });
  t.is(r.signal, 'SIGKILL');
  const dead = JSON.parse(r.stdout.trim()) as { prefix: string; namespaces: string[]; pid: number; startTime: string };
  t.teardown(() => {
    for (const n of namespacesWithPrefix(dead.prefix)) void runCommand('ip', ['netns', 'del', n], { check: false });
  });
  t.deepEqual(
    namespacesWithPrefix(dead.prefix).sort(),
    [...dead.namespaces].sort(),
    'the killed run left its namespaces',
  );
  t.true(isProcessAlive(dead.pid, dead.startTime), 'and its process');

  // A live run in the same run directory, and a namespace that no run recorded.
  const live = await World.create({ runDir, sweepStale: false });
  t.teardown(() => live.teardown());
  const liveNs = await live.namespace('a');
  const orphan = `${randomRunPrefix('zu')}orphan`;
  await runCommand('ip', ['netns', 'add', orphan]);
  t.teardown(() => runCommand('ip', ['netns', 'del', orphan], { check: false }).then(() => undefined));

  const dry = sweepStaleRuns({ runDir, dryRun: true });
  t.deepEqual(
    dry.swept.map((s) => s.prefix),
    [dead.prefix],
  );
  t.deepEqual(namespacesWithPrefix(dead.prefix).length, 2, 'a dry run changes nothing');

  const cli = await runCommand(CLEANUP, ['--run-dir', runDir], { timeoutMs: 20_000 });
  t.regex(cli.stdout, new RegExp(`${dead.prefix} \\(pid \\d+ dead\\): removed 2 namespace`));
  t.regex(cli.stdout, new RegExp(`${live.prefix}: owner alive, left alone`));
  t.deepEqual(namespacesWithPrefix(dead.prefix), []);
  await waitFor(() => !isProcessAlive(dead.pid, dead.startTime), {
    what: 'the dead run’s sleep to end',
    timeoutMs: 2000,
  });
  t.false(existsSync(join(runDir, `${dead.prefix}.pid`)));
  t.true(existsSync(liveNs.path), 'the live run keeps its namespace');
  t.true(existsSync(join(runDir, `${live.prefix}.pid`)), 'and its record');
  t.true(existsSync(`/run/netns/${orphan}`), 'an unrecorded namespace is not touched');
});
