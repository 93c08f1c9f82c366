// applySet: wg(8)'s set semantics on the pure configuration model.
import test from 'ava';
import sodium from 'libsodium-wrappers';
import { EMPTY_DEVICE_CONFIG, applySet, type DeviceConfig, type SetRequest } from '../../../src/wg/config.js';
import { deriveX25519PublicKey } from '../../../src/wg/uapi/config-only-device.js';
import { UapiError } from '../../../src/wg/uapi/errors.js';
import { parseSetLines } from '../../../src/wg/uapi/parse.js';

await sodium.ready;

const randomHex = (): string => Buffer.from(sodium.randombytes_buf(32)).toString('hex');
const publicHexOf = (privateHex: string): string =>
  Buffer.from(deriveX25519PublicKey(Buffer.from(privateHex, 'hex'))).toString('hex');
const set = (config: DeviceConfig, lines: string[]) => applySet(config, parseSetLines(lines), deriveX25519PublicKey);
const ips = (config: DeviceConfig, hex: string): string[] => config.peers.get(hex)!.allowedIps.map((ip) => ip.text);
const kinds = (changes: readonly { kind: string }[]): string[] => changes.map((c) => c.kind);

const A = randomHex();
const B = randomHex();

test('a private key is stored clamped and reported as a private-key change', (t) => {
  const raw = Buffer.alloc(32, 0xff);
  const { config, changes } = set(EMPTY_DEVICE_CONFIG, [`private_key=${raw.toString('hex')}`]);
  const stored = Buffer.from(config.privateKey!.bytes());
  t.is(stored[0], 0xf8);
  t.is(stored[31], 0x7f);
  t.true(stored.subarray(1, 31).every((b) => b === 0xff));
  t.deepEqual(kinds(changes), ['private-key-changed']);
});

test('an all-zero private key clears the key; setting the same key again changes nothing', (t) => {
  const key = randomHex();
  const first = set(EMPTY_DEVICE_CONFIG, [`private_key=${key}`]).config;
  const again = set(first, [`private_key=${key}`]);
  t.deepEqual(again.changes, []);
  const cleared = set(first, [`private_key=${'0'.repeat(64)}`]);
  t.is(cleared.config.privateKey, null);
  t.deepEqual(kinds(cleared.changes), ['private-key-changed']);
});

test('a peer whose public key is the device own public key is ignored with all its lines', (t) => {
  const priv = randomHex();
  const own = publicHexOf(priv);
  const { config, changes } = set(EMPTY_DEVICE_CONFIG, [
    `private_key=${priv}`,
    `public_key=${own}`,
    'allowed_ip=10.0.0.0/24',
    `public_key=${A}`,
    'allowed_ip=10.0.1.0/24',
  ]);
  t.deepEqual([...config.peers.keys()], [A]);
  t.deepEqual(kinds(changes), ['private-key-changed', 'peer-added']);
});

test('setting a private key removes an existing peer that has the new own public key', (t) => {
  const priv = randomHex();
  const own = publicHexOf(priv);
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${own}`, 'allowed_ip=10.0.0.0/24', `public_key=${A}`]).config;
  t.is(before.peers.size, 2);
  const { config, changes } = set(before, [`private_key=${priv}`]);
  t.deepEqual([...config.peers.keys()], [A]);
  t.deepEqual(
    changes.map((c) => (c.kind === 'peer-removed' ? `${c.kind}:${c.publicKey.hex}` : c.kind)),
    ['private-key-changed', `peer-removed:${own}`],
  );
});

test('update_only on an unknown peer skips its lines, even allowed IPs that another peer owns', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, 'allowed_ip=10.0.0.0/24']).config;
  const { config, changes } = set(before, [
    `public_key=${B}`,
    'allowed_ip=10.0.0.0/24',
    'update_only=true',
    'endpoint=192.0.2.1:1',
  ]);
  t.false(config.peers.has(B));
  t.deepEqual(ips(config, A), ['10.0.0.0/24']);
  t.deepEqual(changes, []);
});

test('update_only on a known peer applies its lines', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`]).config;
  const { config, changes } = set(before, [`public_key=${A}`, 'update_only=true', 'endpoint=192.0.2.1:51820']);
  t.is(config.peers.get(A)!.endpoint!.text, '192.0.2.1:51820');
  t.deepEqual(
    changes.map((c) => (c.kind === 'peer-updated' ? c.fields : c.kind)),
    [['endpoint']],
  );
});

