// The UAPI text: request parsing (every malformed line class and its errno), get formatting in
// wireguard-go's order, round trips, and IP canonicalisation.
import test from 'ava';
import fc from 'fast-check';
import sodium from 'libsodium-wrappers';
import { EMPTY_DEVICE_CONFIG, applySet, type DeviceConfig } from '../../../src/wg/config.js';
import { ConfigOnlyDevice, deriveX25519PublicKey } from '../../../src/wg/uapi/config-only-device.js';
import { UapiError, type UapiErrorCode } from '../../../src/wg/uapi/errors.js';
import { formatGetResponse, formatSetRequest } from '../../../src/wg/uapi/format.js';
import { AllowedIp, UapiEndpoint, formatIp, parseIp } from '../../../src/wg/uapi/ip.js';
import { PrivateKey } from '../../../src/netdef/index.js';
import { parseGetResponse, parseRequest, parseSetLines } from '../../../src/wg/uapi/parse.js';
import { viewFromConfig } from '../../../src/wg/uapi/view.js';

await sodium.ready;

const hex = (byte: number): string => Buffer.alloc(32, byte).toString('hex');
const PRIV = `40${'41'.repeat(31)}`; // already clamped, so it reads back unchanged
const PUB_A = hex(0xa1);
const PUB_B = hex(0xb2);
const PSK = hex(0x5c);

const VALID_LINES = [
  `private_key=${PRIV}`,
  'listen_port=51820',
  'fwmark=4660',
  'replace_peers=true',
  `public_key=${PUB_A}`,
  `preshared_key=${PSK}`,
  'endpoint=192.0.2.7:51820',
  'persistent_keepalive_interval=25',
  'replace_allowed_ips=true',
  'allowed_ip=10.1.0.0/24',
  'allowed_ip=fd00:1::/64',
  'protocol_version=1',
  `public_key=${PUB_B}`,
  'update_only=true',
  'endpoint=[2001:db8::9]:443',
  'allowed_ip=10.2.0.0/24',
  `public_key=${hex(0xc3)}`,
  'remove=true',
];

function applied(lines: string[]): DeviceConfig {
  return applySet(EMPTY_DEVICE_CONFIG, parseSetLines(lines), deriveX25519PublicKey).config;
}

test('a set request survives format then parse unchanged (wire text is stable)', (t) => {
  const text = ['set=1', ...VALID_LINES, '', ''].join('\n');
  const parsed = parseRequest(text);
  if (parsed.op !== 'set') return t.fail('expected a set request');
  t.is(formatSetRequest(parsed.request), text);
});

test('the get answer has wireguard-go order and spelling, and parses back to the same view', (t) => {
  const config = applied([
    `private_key=${PRIV}`,
    'listen_port=51820',
    'fwmark=4660',
    `public_key=${PUB_A}`,
    `preshared_key=${PSK}`,
    'endpoint=192.0.2.7:51820',
    'persistent_keepalive_interval=25',
    'allowed_ip=10.1.0.9/24',
    'allowed_ip=fd00:1::1/64',
    `public_key=${PUB_B}`,
  ]);
  const clamped = PrivateKey.fromHexOrClear(`47${PRIV.slice(2)}`)!.secretHex();
  t.is(clamped, PRIV);
  const text = formatGetResponse(
    viewFromConfig(config, {
      peer: (h) =>
        h === PUB_A ? { lastHandshake: { sec: 1700000000, nsec: 5 }, txBytes: 148n, rxBytes: 92n } : undefined,
    }),
  );
  t.is(
    text,
    [
      `private_key=${clamped}`,
      'listen_port=51820',
      'fwmark=4660',
      `public_key=${PUB_A}`,
      `preshared_key=${PSK}`,
      'protocol_version=1',
      'endpoint=192.0.2.7:51820',
      'last_handshake_time_sec=1700000000',
      'last_handshake_time_nsec=5',
      'tx_bytes=148',
      'rx_bytes=92',
      'persistent_keepalive_interval=25',
      'allowed_ip=10.1.0.0/24',
      'allowed_ip=fd00:1::/64',
      `public_key=${PUB_B}`,
      `preshared_key=${'0'.repeat(64)}`,
      'protocol_version=1',
      'last_handshake_time_sec=0',
      'last_handshake_time_nsec=0',
      'tx_bytes=0',
      'rx_bytes=0',
      'persistent_keepalive_interval=0',
      'errno=0',
      '',
      '',
    ].join('\n'),
  );
  const reparsed = parseGetResponse(text.split('\n').slice(0, -3));
  t.is(formatGetResponse(reparsed), text);
});

