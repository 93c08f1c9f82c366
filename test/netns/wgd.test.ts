// The real `zmesh wgd` process (started as the simulated world runs zmesh: src/sim/harness/wgd.ts)
// running inside a "node" namespace, hosting devices whose TUNs live in two NR namespaces and
// whose UDP sockets live in the node's namespace. Devices are configured with the real wg(8)
// through their UAPI sockets: wg looks only in /var/run/wireguard, so each test links the
// per-run sockets there (`<prefix>wa.sock` → the world's UAPI dir; wg follows the symlink) and
// removes the links in teardown. Everything else — namespaces, the daemon, its sockets — belongs
// to the test's world and is removed even when a test fails.
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { existsSync, lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ping,
  runCommand,
  spawnWgd,
  systemTool,
  waitFor,
  type Namespace,
  type World,
  type WgdProcess,
} from '../harness/index.js';
import { worldFor } from '../harness/ava.js';
import { WgdError } from '../../src/wg/wgd/errors.js';

const WG_SOCKET_DIR = '/var/run/wireguard';
const WG = systemTool('wg');

/** Starts `zmesh wgd` inside `node` and waits for its ready line. */
async function startWgd(w: World, node: Namespace, dirs?: { control: string; uapiDir: string }): Promise<WgdProcess> {
  const tmp = w.tempDir();
  const control = dirs?.control ?? path.join(tmp, 'ctl', 'wgd.sock');
  const uapiDir = dirs?.uapiDir ?? path.join(tmp, 'uapi');
  return spawnWgd(node, { control, uapiDir, clientTimeoutMs: 5000 });
}

/** Makes `wg show NAME` reach the device: a symlink in /var/run/wireguard, removed in teardown. */
function linkForWg(t: ExecutionContext, name: string, socket: string): void {
  const link = path.join(WG_SOCKET_DIR, `${name}.sock`);
  mkdirSync(WG_SOCKET_DIR, { recursive: true, mode: 0o755 });
  symlinkSync(socket, link);
  t.teardown(() => {
    // Only our own symlink, never a socket someone else put there.
    if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) rmSync(link);
  });
}

async function wg(args: string[], input?: string): Promise<string> {
  return (await execa(WG, args, { timeout: 10_000, ...(input === undefined ? {} : { input }) })).stdout;
}

async function keypair(dir: string, label: string): Promise<{ file: string; publicKey: string }> {
  const privateKey = await wg(['genkey']);
  const file = path.join(dir, `${label}.key`);
  writeFileSync(file, `${privateKey}\n`, { mode: 0o600 });
  return { file, publicKey: await wg(['pubkey'], privateKey) };
}

async function linkNames(ns: Namespace): Promise<string[]> {
  return (await ns.links()).map((l) => l.ifname);
}

/** UDP ports bound in a namespace. */
async function udpPorts(ns: Namespace): Promise<number[]> {
  const r = await ns.exec('ss', ['-Hnul']);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const local = line.split(/\s+/)[3] ?? '';
      return Number(local.slice(local.lastIndexOf(':') + 1));
    });
}