test('an allowed IP owned by another peer moves to the peer that now names the same prefix', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [
    `public_key=${A}`,
    'allowed_ip=10.0.0.0/24',
    'allowed_ip=10.0.1.0/24',
    `public_key=${B}`,
  ]).config;
  // 10.0.0.7/24 is the same prefix once host bits are cleared; 10.0.1.0/25 is a different prefix.
  const { config, changes } = set(before, [`public_key=${B}`, 'allowed_ip=10.0.0.7/24', 'allowed_ip=10.0.1.0/25']);
  t.deepEqual(ips(config, A), ['10.0.1.0/24']);
  t.deepEqual(ips(config, B), ['10.0.0.0/24', '10.0.1.0/25']);
  t.deepEqual(
    changes
      .map((c) => (c.kind === 'peer-updated' ? `${c.publicKey.hex === A ? 'A' : 'B'}:${c.fields.join()}` : c.kind))
      .sort(),
    ['A:allowedIps', 'B:allowedIps'],
  );
});

test('replace_allowed_ips clears the peer allowed IPs before the lines that follow it', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, 'allowed_ip=10.0.0.0/24', 'allowed_ip=fd00::/64']).config;
  const { config } = set(before, [
    `public_key=${A}`,
    'allowed_ip=10.9.0.0/16',
    'replace_allowed_ips=true',
    'allowed_ip=10.0.2.0/24',
  ]);
  t.deepEqual(ips(config, A), ['10.0.2.0/24']);
  // And a cleared prefix is free for another peer without moving anything back.
  const next = set(config, [`public_key=${B}`, 'allowed_ip=10.0.0.0/24']).config;
  t.deepEqual(ips(next, A), ['10.0.2.0/24']);
});

test('remove=true removes the peer with its allowed IPs and ignores the rest of its section', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, 'allowed_ip=10.0.0.0/24', `public_key=${B}`]).config;
  const { config, changes } = set(before, [
    `public_key=${A}`,
    'remove=true',
    'allowed_ip=10.5.0.0/16',
    `public_key=${B}`,
    'allowed_ip=10.0.0.0/24',
  ]);
  t.deepEqual([...config.peers.keys()], [B]);
  t.deepEqual(ips(config, B), ['10.0.0.0/24']);
  t.deepEqual(kinds(changes), ['peer-removed', 'peer-updated']);
});

test('replace_peers removes every peer; a peer named again is reported removed then added (its sessions reset)', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, 'allowed_ip=10.0.0.0/24', `public_key=${B}`]).config;
  const { config, changes } = set(before, ['replace_peers=true', `public_key=${A}`, 'allowed_ip=10.0.0.0/24']);
  t.deepEqual([...config.peers.keys()], [A]);
  t.deepEqual(changes.map((c) => `${c.kind}:${'publicKey' in c ? (c.publicKey.hex === A ? 'A' : 'B') : ''}`).sort(), [
    'peer-added:A',
    'peer-removed:A',
    'peer-removed:B',
  ]);
});

test('persistent keepalive turned on from off reports keepalive-enabled; changing a non-zero interval does not', (t) => {
  const added = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, 'persistent_keepalive_interval=25']);
  t.deepEqual(kinds(added.changes), ['peer-added', 'keepalive-enabled']);
  const changed = set(added.config, [`public_key=${A}`, 'persistent_keepalive_interval=30']);
  t.deepEqual(kinds(changed.changes), ['peer-updated']);
  const off = set(changed.config, [`public_key=${A}`, 'persistent_keepalive_interval=0']);
  t.deepEqual(kinds(off.changes), ['peer-updated']);
  const on = set(off.config, [`public_key=${A}`, 'persistent_keepalive_interval=5']);
  t.deepEqual(kinds(on.changes), ['peer-updated', 'keepalive-enabled']);
});