test('an empty device answers only errno=0 (no private key, port 0 and fwmark 0 are omitted)', (t) => {
  t.is(formatGetResponse(viewFromConfig(EMPTY_DEVICE_CONFIG)), 'errno=0\n\n');
});

const MALFORMED: [string, string[], UapiErrorCode, number, string?][] = [
  ['an unknown key', ['listen_port=1', 'listen_prot=2'], 'EINVAL', 3, 'listen_prot'],
  ['a line without =', ['listen_port=1', 'listen_port'], 'EPROTO', 3],
  ['a key of 63 hex characters', [`public_key=${PUB_A.slice(1)}`], 'EINVAL', 2, 'public_key'],
  ['a key with a non-hex character', [`private_key=${PRIV.slice(1)}g`], 'EINVAL', 2, 'private_key'],
  [
    'a base64 key where hex is required',
    [`public_key=${Buffer.alloc(32, 1).toString('base64')}`],
    'EINVAL',
    2,
    'public_key',
  ],
  ['a port above 65535', ['listen_port=65536'], 'EINVAL', 2, 'listen_port'],
  ['a negative port', ['listen_port=-1'], 'EINVAL', 2, 'listen_port'],
  ['a port with a sign', ['listen_port=+5'], 'EINVAL', 2, 'listen_port'],
  ['an empty port', ['listen_port='], 'EINVAL', 2, 'listen_port'],
  ['an fwmark above 2^32-1', ['fwmark=4294967296'], 'EINVAL', 2, 'fwmark'],
  ['a CIDR without a length', [`public_key=${PUB_A}`, 'allowed_ip=10.0.0.0'], 'EINVAL', 3, 'allowed_ip'],
  ['an IPv4 CIDR longer than 32', [`public_key=${PUB_A}`, 'allowed_ip=10.0.0.0/33'], 'EINVAL', 3, 'allowed_ip'],
  ['an IPv6 CIDR longer than 128', [`public_key=${PUB_A}`, 'allowed_ip=fd00::/129'], 'EINVAL', 3, 'allowed_ip'],
  ['an octet above 255', [`public_key=${PUB_A}`, 'allowed_ip=10.0.0.256/32'], 'EINVAL', 3, 'allowed_ip'],
  ['an IPv4 octet with a leading zero', [`public_key=${PUB_A}`, 'allowed_ip=10.0.0.01/32'], 'EINVAL', 3, 'allowed_ip'],
  ['a CIDR length with a leading zero', [`public_key=${PUB_A}`, 'allowed_ip=10.0.0.0/024'], 'EINVAL', 3, 'allowed_ip'],
  ['a host name endpoint', [`public_key=${PUB_A}`, 'endpoint=example.com:51820'], 'EINVAL', 3, 'endpoint'],
  ['an IPv6 endpoint without brackets', [`public_key=${PUB_A}`, 'endpoint=2001:db8::1:51820'], 'EINVAL', 3, 'endpoint'],
  ['an endpoint without a port', [`public_key=${PUB_A}`, 'endpoint=192.0.2.1'], 'EINVAL', 3, 'endpoint'],
  ['an endpoint with a zone', [`public_key=${PUB_A}`, 'endpoint=[fe80::1%eth0]:1'], 'EINVAL', 3, 'endpoint'],
  ['an endpoint port above 65535', [`public_key=${PUB_A}`, 'endpoint=192.0.2.1:70000'], 'EINVAL', 3, 'endpoint'],
  ['TRUE instead of true', ['replace_peers=TRUE'], 'EINVAL', 2, 'replace_peers'],
  ['remove=false', [`public_key=${PUB_A}`, 'remove=false'], 'EINVAL', 3, 'remove'],
  ['update_only=1', [`public_key=${PUB_A}`, 'update_only=1'], 'EINVAL', 3, 'update_only'],
  ['protocol_version=2', [`public_key=${PUB_A}`, 'protocol_version=2'], 'EINVAL', 3, 'protocol_version'],
  [
    'a keepalive above 65535',
    [`public_key=${PUB_A}`, 'persistent_keepalive_interval=65536'],
    'EINVAL',
    3,
    'persistent_keepalive_interval',
  ],
  ['an endpoint before any public_key', ['endpoint=192.0.2.1:1'], 'EINVAL', 2, 'endpoint'],
  ['an allowed_ip before any public_key', ['allowed_ip=10.0.0.0/8'], 'EINVAL', 2, 'allowed_ip'],
  ['a device key after a public_key', [`public_key=${PUB_A}`, 'listen_port=1'], 'EINVAL', 3, 'listen_port'],
  ['a value with a trailing carriage return', ['listen_port=1\r'], 'EINVAL', 2, 'listen_port'],
];