test('two devices in two NR namespaces, configured by wg(8), carry ping between the NRs over UDP in the node namespace; list, delete, delete-many, a removed namespace and SIGTERM behave', async (t) => {
  const w = await worldFor(t);
  const [node, nrA, nrB] = [await w.namespace('node'), await w.namespace('nra'), await w.namespace('nrb')];
  const d = await startWgd(w, node);
  const [wa, wb] = [w.ifname('wa'), w.ifname('wb')];

  const { device: a, created } = await d.client.create({ name: wa, netns: nrA.path });
  const { device: b } = await d.client.create({ name: wb, netns: nrB.path, mtu: 1380 });
  t.true(created);
  t.is(a.uapiSocket, path.join(d.uapiDir, `${wa}.sock`));
  t.is(a.mtu, 1420);
  // TUNs in their NRs (with the MTU asked for), none in the node namespace; UDP sockets in the node's.
  t.true((await linkNames(nrA)).includes(wa));
  t.is((await nrB.links()).find((l) => l.ifname === wb)?.mtu, 1380);
  t.false((await linkNames(node)).some((n) => n === wa || n === wb));
  const nodePorts = await udpPorts(node);
  t.true(nodePorts.includes(a.listenPort) && nodePorts.includes(b.listenPort), `node UDP ports ${nodePorts.join(',')}`);
  t.deepEqual(await udpPorts(nrA), []);

  // wg(8) configures both through their UAPI sockets; endpoints are the node's loopback.
  linkForWg(t, wa, a.uapiSocket);
  linkForWg(t, wb, b.uapiSocket);
  const [ka, kb] = [await keypair(w.tempDir(), 'a'), await keypair(w.tempDir(), 'b')];
  await wg([
    'set',
    wa,
    'private-key',
    ka.file,
    'listen-port',
    String(a.listenPort),
    'peer',
    kb.publicKey,
    'endpoint',
    `127.0.0.1:${b.listenPort}`,
    'allowed-ips',
    '10.99.0.2/32',
  ]);
  await wg([
    'set',
    wb,
    'private-key',
    kb.file,
    'peer',
    ka.publicKey,
    'endpoint',
    `127.0.0.1:${a.listenPort}`,
    'allowed-ips',
    '10.99.0.1/32',
  ]);
  await nrA.addAddress(wa, '10.99.0.1/24');
  await nrB.addAddress(wb, '10.99.0.2/24');
  await nrA.setUp(wa);
  await nrB.setUp(wb);

  const p = await ping(nrA, '10.99.0.2', { count: 3 });
  t.is(p.loss, 0, 'ping NR A → NR B through the tunnel');
  t.is((await ping(nrB, '10.99.0.1', { count: 2 })).loss, 0, 'and back');
  t.not((await wg(['show', wa, 'latest-handshakes'])).split('\t')[1], '0', 'wg show sees the handshake');
  const [peer, rx, tx] = (await wg(['show', wb, 'transfer'])).split('\t');
  t.is(peer, ka.publicKey);
  t.true(Number(rx) > 0 && Number(tx) > 0, `wg show transfer: rx ${rx}, tx ${tx}`);

  t.deepEqual((await d.client.list()).map((x) => [x.name, x.netns, x.mtu, x.listenPort, x.peers]).sort(), [
    [wa, nrA.path, 1420, a.listenPort, 1],
    [wb, nrB.path, 1380, b.listenPort, 1],
  ]);
  // Idempotent create of a live, configured device changes nothing (same port, still 1 peer).
  const again = await d.client.create({ name: wa, netns: nrA.path, mtu: 1420 });
  t.false(again.created);
  t.is(again.device.peers, 1);

  // delete: the TUN and the UAPI socket go; the other device keeps working.
  t.deepEqual(await d.client.delete(wa), { existed: true });
  t.false((await linkNames(nrA)).includes(wa));
  t.false(existsSync(a.uapiSocket));
  t.deepEqual(
    (await d.client.list()).map((x) => x.name),
    [wb],
  );

  // A namespace that disappears takes its device out of the registry (TUN and socket closed).
  const nrC = `${w.prefix}nrc`; // made here, not by the world: deleting it must not break teardown
  await runCommand(systemTool('ip'), ['netns', 'add', nrC]);
  const wc = w.ifname('wc');
  const { device: c } = await d.client.create({ name: wc, netns: `/run/netns/${nrC}` });
  t.true(existsSync(c.uapiSocket));
  // A witness veth from nrC to the node: its node end goes when the kernel destroys nrC.
  const [witnessIn, witnessOut] = [w.ifname('cx'), w.ifname('cy')];
  await runCommand(systemTool('ip'), [
    ...['link', 'add', witnessIn, 'netns', nrC, 'type', 'veth'],
    ...['peer', 'name', witnessOut, 'netns', node.name],
  ]);
  await runCommand(systemTool('ip'), ['netns', 'del', nrC]);
  await waitFor(async () => !(await d.client.list()).some((x) => x.name === wc), {
    what: `${wc} to leave the registry`,
    timeoutMs: 5000,
  });
  t.false(existsSync(c.uapiSocket));
  // wgd left the TUN link to the namespace's cleanup (made it persistent, then closed it): the
  // namespace dies, and the link with it — neither kept alive nor moved to another namespace.
  await waitFor(async () => !(await linkNames(node)).includes(witnessOut), {
    what: `the kernel to destroy ${nrC}`,
    timeoutMs: 20_000,
  });
  t.false((await linkNames(node)).includes(wc), 'the TUN is not in the node namespace');
  const inRoot = await runCommand(systemTool('ip'), ['link', 'show', 'dev', wc], { check: false });
  t.not(inRoot.exitCode, 0, 'the TUN is not in the root namespace');

  // delete-many of devices whose namespaces were just deleted: their TUNs are let go together and
  // the namespaces die (witness veths vanish) — none kept alive by an fd wgd still holds.
  const burst = ['nrd', 'nre'].map((n) => ({ ns: `${w.prefix}${n}`, dev: w.ifname(`${n}w`), out: w.ifname(`${n}o`) }));
  const sockets: string[] = [];
  for (const b of burst) {
    await runCommand(systemTool('ip'), ['netns', 'add', b.ns]);
    sockets.push((await d.client.create({ name: b.dev, netns: `/run/netns/${b.ns}` })).device.uapiSocket);
    await runCommand(systemTool('ip'), [
      ...['link', 'add', w.ifname(`${b.ns.slice(-3)}i`), 'netns', b.ns, 'type', 'veth'],
      ...['peer', 'name', b.out, 'netns', node.name],
    ]);
  }
  for (const b of burst) await runCommand(systemTool('ip'), ['netns', 'del', b.ns]);
  const absent = w.ifname('absent');
  const { existed } = await d.client.deleteMany([...burst.map((b) => b.dev), absent]);
  // A device may have noticed its namespace gone first (a 1 s check) and left by itself.
  t.true(
    existed.every((name) => burst.some((b) => b.dev === name)),
    `existed: ${existed.join(',')}`,
  );
  t.deepEqual(
    (await d.client.list()).map((x) => x.name),
    [wb],
  );
  t.false(
    sockets.some((s) => existsSync(s)),
    'UAPI sockets removed',
  );
  await waitFor(async () => !(await linkNames(node)).some((n) => burst.some((b) => b.out === n)), {
    what: 'the kernel to destroy the namespaces of the burst',
    timeoutMs: 20_000,
  });

  // SIGTERM: exit 0, no TUN, no socket left.
  process.kill(d.proc.pid, 'SIGTERM');
  const status = await d.proc.exited;
  t.deepEqual(status, { exitCode: 0, signal: null }, d.proc.stderr);
  t.false((await linkNames(nrB)).includes(wb));
  t.false(existsSync(b.uapiSocket));
  t.false(existsSync(d.control));
  t.regex(d.proc.stderr, /stopping \(SIGTERM\): closing 1 device/);
});

