import test from 'ava';
import {
  NetdefValidationError,
  type ValidationIssue,
  assertNetworkDefinition,
  parseNetworkDefinition,
  parseNodeRecord,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

type Json = Record<string, any>;
let base: Json;
let keys: { identity: string; other: string };

test.before(async () => {
  await initKeys();
  const nodes = [
    makeNode('alpha', false, '198.51.100.11'),
    makeNode('bravo', false, '198.51.100.12'),
    makeNode('h1', true),
    makeNode('h2', true),
  ];
  base = JSON.parse(JSON.stringify(buildNetwork('demo', '10.1.0.0/16', nodes, 'alpha')));
  keys = { identity: nodes[0]!.record.identityKey, other: makeNode('x', true).record.identityKey };
});

function variant(change: (def: Json) => void): Json {
  const copy = structuredClone(base);
  change(copy);
  return copy;
}

function errorsOf(input: unknown): ValidationIssue[] {
  const result = parseNetworkDefinition(input);
  if (result.ok) throw new Error('expected the definition to be rejected');
  return result.errors;
}

test('a definition built by the allocation verbs parses and keeps its content', (t) => {
  const result = parseNetworkDefinition(structuredClone(base));
  t.true(result.ok);
  if (result.ok) t.deepEqual(JSON.parse(JSON.stringify(result.value)), base);
});

// Each rejection reason: the mutation, the JSON path and (part of) the message it must report.
const rejections: Array<[string, (def: Json) => void, string, RegExp]> = [
  [
    'subnet outside ipRange',
    (d) => (d.resources[2].subnet = '10.2.0.0/24'),
    '/resources/2/subnet',
    /^subnet 10\.2\.0\.0\/24 is outside ipRange 10\.1\.0\.0\/16$/,
  ],
  [
    'overlapping subnets',
    (d) => (d.resources[3].subnet = '10.1.0.0/24'),
    '/resources/3/subnet',
    /^subnet 10\.1\.0\.0\/24 overlaps \/resources\/0 \(node alpha\)$/,
  ],
  ['subnet that is not a /24', (d) => (d.resources[1].subnet = '10.1.4.0/23'), '/resources/1/subnet', /must be a \/24/],
  [
    'subnet with host bits set',
    (d) => (d.resources[1].subnet = '10.1.4.7/24'),
    '/resources/1/subnet',
    /not a network address/,
  ],
  [
    'subnet mapping to the broadcast WireGuard address',
    (d) => {
      d.ipRange = '10.0.0.0/8';
      d.resources[1].subnet = '10.255.255.0/24';
    },
    '/resources/1/subnet',
    /100\.64\.255\.255, the broadcast address/,
  ],
  [
    'malformed CIDR',
    (d) => (d.resources[0].subnet = '10.1.0.0/33'),
    '/resources/0/subnet',
    /^malformed CIDR "10\.1\.0\.0\/33"/,
  ],
  [
    'ipRange with host bits set',
    (d) => (d.ipRange = '10.1.0.1/16'),
    '/ipRange',
    /not a network address .*did you mean 10\.1\.0\.0\/16\?/,
  ],
  ['ipRange overlapping CGNAT', (d) => (d.ipRange = '100.64.0.0/16'), '/ipRange', /overlaps 100\.64\.0\.0\/10 \(CGNAT/],
  [
    'ipRange overlapping loopback',
    (d) => (d.ipRange = '127.0.0.0/16'),
    '/ipRange',
    /overlaps 127\.0\.0\.0\/8 \(loopback\)/,
  ],
  [
    'ipRange overlapping link-local',
    (d) => (d.ipRange = '169.254.0.0/16'),
    '/ipRange',
    /overlaps 169\.254\.0\.0\/16 \(link-local\)/,
  ],
  [
    'ipRange overlapping multicast',
    (d) => (d.ipRange = '224.1.0.0/16'),
    '/ipRange',
    /overlaps 224\.0\.0\.0\/4 \(multicast\)/,
  ],
  ['ipRange overlapping 0.0.0.0/8', (d) => (d.ipRange = '0.1.0.0/16'), '/ipRange', /overlaps 0\.0\.0\.0\/8/],
  [
    'ipRange overlapping 240.0.0.0/4',
    (d) => (d.ipRange = '250.0.0.0/16'),
    '/ipRange',
    /overlaps 240\.0\.0\.0\/4 \(reserved\)/,
  ],
  [
    'ipRange wider than /8',
    (d) => (d.ipRange = '10.0.0.0/7'),
    '/ipRange',
    /wider than \/8: two of its \/24s would get the same WireGuard address/,
  ],
  ['ipRange narrower than /24', (d) => (d.ipRange = '10.1.0.0/25'), '/ipRange', /narrower than \/24/],
  [
    'duplicate node id',
    (d) => (d.resources[1].node = 'alpha'),
    '/resources/1/node',
    /^duplicate node "alpha" \(also \/resources\/0 \(node alpha\)\)$/,
  ],
  [
    'duplicate wgPublicKey',
    (d) => (d.resources[3].wgPublicKey = d.resources[2].wgPublicKey),
    '/resources/3/wgPublicKey',
    /^duplicate wgPublicKey \(also \/resources\/2 \(node h1\)\)$/,
  ],
  [
    'duplicate identityKey',
    (d) => (d.resources[1].identityKey = d.resources[0].identityKey),
    '/resources/1/identityKey',
    /^duplicate identityKey \(also \/resources\/0 \(node alpha\)\)/,
  ],
  [
    'port clash',
    (d) => (d.resources[2].listenPort = d.resources[0].listenPort),
    '/resources/2/listenPort',
    /^port clash: listenPort \d+ is also used by \/resources\/0 \(node alpha\)$/,
  ],
  [
    'port out of range',
    (d) => (d.resources[0].listenPort = 70000),
    '/resources/0/listenPort',
    /^70000 is outside 1-65535$/,
  ],
  ['port zero', (d) => (d.resources[0].listenPort = 0), '/resources/0/listenPort', /^0 is outside 1-65535$/],
  [
    'malformed public key',
    (d) => (d.resources[0].wgPublicKey = 'not-a-key'),
    '/resources/0/wgPublicKey',
    /^malformed key: expected .*base64 of 32 bytes/,
  ],
  [
    'malformed identity key',
    (d) => (d.resources[0].identityKey = `${keys.identity.slice(0, 42)}x=`),
    '/resources/0/identityKey',
    /^malformed key: /,
  ],
  [
    'malformed sealed key',
    (d) => (d.resources[0].wgPrivateKeySealed = keys.identity),
    '/resources/0/wgPrivateKeySealed',
    /^malformed sealed key: /,
  ],
  [
    'endpoint without port',
    (d) => (d.resources[0].endpoints = ['198.51.100.11']),
    '/resources/0/endpoints/0',
    /^malformed endpoint "198\.51\.100\.11": port is missing/,
  ],
  [
    'bare IPv6 endpoint',
    (d) => (d.resources[0].endpoints = ['2001:db8::1:51820']),
    '/resources/0/endpoints/0',
    /must be written in brackets/,
  ],
  [
    'endpoint with a bad host name',
    (d) => (d.resources[0].endpoints = ['bad_host.example:51820']),
    '/resources/0/endpoints/0',
    /not an IPv4 address, \[IPv6\] address or host name/,
  ],
  [
    'endpoint with a bad IPv4 address',
    (d) => (d.resources[0].endpoints = ['198.51.100.300:51820']),
    '/resources/0/endpoints/0',
    /looks like an IPv4 address/,
  ],
  [
    'endpoint with a bad port',
    (d) => (d.resources[0].endpoints = ['198.51.100.1:65536']),
    '/resources/0/endpoints/0',
    /port 65536 is outside 1-65535/,
  ],
  [
    'public NR without endpoint',
    (d) => (d.resources[1].endpoints = []),
    '/resources/1/endpoints',
    /^public NR "bravo" needs at least one endpoint/,
  ],
  [
    'hidden aggregator',
    (d) => (d.aggregator = 'h1'),
    '/aggregator',
    /^aggregator "h1" is hidden: an aggregator must be a public NR$/,
  ],
  [
    'aggregator that is not a member',
    (d) => (d.aggregator = 'zulu'),
    '/aggregator',
    /^aggregator "zulu" is not a member of the network$/,
  ],
  [
    'no aggregator while NRs are hidden',
    (d) => delete d.aggregator,
    '/aggregator',
    /^required while NRs are hidden \(h1, h2\)/,
  ],
  [
    'aggregator without an endpoint',
    (d) => (d.resources[0].endpoints = []),
    '/aggregator',
    /^aggregator "alpha" has no endpoint/,
  ],
  ['hidden exit', (d) => (d.exit = 'h2'), '/exit', /^exit "h2" is hidden: a hidden exit is refused/],
  ['exit that is not a member', (d) => (d.exit = 'zulu'), '/exit', /^exit "zulu" is not a member of the network$/],
  ['unknown top-level field', (d) => (d.owner = 'me'), '/owner', /^unknown field "owner"$/],
  ['unknown resource field', (d) => (d.resources[2].mtu = 1400), '/resources/2/mtu', /^unknown field "mtu"$/],
  ['missing field', (d) => delete d.resources[1].subnet, '/resources/1/subnet', /^required field "subnet" is missing$/],
  ['negative revision', (d) => (d.revision = -1), '/revision', /^-1 is outside 0-9007199254740991$/],
  ['fractional revision', (d) => (d.revision = 1.5), '/revision', /^expected an integer, got 1\.5$/],
  ['revision given as a string', (d) => (d.revision = '7'), '/revision', /^expected an integer, got a string$/],
  ['unsupported version', (d) => (d.version = 2), '/version', /^unsupported value 2: expected 1$/],
  ['malformed network name', (d) => (d.name = 'has space'), '/name', /^malformed network name "has space"/],
  [
    'malformed node id',
    (d) => (d.resources[0].node = 'Alpha'),
    '/resources/0/node',
    /^malformed node id "Alpha": expected 1-32 characters/,
  ],
  [
    'hidden flag of the wrong type',
    (d) => (d.resources[0].hidden = 'no'),
    '/resources/0/hidden',
    /^expected true or false, got a string$/,
  ],
];

for (const [reason, mutate, path, message] of rejections) {
  test(`rejects ${reason} at ${path} with the reason`, (t) => {
    const errors = errorsOf(variant(mutate));
    const issue = errors.find((e) => e.path === path && message.test(e.message));
    t.truthy(issue, `expected ${path} ~ ${message}, got ${JSON.stringify(errors)}`);
  });
}

test('every problem of a definition is reported, not just the first', (t) => {
  const errors = errorsOf(
    variant((d) => {
      d.resources[0].listenPort = d.resources[1].listenPort;
      d.resources[2].subnet = '10.9.0.0/24';
      d.exit = 'nobody';
    }),
  );
  t.deepEqual(errors.map((e) => e.path).sort(), ['/exit', '/resources/1/listenPort', '/resources/2/subnet']);
});

test('key values are never repeated in error messages', (t) => {
  const privateLike = `${keys.other.slice(0, 43)}`; // 43 chars: malformed
  const errors = errorsOf(variant((d) => (d.resources[0].wgPublicKey = privateLike)));
  t.false(JSON.stringify(errors).includes(privateLike));
});

test('non-objects are rejected at the root path', (t) => {
  for (const input of [null, 42, 'text', [], undefined]) {
    t.deepEqual(
      errorsOf(input).map((e) => e.path),
      [''],
    );
  }
});

test('assertNetworkDefinition throws NetdefValidationError with code ENETDEF and all issues', (t) => {
  const error = t.throws(() => assertNetworkDefinition(variant((d) => (d.aggregator = 'h1'))), {
    instanceOf: NetdefValidationError,
  });
  t.is(error?.code, 'ENETDEF');
  t.is(error?.issues[0]?.path, '/aggregator');
  t.regex(error?.message ?? '', /\/aggregator: aggregator "h1" is hidden/);
});

test('node records: endpoints without port, [IPv6] and host names are accepted', (t) => {
  const result = parseNodeRecord({
    id: 'n-1',
    identityKey: keys.identity,
    endpoints: ['198.51.100.1', '[2001:DB8::1]:51820', 'Node.Example.com'],
    hidden: false,
  });
  t.true(result.ok);
});

test('node records: a public node without endpoint, a bad id and a bad endpoint are each reported', (t) => {
  const noEndpoint = parseNodeRecord({ id: 'n1', identityKey: keys.identity, endpoints: [], hidden: false });
  t.deepEqual(noEndpoint.ok ? [] : noEndpoint.errors, [
    { path: '/endpoints', message: 'a public node needs at least one endpoint (or hidden: true)' },
  ]);
  const badId = parseNodeRecord({ id: 'x'.repeat(33), identityKey: keys.identity, endpoints: [], hidden: true });
  t.is(badId.ok ? '' : badId.errors[0]?.path, '/id');
  const badEndpoint = parseNodeRecord({ id: 'n1', identityKey: keys.identity, endpoints: ['[::1'], hidden: false });
  t.deepEqual(badEndpoint.ok ? [] : badEndpoint.errors, [
    { path: '/endpoints/0', message: 'malformed endpoint "[::1": IPv6 address is missing its closing "]"' },
  ]);
});
