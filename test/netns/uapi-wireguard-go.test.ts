// The UAPI client against Debian's wireguard-go, an independently written server: what the
// client sets, wireguard-go reports back through wg(8) and through the client's own parser.
// wireguard-go creates a TUN, so it runs inside a namespace this test makes (per-run name,
// deleted in teardown); its UAPI socket lands in the shared /var/run/wireguard.
import test from 'ava';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import sodium from 'libsodium-wrappers';
import { UapiClient } from '../../src/wg/uapi/client.js';
import { UapiError } from '../../src/wg/uapi/errors.js';
import { formatGetResponse } from '../../src/wg/uapi/format.js';
import { parseSetLines } from '../../src/wg/uapi/parse.js';

await sodium.ready;

const hex = (): string => Buffer.from(sodium.randombytes_buf(32)).toString('hex');

test('the client configures wireguard-go and parses its get answer; wg(8) agrees', async (t) => {
  const run = randomBytes(2).toString('hex');
  const ns = `zmesh-uapi-${run}`;
  const name = `zu${run}`;
  const socketPath = `/var/run/wireguard/${name}.sock`;
  await execa('ip', ['netns', 'add', ns]);
  t.teardown(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });
  const wgGo = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', name], {
    stdio: 'ignore',
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
  });
  const exited = new Promise((r) => wgGo.once('exit', r));
  t.teardown(async () => {
    if (wgGo.exitCode === null && wgGo.signalCode === null) wgGo.kill('SIGTERM');
    await exited;
    rmSync(socketPath, { force: true });
  });
  const deadline = Date.now() + 5000;
  while (!existsSync(socketPath)) {
    if (Date.now() > deadline || wgGo.exitCode !== null) return t.fail('wireguard-go did not create its socket');
    await new Promise((r) => setTimeout(r, 20));
  }

  const client = new UapiClient();
  const [priv, peerA, peerB, psk] = [hex(), hex(), hex(), hex()];
  await client.set(
    socketPath,
    parseSetLines([
      `private_key=${priv}`,
      'listen_port=0',
      `public_key=${peerA}`,
      `preshared_key=${psk}`,
      'endpoint=[2001:db8::7]:51820',
      'persistent_keepalive_interval=21',
      'allowed_ip=10.1.0.9/24',
      'allowed_ip=fd00:1::/64',
      `public_key=${peerB}`,
      'endpoint=192.0.2.5:443',
      'allowed_ip=10.2.0.0/24',
    ]),
  );
  const view = await client.get(socketPath);
  t.true(view.listenPort > 0, 'wireguard-go bound a random port and reports it');
  const byKey = new Map(view.peers.map((p) => [p.publicKey.hex, p]));
  t.deepEqual(
    byKey
      .get(peerA)!
      .allowedIps.map((ip) => ip.text)
      .sort(),
    ['10.1.0.0/24', 'fd00:1::/64'],
  );
  t.is(byKey.get(peerA)!.endpoint!.text, '[2001:db8::7]:51820');
  t.is(byKey.get(peerA)!.persistentKeepalive, 21);
  t.true(byKey.get(peerA)!.presharedKey!.secretHex() === psk, 'preshared key reads back');
  t.is(byKey.get(peerB)!.endpoint!.text, '192.0.2.5:443');
  t.is(byKey.get(peerB)!.presharedKey, null);
  // Our formatter's rendering of wireguard-go's answer is wireguard-go's answer, peer order aside.
  const raw = await client.exchange(socketPath, 'get=1\n\n');
  t.deepEqual(formatGetResponse(view).split('\n').sort(), raw.split('\n').sort());

  const dump = (await execa('wg', ['show', name, 'allowed-ips'])).stdout;
  t.true(dump.includes('10.1.0.0/24') && dump.includes('10.2.0.0/24'));

  // A refused request comes back as a typed error (wireguard-go: -EINVAL for a bad value).
  const err = await t.throwsAsync(client.set(socketPath, `public_key=${peerA}\nprotocol_version=2`), {
    instanceOf: UapiError,
  });
  t.is(err!.code, 'EINVAL');
});