test('SIGKILL of wgd leaves no TUN; a new wgd replaces the stale control and UAPI sockets and recreates the devices', async (t) => {
  const w = await worldFor(t);
  const [node, nrA, nrB] = [await w.namespace('node'), await w.namespace('nra'), await w.namespace('nrb')];
  const first = await startWgd(w, node);
  const [wa, wb] = [w.ifname('wa'), w.ifname('wb')];
  await first.client.create({ name: wa, netns: nrA.path });
  await first.client.create({ name: wb, netns: nrB.path });
  const pid = (await first.client.ping()).pid;
  t.is(pid, first.proc.pid);

  process.kill(first.proc.pid, 'SIGKILL');
  t.is((await first.proc.exited).signal, 'SIGKILL');
  // The TUNs went with the process's file descriptors; only the socket files remain (stale).
  await waitFor(async () => !(await linkNames(nrA)).includes(wa) && !(await linkNames(nrB)).includes(wb), {
    what: 'the TUNs to vanish',
    timeoutMs: 3000,
  });
  t.true(existsSync(path.join(first.uapiDir, `${wa}.sock`)));
  t.true(existsSync(first.control));
  const down = await t.throwsAsync(first.client.ping(), { instanceOf: WgdError });
  t.is(down!.code, 'ECONNREFUSED');

  const second = await startWgd(w, node, { control: first.control, uapiDir: first.uapiDir });
  const ping2 = await second.client.ping();
  t.not(ping2.pid, pid, 'a new pid tells networkd that every device must be recreated');
  t.is(ping2.devices, 0);
  const { created } = await second.client.create({ name: wa, netns: nrA.path });
  t.true(created);
  t.true((await linkNames(nrA)).includes(wa));
  t.is((await second.client.list()).length, 1);
});

test('the real daemon refuses a missing namespace, a non-namespace file and a name taken by a link, naming the field; nothing is created', async (t) => {
  const w = await worldFor(t);
  const [node, nrA] = [await w.namespace('node'), await w.namespace('nra')];
  const d = await startWgd(w, node);
  const name = w.ifname('wa');

  const missing = await t.throwsAsync(d.client.create({ name, netns: `/run/netns/${w.prefix}nothere` }), {
    instanceOf: WgdError,
  });
  t.is(missing!.code, 'ENOENT');
  t.regex(missing!.message, /^netns: .* does not exist/);

  const file = path.join(w.tempDir(), 'not-a-netns');
  writeFileSync(file, '');
  const notNetns = await t.throwsAsync(d.client.create({ name, netns: file }), { instanceOf: WgdError });
  t.is(notNetns!.code, 'EINVAL');
  t.regex(notNetns!.message, /^netns: .* is not a network namespace/);

  // A veth named like the device already lives in the NR: wgd must not take it over.
  const other = await w.namespace('oth');
  await w.link(nrA, name, other, 'peer0');
  const taken = await t.throwsAsync(d.client.create({ name, netns: nrA.path }), { instanceOf: WgdError });
  t.is(taken!.code, 'EEXIST');
  t.regex(taken!.message, /^name: a link named .* already exists/);
  t.is((await nrA.links()).find((l) => l.ifname === name)?.linkType, 'ether', 'the veth is untouched');

  t.deepEqual(await d.client.list(), []);
  t.false(existsSync(path.join(d.uapiDir, `${name}.sock`)));
  t.true(d.proc.running);
});