test('listen port and fwmark are reported only when they differ', (t) => {
  const first = set(EMPTY_DEVICE_CONFIG, ['listen_port=51820', 'fwmark=7']);
  t.deepEqual(first.changes, [
    { kind: 'listen-port-changed', listenPort: 51820 },
    { kind: 'fwmark-changed', fwmark: 7 },
  ]);
  t.deepEqual(set(first.config, ['listen_port=51820', 'fwmark=7']).changes, []);
});

test('an endpoint line is reported even when it names the configured endpoint (it overrides a roamed one)', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, 'endpoint=[2001:db8::1]:51820']).config;
  const { changes } = set(before, [`public_key=${A}`, 'endpoint=[2001:db8:0::1]:51820']);
  t.deepEqual(
    changes.map((c) => (c.kind === 'peer-updated' ? c.fields : c.kind)),
    [['endpoint']],
  );
});

test('an all-zero preshared key means no preshared key', (t) => {
  const psk = randomHex();
  const withPsk = set(EMPTY_DEVICE_CONFIG, [`public_key=${A}`, `preshared_key=${psk}`]).config;
  t.is(withPsk.peers.get(A)!.presharedKey!.secretHex(), psk);
  const without = set(withPsk, [`public_key=${A}`, `preshared_key=${'0'.repeat(64)}`]);
  t.is(without.config.peers.get(A)!.presharedKey, null);
  t.deepEqual(
    without.changes.map((c) => (c.kind === 'peer-updated' ? c.fields : c.kind)),
    [['presharedKey']],
  );
});

test('applySet never mutates its input and returns frozen configurations', (t) => {
  const before = set(EMPTY_DEVICE_CONFIG, [
    `public_key=${A}`,
    'allowed_ip=10.0.0.0/24',
    `public_key=${B}`,
    'allowed_ip=10.1.0.0/24',
  ]).config;
  const snapshot = JSON.stringify([...before.peers.values()]);
  const { config } = set(before, [
    'listen_port=1',
    `public_key=${B}`,
    'allowed_ip=10.0.0.0/24',
    `public_key=${A}`,
    'remove=true',
  ]);
  t.is(JSON.stringify([...before.peers.values()]), snapshot);
  t.is(before.listenPort, 0);
  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.peers.get(B)!.allowedIps));
  t.not(config, before);
});

test('a failing key derivation throws EIO without the key in the message and changes nothing', (t) => {
  const key = randomHex();
  const request: SetRequest = parseSetLines([`private_key=${key}`, `public_key=${A}`]);
  const err = t.throws(
    () =>
      applySet(EMPTY_DEVICE_CONFIG, request, () => {
        throw new Error('boom');
      }),
    { instanceOf: UapiError },
  );
  t.is(err!.code, 'EIO');
  t.false(err!.message.includes(key));
  t.is(EMPTY_DEVICE_CONFIG.peers.size, 0);
});

test('a one-peer set on a device with 10,000 peers shares every untouched peer with the previous configuration', (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 10_000; i++)
    lines.push(`public_key=${i.toString(16).padStart(64, '0')}`, `allowed_ip=10.${i >> 8}.${i & 255}.0/24`);
  const started = performance.now();
  const big = set(EMPTY_DEVICE_CONFIG, lines).config;
  const bulkMs = performance.now() - started;
  const one = performance.now();
  const { config } = set(big, [`public_key=${A}`, 'allowed_ip=10.0.5.0/24']);
  const oneMs = performance.now() - one;
  t.is(config.peers.size, 10_001);
  t.is(config.peers.get((1).toString(16).padStart(64, '0')), big.peers.get((1).toString(16).padStart(64, '0')));
  t.deepEqual(ips(config, (5).toString(16).padStart(64, '0')), []);
  t.log(`10,000 peers parsed+applied in ${bulkMs.toFixed(0)} ms; one more peer in ${oneMs.toFixed(1)} ms`);
});
