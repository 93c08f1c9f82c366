// The UAPI server driven by the real wg(8) from wireguard-tools, over the real socket path
// /var/run/wireguard/<name>.sock. No namespace is needed: the device is the configuration half
// (ConfigOnlyDevice), so nothing touches links, routes or traffic. Each test uses its own
// per-run interface name (zu + 4 random chars) and removes its socket in teardown.
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigOnlyDevice } from '../../src/wg/uapi/config-only-device.js';
import { UapiClient } from '../../src/wg/uapi/client.js';
import { UapiError } from '../../src/wg/uapi/errors.js';
import { UapiServer } from '../../src/wg/uapi/server.js';

const SOCKET_DIR = '/var/run/wireguard';
const keyDir = mkdtempSync(path.join(os.tmpdir(), 'zmesh-uapi-wg-'));
test.after.always(() => rmSync(keyDir, { recursive: true, force: true }));

const wg = async (...args: string[]): Promise<string> => (await execa('wg', args, { timeout: 10_000 })).stdout;
const wgWithInput = async (input: string, ...args: string[]): Promise<string> =>
  (await execa('wg', args, { input, timeout: 10_000 })).stdout;

interface Keypair {
  readonly privateKey: string;
  readonly publicKey: string;
  readonly file: string;
}
let keyCount = 0;
async function keypair(): Promise<Keypair> {
  const privateKey = await wg('genkey');
  const publicKey = await wgWithInput(privateKey, 'pubkey');
  const file = path.join(keyDir, `k${keyCount++}`);
  writeFileSync(file, `${privateKey}\n`, { mode: 0o600 });
  return { privateKey, publicKey, file };
}

