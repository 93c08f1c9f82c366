// Host-side tests of the packed peer batch (src/nr/wireguard/kernel/peer-batch.ts → the addon's batch reader
// and native/wgk_text.c): every optional field lands on its own peer whatever mix the peers carry,
// keys are accepted exactly when they are canonical base64 (the pattern zmesh checks everywhere),
// and text that only looks valid after a lossy conversion (non-ASCII, NUL) is refused naming the
// field. No WireGuard kernel needed: the messages are encoded and decoded by the addon itself.
import test from 'ava';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { KEY_PATTERN, PresharedKey, isKey } from '../../../../src/netdef/index.js';
import { decodeDeviceMessages, setDevice, toRawDeviceSet } from '../../../../src/nr/wireguard/kernel/device.js';
import type { KernelDeviceSet, KernelPeerSet } from '../../../../src/nr/wireguard/kernel/types.js';
import { KernelWgError } from '../../../../src/nr/wireguard/kernel/errors.js';
import { RAW_PEER, kernelWgNative } from '../../../../src/nr/wireguard/kernel/native.js';

const FAMILY_ID = 0x1d;

function encode(config: KernelDeviceSet, max = 8192): Buffer[] {
  return kernelWgNative().wgEncodeSetDevice(toRawDeviceSet('wg0', config, []), FAMILY_ID, max);
}

function refusal(config: KernelDeviceSet): KernelWgError {
  try {
    setDevice(null, 'wg0', config);
  } catch (err) {
    if (err instanceof KernelWgError) return err;
    throw err;
  }
  throw new Error('accepted');
}

test('the batch flag bits of TypeScript and of the addon are the same', (t) => {
  t.deepEqual({ ...kernelWgNative().wgPeerBatchFlags }, { ...RAW_PEER });
});