for (const [what, lines, code, line, key] of MALFORMED) {
  test(`${what} is ${code} naming line ${line}${key ? ` and ${key}` : ''}, and the device stays unchanged`, async (t) => {
    const device = await ConfigOnlyDevice.create(applied([`public_key=${PUB_B}`, 'allowed_ip=10.9.0.0/16']));
    const before = device.config;
    // Valid lines before and after the bad one must not be applied either.
    const text = ['set=1', 'listen_port=4242', ...lines, ''].join('\n') + '\n';
    const err = t.throws(
      () => {
        const parsed = parseRequest(text);
        if (parsed.op === 'set') device.set(parsed.request);
      },
      { instanceOf: UapiError },
    );
    t.is(err!.code, code);
    t.is(err!.context.line, line + 1);
    if (key) t.is(err!.context.key, key);
    t.regex(err!.message, new RegExp(`^line ${line + 1}: `));
    t.is(device.config, before);
  });
}

test('errors about keys never echo the key material', (t) => {
  const secret = PRIV.slice(0, 63);
  const err = t.throws(() => parseSetLines([`private_key=${secret}`]), { instanceOf: UapiError });
  t.false(err!.message.includes(secret));
  t.false(err!.message.includes(secret.slice(0, 16)));
});

test('uppercase hex keys are accepted and read back in lowercase', (t) => {
  const request = parseSetLines([`public_key=${'AB'.repeat(32)}`]);
  t.is(request.peers[0]!.publicKey.hex, 'ab'.repeat(32));
});

test('get=1 followed by a line before the blank line is EINVAL; an unknown operation is EINVAL', (t) => {
  t.is(t.throws(() => parseRequest('get=1\nlisten_port=1\n\n'), { instanceOf: UapiError })!.code, 'EINVAL');
  t.is(t.throws(() => parseRequest('put=1\n\n'), { instanceOf: UapiError })!.code, 'EINVAL');
  t.is(t.throws(() => parseRequest('hello\n\n'), { instanceOf: UapiError })!.code, 'EPROTO');
});

test('secret keys stay out of a parsed configuration printed as JSON', (t) => {
  t.false(
    JSON.stringify(
      applied([`private_key=${PRIV}`, `public_key=${PUB_A}`, `preshared_key=${PSK}`]).peers.get(PUB_A),
    ).includes(PSK),
  );
});

test('allowed IPs are canonicalised: host bits cleared, IPv6 in RFC 5952 form', (t) => {
  const cases: [string, string][] = [
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['10.1.2.3/32', '10.1.2.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/0', '0.0.0.0/0'],
    ['192.168.7.255/23', '192.168.6.0/23'],
    ['FD00:0:0:0:0:0:0:1/64', 'fd00::/64'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:db8:0:1:1:1:1:1/128', '2001:db8:0:1:1:1:1:1/128'],
    ['::ffff:10.1.2.3/128', '::ffff:10.1.2.3/128'],
    ['::/0', '::/0'],
    ['fd12:3456:789a:1::7/60', 'fd12:3456:789a::/60'],
  ];
  for (const [input, canonical] of cases) t.is(AllowedIp.parse(input).text, canonical, input);
  t.is(UapiEndpoint.parse('[2001:DB8:0::1]:51820').text, '[2001:db8::1]:51820');
});

test('IPv6 text: random addresses round-trip and match the WHATWG URL serialiser', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 8 }), (raw, zeros) => {
      const bytes = new Uint8Array(raw);
      bytes.fill(0, 2 * (8 - zeros), 16 - 2 * Math.max(0, zeros - 4)); // make zero runs common
      const text = formatIp(bytes);
      t.deepEqual(parseIp(text, {}), bytes);
      const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
      if (!mapped) t.is(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
    }),
    { numRuns: 500 },
  );
});