/** A unique interface served by a ConfigOnlyDevice; its socket is removed in teardown. */
async function device(
  t: ExecutionContext,
): Promise<{ name: string; socketPath: string; server: UapiServer; dev: ConfigOnlyDevice }> {
  let name: string;
  do
    name = `zu${randomBytes(3)
      .toString('base64url')
      .slice(0, 4)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;
  while (existsSync(path.join(SOCKET_DIR, `${name}.sock`)));
  const socketPath = path.join(SOCKET_DIR, `${name}.sock`);
  const dev = await ConfigOnlyDevice.create();
  const server = await UapiServer.listen(socketPath, dev);
  t.teardown(() => server.close());
  return { name, socketPath, server, dev };
}

/** `wg showconf` without the PrivateKey line, so no key material reaches an assertion diff. */
const showconfPublic = async (name: string): Promise<string> =>
  (await wg('showconf', name))
    .split('\n')
    .filter((l) => !l.startsWith('PrivateKey'))
    .join('\n');

test('wg set configures key, port, peers, endpoints, keepalive and allowed IPs, and wg show reads them back', async (t) => {
  const { name } = await device(t);
  const own = await keypair();
  const [a, b] = [await keypair(), await keypair()];
  await wg(
    'set',
    name,
    'private-key',
    own.file,
    'listen-port',
    '51999',
    'fwmark',
    '0x1234',
    'peer',
    a.publicKey,
    'allowed-ips',
    '10.1.0.7/24,fd00:1::1/64',
    'endpoint',
    '192.0.2.1:51820',
    'persistent-keepalive',
    '25',
    'peer',
    b.publicKey,
    'allowed-ips',
    '10.2.0.0/24',
    'endpoint',
    '[2001:db8::1]:443',
  );
  const [header, ...peers] = (await wg('show', name, 'dump')).split('\n').map((l) => l.split('\t'));
  t.true(header![0] === own.privateKey, 'private key reads back');
  t.deepEqual(header!.slice(1), [own.publicKey, '51999', '0x1234']);
  t.deepEqual(
    peers.map((p) => p.slice(0, 1).concat(p.slice(2))),
    [
      [a.publicKey, '192.0.2.1:51820', '10.1.0.0/24,fd00:1::/64', '0', '0', '0', '25'],
      [b.publicKey, '[2001:db8::1]:443', '10.2.0.0/24', '0', '0', '0', 'off'],
    ],
  );
  t.is(await wg('show', name, 'public-key'), own.publicKey);
  t.is(await wg('show', name, 'listen-port'), '51999');
  t.is(await wg('show', name, 'fwmark'), '0x1234');
  t.is(await wg('show', name, 'peers'), `${a.publicKey}\n${b.publicKey}`);
  t.is(await wg('show', name, 'endpoints'), `${a.publicKey}\t192.0.2.1:51820\n${b.publicKey}\t[2001:db8::1]:443`);
  t.is(await wg('show', name, 'allowed-ips'), `${a.publicKey}\t10.1.0.0/24 fd00:1::/64\n${b.publicKey}\t10.2.0.0/24`);
  t.is(await wg('show', name, 'persistent-keepalive'), `${a.publicKey}\t25\n${b.publicKey}\toff`);
  t.is(await wg('show', name, 'latest-handshakes'), `${a.publicKey}\t0\n${b.publicKey}\t0`);
  t.is(await wg('show', name, 'transfer'), `${a.publicKey}\t0\t0\n${b.publicKey}\t0\t0`);
  t.true((await wg('show', 'interfaces')).split(/\s+/).includes(name));
});

test('wg setconf, addconf and syncconf apply a config file; showconf writes it back', async (t) => {
  const { name } = await device(t);
  const own = await keypair();
  const [a, b, c] = [await keypair(), await keypair(), await keypair()];
  const psk = await wg('genpsk');
  const file = path.join(keyDir, `${name}.conf`);
  writeFileSync(
    file,
    [
      '[Interface]',
      `PrivateKey = ${own.privateKey}`,
      'ListenPort = 40001',
      '',
      '[Peer]',
      `PublicKey = ${a.publicKey}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 10.1.0.0/24, fd00:1::/64',
      'Endpoint = 198.51.100.1:51820',
      '',
      '[Peer]',
      `PublicKey = ${b.publicKey}`,
      'AllowedIPs = 10.2.0.0/24',
      'PersistentKeepalive = 15',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await wg('setconf', name, file);
  t.is(
    await showconfPublic(name),
    [
      '[Interface]',
      'ListenPort = 40001',
      '',
      '[Peer]',
      `PublicKey = ${a.publicKey}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 10.1.0.0/24, fd00:1::/64',
      'Endpoint = 198.51.100.1:51820',
      '',
      '[Peer]',
      `PublicKey = ${b.publicKey}`,
      'AllowedIPs = 10.2.0.0/24',
      'PersistentKeepalive = 15',
    ].join('\n'),
  );

  writeFileSync(file, ['[Peer]', `PublicKey = ${c.publicKey}`, 'AllowedIPs = 10.3.0.0/24', ''].join('\n'), {
    mode: 0o600,
  });
  await wg('addconf', name, file);
  t.is(await wg('show', name, 'peers'), [a.publicKey, b.publicKey, c.publicKey].join('\n'));

  // syncconf: c is dropped, a loses its IPv6 prefix; b untouched. (Whether a keeps its preshared
  // key depends on the wg version: newer ones send an all-zero key; Debian's sends nothing.)
  writeFileSync(
    file,
    [
      '[Interface]',
      `PrivateKey = ${own.privateKey}`,
      'ListenPort = 40001',
      '',
      '[Peer]',
      `PublicKey = ${a.publicKey}`,
      'AllowedIPs = 10.1.0.0/24',
      'Endpoint = 198.51.100.1:51820',
      '',
      '[Peer]',
      `PublicKey = ${b.publicKey}`,
      'AllowedIPs = 10.2.0.0/24',
      'PersistentKeepalive = 15',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await wg('syncconf', name, file);
  t.is(await wg('show', name, 'allowed-ips'), `${a.publicKey}\t10.1.0.0/24\n${b.publicKey}\t10.2.0.0/24`);
  t.is(await wg('show', name, 'peers'), `${a.publicKey}\n${b.publicKey}`);
  t.is(await wg('show', name, 'persistent-keepalive'), `${a.publicKey}\toff\n${b.publicKey}\t15`);
});

test('removing a peer, replacing allowed IPs, moving an allowed IP and clearing the private key take effect', async (t) => {
  const { name, dev } = await device(t);
  const own = await keypair();
  const [a, b] = [await keypair(), await keypair()];
  await wg(
    'set',
    name,
    'private-key',
    own.file,
    'peer',
    a.publicKey,
    'allowed-ips',
    '10.1.0.0/24,10.9.0.0/16',
    'peer',
    b.publicKey,
    'allowed-ips',
    '10.2.0.0/24',
  );

  await wg('set', name, 'peer', a.publicKey, 'allowed-ips', '10.1.0.0/24,10.5.0.0/16');
  t.is(await wg('show', name, 'allowed-ips'), `${a.publicKey}\t10.1.0.0/24 10.5.0.0/16\n${b.publicKey}\t10.2.0.0/24`);
  t.deepEqual(
    dev.lastChanges.map((c) => (c.kind === 'peer-updated' ? c.fields : c.kind)),
    [['allowedIps']],
  );

  // `wg set ... allowed-ips` replaces b's list; 10.1.0.0/24 leaves a.
  await wg('set', name, 'peer', b.publicKey, 'allowed-ips', '10.2.0.0/24,10.1.0.0/24');
  t.is(await wg('show', name, 'allowed-ips'), `${a.publicKey}\t10.5.0.0/16\n${b.publicKey}\t10.2.0.0/24 10.1.0.0/24`);

  await wg('set', name, 'peer', a.publicKey, 'remove');
  t.is(await wg('show', name, 'peers'), b.publicKey);

  // An empty key file is wg's way to clear the private key (it sends an all-zero key).
  const empty = path.join(keyDir, `${name}.empty`);
  writeFileSync(empty, '', { mode: 0o600 });
  await wg('set', name, 'private-key', empty);
  t.is(await wg('show', name, 'private-key'), '(none)');
  t.is(await wg('show', name, 'public-key'), '(none)');
  t.is(dev.config.privateKey, null);
});

test('a peer with the device own public key is ignored when wg adds it', async (t) => {
  const { name } = await device(t);
  const own = await keypair();
  const a = await keypair();
  await wg(
    'set',
    name,
    'private-key',
    own.file,
    'peer',
    own.publicKey,
    'allowed-ips',
    '10.7.0.0/24',
    'peer',
    a.publicKey,
  );
  t.is(await wg('show', name, 'peers'), a.publicKey);
});

const RAW_BAD: [string, string, number][] = [
  ['unknown key', 'set=1\nlisten_prot=1\n\n', -22],
  ["line without '='", 'set=1\nlisten_port\n\n', -71],
  ['bad hex key', `set=1\npublic_key=${'zz'.repeat(32)}\n\n`, -22],
  ['short key', `set=1\nprivate_key=${'ab'.repeat(31)}\n\n`, -22],
  ['bad port', 'set=1\nlisten_port=65536\n\n', -22],
  ['bad CIDR', `set=1\npublic_key=${'ab'.repeat(32)}\nallowed_ip=10.0.0.0/33\n\n`, -22],
  ['TRUE for true', 'set=1\nreplace_peers=TRUE\n\n', -22],
  ['endpoint before public_key', 'set=1\nendpoint=192.0.2.1:1\n\n', -22],
  ['bad endpoint', `set=1\npublic_key=${'ab'.repeat(32)}\nendpoint=192.0.2.1\n\n`, -22],
];

test('raw malformed requests answer their errno and leave wg showconf unchanged', async (t) => {
  const { name, socketPath } = await device(t);
  const own = await keypair();
  const a = await keypair();
  await wg(
    'set',
    name,
    'private-key',
    own.file,
    'listen-port',
    '40002',
    'peer',
    a.publicKey,
    'allowed-ips',
    '10.1.0.0/24',
    'endpoint',
    '192.0.2.9:1',
  );
  const before = await wg('showconf', name);
  const client = new UapiClient();
  for (const [what, text, errno] of RAW_BAD) {
    // Valid lines ahead of the bad one (replace_peers, a new port) must not be applied.
    const withValidPrefix = text.replace('set=1\n', 'set=1\nlisten_port=1\nreplace_peers=true\n');
    t.is(await client.exchange(socketPath, withValidPrefix), `errno=${errno}\n\n`, what);
    t.true((await wg('showconf', name)) === before, `${what}: configuration unchanged`);
  }
  // An oversized line: -EPROTO, connection closed, nothing applied.
  const huge = await new Promise<{ text: string; closed: boolean }>((resolve) => {
    const socket = net.connect(socketPath);
    let text = '';
    socket.on('connect', () => socket.write(`set=1\nlisten_port=1\nallowed_ip=${'9'.repeat(100_000)}\n\n`));
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, closed: true }));
  });
  t.deepEqual(huge, { text: 'errno=-71\n\n', closed: true });
  t.true((await wg('showconf', name)) === before, 'oversized line: configuration unchanged');
});

test('wg set reports the device errno when a request is refused', async (t) => {
  // A device that refuses the port as a real one would when it is taken.
  const name = `zu${randomBytes(2).toString('hex')}`;
  const socketPath = path.join(SOCKET_DIR, `${name}.sock`);
  const server = await UapiServer.listen(socketPath, {
    get: () => ({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] }),
    set: () => {
      throw new UapiError('EADDRINUSE', 'port taken');
    },
  });
  t.teardown(() => server.close());
  const err = await t.throwsAsync(wg('set', name, 'listen-port', '1'));
  t.regex(String((err as { stderr?: string }).stderr), /Address already in use/);
});

test('the socket under /var/run/wireguard is root-only; a stale one is replaced and a live one refused', async (t) => {
  const { name, socketPath, server } = await device(t);
  t.is(statSync(socketPath).mode & 0o077, 0);
  t.is(statSync(SOCKET_DIR).mode & 0o777, 0o755);

  const refused = await t.throwsAsync(UapiServer.listen(socketPath, await ConfigOnlyDevice.create()), {
    instanceOf: UapiError,
  });
  t.is(refused!.code, 'EADDRINUSE');

  // Leave a stale socket file behind: a process that bound it was SIGKILLed.
  await server.close();
  t.teardown(() => rmSync(socketPath, { force: true })); // even if the test fails before replacing it
  const ncat = spawn('ncat', ['-lU', socketPath], { stdio: 'ignore' });
  const exited = new Promise((r) => ncat.once('exit', r));
  t.teardown(() => {
    if (ncat.exitCode === null && ncat.signalCode === null) ncat.kill('SIGKILL');
  });
  const deadline = Date.now() + 3000;
  while (!existsSync(socketPath) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ncat.kill('SIGKILL');
  await exited;
  t.true(statSync(socketPath).isSocket());

  const replacement = await UapiServer.listen(socketPath, await ConfigOnlyDevice.create());
  t.teardown(() => replacement.close());
  const a = await keypair();
  await wg('set', name, 'peer', a.publicKey);
  t.is(await wg('show', name, 'peers'), a.publicKey);
});
