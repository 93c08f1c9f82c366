// zmesh-wg's process lifecycle, as the cross-platform userspace spec and wg-quick expect it: the
// launcher (no -f) returns only once the TUN and the UAPI socket exist; the daemon exits when its
// TUN is deleted, when its socket file is deleted, and on SIGTERM/SIGINT (removing its socket); a
// second instance on the same name refuses to start and leaves the first alone; and wg-quick,
// pointed at it with WG_QUICK_USERSPACE_IMPLEMENTATION, brings an interface up and down inside a
// namespace without touching the root namespace.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive, ping, runCommand, systemTool, waitFor, type Namespace } from '../harness/index.js';
import { pidsInNamespace } from '../harness/runs.js';
import { endpointText, generateKeys, isSocket, socketPathOf, startWg, wgWorld, ZMESH_WG_BIN } from './wg-pair.js';

/** Launches zmesh-wg in daemon mode (no -f) and returns the daemon's PID, the one process in `ns`. */
async function launchDaemon(ns: Namespace, ifname: string): Promise<number> {
  await ns.exec(ZMESH_WG_BIN, [ifname], { env: { LOG_LEVEL: 'error' }, timeoutMs: 20_000 });
  const pids = pidsInNamespace(ns.name);
  if (pids.length !== 1)
    throw new Error(`expected the daemon alone in ${ns.name}, found PIDs ${pids.join(', ') || 'none'}`);
  return pids[0]!;
}

async function hasLink(ns: Namespace, ifname: string): Promise<boolean> {
  return (await ns.links()).some((l) => l.ifname === ifname);
}

test('without -f the launcher returns only after the TUN and the UAPI socket exist, and the daemon keeps serving', async (t) => {
  const w = await wgWorld(t);
  const ns = await w.namespace('a');
  const ifname = w.ifname('wa');
  const pid = await launchDaemon(ns, ifname);
  // Checked right after the launcher returned, with no waiting: both must already be there.
  t.true(await hasLink(ns, ifname), 'the TUN exists when the launcher returns');
  t.true(isSocket(socketPathOf(ifname)), 'the UAPI socket exists when the launcher returns');
  t.true(isProcessAlive(pid), 'the daemon runs on after the launcher exited');
  const show = await ns.exec('wg', ['show', ifname, 'listen-port']);
  t.regex(show.stdout, /^\d+\n$/, 'wg(8) talks to it');
});

test('deleting the TUN (ip link del) makes the daemon exit and remove its socket', async (t) => {
  const w = await wgWorld(t);
  const ns = await w.namespace('a');
  const ifname = w.ifname('wa');
  const pid = await launchDaemon(ns, ifname);
  await ns.ip(['link', 'del', ifname]);
  await waitFor(() => !isProcessAlive(pid), { what: 'the daemon to exit', timeoutMs: 5_000 });
  await waitFor(() => !isSocket(socketPathOf(ifname)), { what: 'the socket to be removed', timeoutMs: 2_000 });
  t.pass();
});