test('any mix of optional peer fields (preshared key set or removed, endpoint v4/v6, keepalive, allowed IPs, flags) decodes onto the right peers', (t) => {
  const peerArb = fc.record(
    {
      psk: fc.constantFrom<'set' | 'none' | 'absent'>('set', 'none', 'absent'),
      endpoint: fc.option(
        fc.oneof(
          fc
            .tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 65535 }))
            .map(([a, p]) => `198.51.100.${a}:${p}`),
          fc
            .tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0, max: 65535 }))
            .map(([a, p]) => `[2001:db8::${a.toString(16)}]:${p}`),
        ),
        { nil: undefined },
      ),
      keepalive: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
      ips: fc.integer({ min: 0, max: 5 }),
      replaceAllowedIps: fc.boolean(),
    },
    { requiredKeys: ['psk', 'ips', 'replaceAllowedIps'] },
  );
  fc.assert(
    fc.property(
      fc.array(peerArb, { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 600, max: 8192 }),
      (specs, max) => {
        const psks = specs.map(() => PresharedKey.fromBytes(randomBytes(32)));
        const peers: KernelPeerSet[] = specs.map((s, i) => ({
          publicKey: randomBytes(32).toString('base64'),
          ...(s.psk === 'set' ? { presharedKey: psks[i]! } : s.psk === 'none' ? { presharedKey: null } : {}),
          ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
          ...(s.keepalive !== undefined ? { persistentKeepalive: s.keepalive } : {}),
          replaceAllowedIps: s.replaceAllowedIps,
          allowedIps: Array.from({ length: s.ips }, (_, j) =>
            j % 2 ? `fd00:1:${(i + 1).toString(16)}::${j}/128` : `10.${i & 255}.${j}.0/24`,
          ),
        }));
        const decoded = decodeDeviceMessages(encode({ peers }, max));
        if (decoded.peers.length !== peers.length) return false;
        return decoded.peers.every((d, i) => {
          const s = specs[i]!;
          const expectedPsk = s.psk === 'set' ? Buffer.from(psks[i]!.bytes()).toString('hex') : null;
          const gotPsk = d.presharedKey ? Buffer.from(d.presharedKey.bytes()).toString('hex') : null;
          return (
            d.publicKey === peers[i]!.publicKey &&
            gotPsk === expectedPsk &&
            d.endpoint === (s.endpoint ?? null) &&
            d.persistentKeepalive === (s.keepalive ?? 0) &&
            d.allowedIps.join() === peers[i]!.allowedIps!.join()
          );
        });
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('a public key is accepted exactly when it is canonical standard base64 of 32 bytes', (t) => {
  t.is(KEY_PATTERN, '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$', 'the pattern this property holds the addon to');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \u0141\u0130';
  const nearKey = fc.oneof(
    // A real key with one character changed somewhere.
    fc
      .tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(43), fc.constantFrom(...alphabet))
      .map(([bytes, at, c]) => {
        const text = Buffer.from(bytes).toString('base64');
        return text.slice(0, at) + c + text.slice(at + 1);
      }),
    fc.string({ unit: fc.constantFrom(...alphabet), minLength: 42, maxLength: 46 }),
  );
  fc.assert(
    fc.property(nearKey, (text) => {
      // Refused input is EINVAL naming the key; accepted input gets as far as the kernel, which
      // on this host has no WireGuard (ENOENT).
      const error = refusal({ peers: [{ publicKey: text }] });
      const refused = error.code === 'EINVAL' && error.context.field === 'peers[0].publicKey';
      return refused === !isKey(text);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('the key bytes sent are the base64 decoding of the text given', (t) => {
  const texts = Array.from({ length: 50 }, () => randomBytes(32).toString('base64'));
  const decoded = decodeDeviceMessages(encode({ peers: texts.map((publicKey) => ({ publicKey })) }));
  t.deepEqual(
    decoded.peers.map((p) => p.publicKey),
    texts,
  );
});

test('text that a lossy conversion would turn valid (non-ASCII, NUL) is refused naming the field, and never the key', (t) => {
  const good = randomBytes(32).toString('base64');
  // U+0141's low byte is 'A', U+0130's is '0': read as Latin-1 these would pass.
  const aliasKey = '\u0141' + good.slice(1);
  const cases: Array<[KernelPeerSet[], string, RegExp]> = [
    [[{ publicKey: good }, { publicKey: aliasKey }], 'peers[1].publicKey', /malformed key/],
    [
      [{ publicKey: good, endpoint: '192.0.2.1:5182\u0130' }],
      'peers[0].endpoint',
      /'192.0.2.1:5182\?': contains a character that is not printable ASCII/,
    ],
    [[{ publicKey: good, endpoint: '192.0.2.1\u0000:1' }], 'peers[0].endpoint', /not printable ASCII/],
    [
      [{ publicKey: good, allowedIps: ['10.0.0.0/8', '1\u0130.0.0.0/8'] }],
      'peers[0].allowedIps[1]',
      /not printable ASCII/,
    ],
    [[{ publicKey: good, allowedIps: ['10.0.0.0/8\u0000'] }], 'peers[0].allowedIps[0]', /not printable ASCII/],
    [[{ publicKey: good, allowedIps: ['10.0.0.0/8 '] }], 'peers[0].allowedIps[0]', /not printable ASCII/],
    [[{ publicKey: good, allowedIps: ['10.0.0.0/8' + '0'.repeat(80)] }], 'peers[0].allowedIps[0]', /too long/],
  ];
  for (const [peers, field, reason] of cases) {
    const error = refusal({ peers });
    t.is(error.code, 'EINVAL', field);
    t.is(error.context.field, field);
    t.true(error.message.includes(field), error.message);
    t.regex(error.message, reason, field);
    t.false(error.message.includes(good.slice(1, 40)), 'no key text in the message');
  }
});

test('an invalid value deep in a 10,000-peer set (parsed in parallel ranges) is refused naming its peer, the first one when there are several', (t) => {
  const peers: KernelPeerSet[] = Array.from({ length: 10_000 }, (_, i) => ({
    publicKey: randomBytes(32).toString('base64'),
    endpoint: `198.51.${i >> 8}.${i & 255}:51820`,
    allowedIps: [`10.${i >> 8}.${i & 255}.0/24`],
  }));
  peers[7321] = { ...peers[7321]!, allowedIps: ['10.28.153.0/24', '10.28.153.0/33'] };
  const error = refusal({ replacePeers: true, peers });
  t.is(error.context.field, 'peers[7321].allowedIps[1]');
  t.regex(error.message, /prefix length must be 0..32/);
  peers[9000] = { ...peers[9000]!, publicKey: peers[9000]!.publicKey.replace(/.=$/, '_=') };
  peers[2500] = { ...peers[2500]!, endpoint: '198.51.9.196' };
  const first = refusal({ replacePeers: true, peers });
  t.is(first.context.field, 'peers[2500].endpoint', 'the lowest of three bad peers in two ranges');
  t.regex(first.message, /must be IPv4:port/);
});