test('malformed IPv6 addresses are refused', (t) => {
  for (const bad of [
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    ':1::',
    '1:2:3:4:5:6:7:8::',
    '1.2.3.4::',
    '::1.2.3',
    'g::1',
    '1:2:3:4:5:6:7',
  ]) {
    t.throws(() => parseIp(bad, {}), { instanceOf: UapiError }, bad);
  }
});

// Random mutations of a valid request: the parser only ever throws UapiError, and a request
// either applies whole or leaves the device exactly as it was.
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete-char' as const), line: fc.nat(), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert-char' as const),
    line: fc.nat(),
    at: fc.nat(),
    char: fc.constantFrom('=', ':', '/', 'x', 'G', '0', '9', ' ', '[', ']', '.', '-', '\r', 'é'),
  }),
  fc.record({ kind: fc.constant('swap-lines' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate-line' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('drop-line' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('truncate-value' as const), line: fc.nat(), at: fc.nat() }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(lines: string[], m: Mutation): string[] {
  const out = [...lines];
  const i = m.line % out.length;
  const line = out[i]!;
  switch (m.kind) {
    case 'delete-char': {
      const at = m.at % Math.max(1, line.length);
      out[i] = line.slice(0, at) + line.slice(at + 1);
      break;
    }
    case 'insert-char': {
      const at = m.at % (line.length + 1);
      out[i] = line.slice(0, at) + m.char + line.slice(at);
      break;
    }
    case 'swap-lines': {
      const j = m.other % out.length;
      [out[i], out[j]] = [out[j]!, line];
      break;
    }
    case 'duplicate-line':
      out.splice(i, 0, line);
      break;
    case 'drop-line':
      out.splice(i, 1);
      break;
    case 'truncate-value': {
      const eq = line.indexOf('=');
      out[i] = line.slice(0, eq + 1 + (m.at % Math.max(1, line.length - eq)));
      break;
    }
  }
  return out.filter((l) => l !== '');
}

test('random mutations of a valid request never throw anything but UapiError and never partly apply', async (t) => {
  const device = await ConfigOnlyDevice.create(
    applied([`public_key=${PUB_B}`, 'allowed_ip=10.9.0.0/16', `public_key=${hex(0xd4)}`, 'allowed_ip=10.1.0.0/24']),
  );
  let rejected = 0;
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
      const lines = mutations.reduce(mutate, VALID_LINES);
      const before = device.config;
      const beforeText = formatGetResponse(device.get());
      let request;
      try {
        const parsed = parseRequest(['set=1', ...lines, '', ''].join('\n'));
        if (parsed.op !== 'set') throw new Error('not a set');
        request = parsed.request;
        device.set(request);
      } catch (err) {
        if (!(err instanceof UapiError)) throw err;
        rejected++;
        // Not one line applied: the same configuration object, the same answer to get.
        t.is(device.config, before);
        t.is(formatGetResponse(device.get()), beforeText);
        return;
      }
      accepted++;
      // Accepted: the device holds exactly what applySet computes from the prior state.
      t.is(
        formatGetResponse(device.get()),
        formatGetResponse(viewFromConfig(applySet(before, request, deriveX25519PublicKey).config)),
      );
    }),
    { numRuns: 400 },
  );
  t.log(`${accepted} mutated requests applied whole, ${rejected} rejected whole`);
  t.true(rejected > 50 && accepted > 50);
});

test('a key line that lost its = or its key name is not echoed in the error', (t) => {
  const secret = PSK;
  for (const line of [`preshared_key${secret}`, `${secret}=1`]) {
    const err = t.throws(() => parseSetLines([`public_key=${PUB_A}`, line]), { instanceOf: UapiError });
    t.false(err!.message.includes(secret.slice(0, 12)), err!.message);
  }
});