test('deleting the UAPI socket file makes the daemon exit and its TUN disappear', async (t) => {
  const w = await wgWorld(t);
  const ns = await w.namespace('a');
  const ifname = w.ifname('wa');
  const pid = await launchDaemon(ns, ifname);
  rmSync(socketPathOf(ifname));
  await waitFor(() => !isProcessAlive(pid), { what: 'the daemon to exit', timeoutMs: 5_000 });
  t.false(await hasLink(ns, ifname), 'the TUN went with it');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} makes zmesh-wg exit with status 0, removing its socket and TUN`, async (t) => {
    const w = await wgWorld(t);
    const ns = await w.namespace('a');
    const wg = await startWg(w, ns, 'wa', 'zmesh-wg');
    process.kill(wg.process.pid, signal);
    const status = await wg.process.exited;
    t.deepEqual(status, { exitCode: 0, signal: null }, 'a clean exit');
    t.false(isSocket(wg.socketPath), 'the socket is removed');
    t.false(await hasLink(ns, wg.ifname), 'the TUN is gone');
  });
}

test('a second zmesh-wg on the same name refuses to start, in the same or another namespace, and leaves the first working', async (t) => {
  const w = await wgWorld(t);
  const ns = await w.namespace('a');
  const other = await w.namespace('b');
  const first = await startWg(w, ns, 'wa', 'zmesh-wg');
  const port = await first.listenPort();
  for (const where of [ns, other]) {
    const r = await where.exec(ZMESH_WG_BIN, [first.ifname], { check: false, timeoutMs: 20_000 });
    t.not(r.exitCode, 0, `refused in ${where === ns ? 'the same' : 'another'} namespace`);
    t.not(r.stderr.trim(), '', 'with an error message');
    t.true(first.process.running, 'the first is still running');
    t.true(isSocket(first.socketPath), "the first's socket is still there");
    t.is(await first.listenPort(), port, 'and still answers wg(8)');
  }
  t.false(await hasLink(other, first.ifname), 'the refused one left no TUN behind');
});

/** Digest of the root namespace's routes, rules, addresses and nftables ruleset (read-only). */
async function rootNamespaceState(): Promise<{ digest: string; text: string }> {
  const parts = [
    await runCommand(systemTool('ip'), ['-4', 'route', 'show', 'table', 'all']),
    await runCommand(systemTool('ip'), ['-6', 'route', 'show', 'table', 'all']),
    await runCommand(systemTool('ip'), ['-4', 'rule', 'show']),
    await runCommand(systemTool('ip'), ['-6', 'rule', 'show']),
    await runCommand(systemTool('ip'), ['-br', 'addr', 'show']),
    await runCommand(systemTool('nft'), ['list', 'ruleset']),
  ].map((r) => r.stdout);
  // Routes' cache/expiry fields move on their own; keep the stable part of each line.
  const text = parts.join('\n---\n').replace(/ expires \d+sec/g, '');
  return { digest: createHash('sha256').update(text).digest('hex'), text };
}

test('wg-quick up/down drives zmesh-wg (WG_QUICK_USERSPACE_IMPLEMENTATION) inside a namespace without touching the root namespace', async (t) => {
  const w = await wgWorld(t);
  const nsA = await w.namespace('a');
  const nsB = await w.namespace('b');
  await w.link(nsA, 'ua', nsB, 'ub', { addressA: '192.0.2.1/24', addressB: '192.0.2.2/24' });
  const peer = await startWg(w, nsB, 'wb', 'wireguard-go', { address: '10.98.0.2/24', listenPort: 51902 });

  // A plain config: an address, a port, one peer with a /32 — no DNS, no default route, no hooks.
  const ifname = w.ifname('wq');
  const keys = generateKeys(w);
  const conf = join(w.tempDir(), `${ifname}.conf`);
  const privateKey = readFileSync(keys.privateKeyFile, 'utf8').trim();
  writeFileSync(
    conf,
    [
      '[Interface]',
      'Address = 10.98.0.1/24',
      'ListenPort = 51901',
      `PrivateKey = ${privateKey}`,
      '',
      '[Peer]',
      `PublicKey = ${peer.publicKey}`,
      `Endpoint = ${endpointText('192.0.2.2', 51902)}`,
      'AllowedIPs = 10.98.0.2/32',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await peer.setPeer(keys.publicKey, { endpoint: endpointText('192.0.2.1', 51901), allowedIps: ['10.98.0.1/32'] });

  const rootBefore = await rootNamespaceState();
  const env = { WG_QUICK_USERSPACE_IMPLEMENTATION: ZMESH_WG_BIN, LOG_LEVEL: 'error' };
  // Errors show wg-quick's stderr: its "[#] command" lines, never the key (setconf reads /dev/fd).
  const up = await nsA.exec('wg-quick', ['up', conf], { env, timeoutMs: 30_000 });
  t.regex(
    up.stderr,
    /Falling back to slow userspace implementation/,
    'wg-quick fell back to the userspace implementation',
  );
  t.regex(
    up.stderr,
    new RegExp(`\\[#\\] ${ZMESH_WG_BIN.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${ifname}`),
    'and ran zmesh-wg',
  );
  const daemon = pidsInNamespace(nsA.name);
  t.is(daemon.length, 1, 'the zmesh-wg daemon runs in the namespace');

  const dump = (await nsA.exec('wg', ['show', ifname, 'listen-port'])).stdout.trim();
  t.is(dump, '51901', 'wg-quick set the configuration through the UAPI socket');
  t.deepEqual(
    (await nsA.addresses(ifname)).filter((a) => !a.includes(':')),
    ['10.98.0.1/24'],
    'wg-quick set the address',
  );
  t.is((await nsA.links()).find((l) => l.ifname === ifname)?.mtu, 1420, 'and the MTU (veth 1500 - 80)');
  t.is(
    (await ping(nsA, '10.98.0.2', { count: 3, intervalMs: 100 })).loss,
    0,
    'traffic flows through the wg-quick interface',
  );

  await nsA.exec('wg-quick', ['down', conf], { env, timeoutMs: 30_000 });
  await waitFor(() => daemon.every((pid) => !isProcessAlive(pid)), {
    what: 'the daemon to exit after wg-quick down',
    timeoutMs: 5_000,
  });
  t.false(isSocket(socketPathOf(ifname)), 'its socket is removed');

  const rootAfter = await rootNamespaceState();
  if (rootAfter.digest !== rootBefore.digest)
    t.log(`root namespace before:\n${rootBefore.text}\nafter:\n${rootAfter.text}`);
  t.is(
    rootAfter.digest,
    rootBefore.digest,
    'routes, rules, addresses and nftables of the root namespace are unchanged',
  );
});
