// Admin signatures over definitions (src/netdef/signature.ts): what is covered, what is refused
// and why. The trust log has its own tests (trust-log.test.ts).
import test from 'ava';
import {
  AdminKey,
  keyLabel,
  parseNetworkDefinition,
  ready,
  signDefinition,
  signTrustChange,
  signedBytes,
  verifyDefinition,
} from '../../../src/netdef/index.js';
import type { NetworkDefinition } from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let admin: AdminKey;
let other: AdminKey;
let def: NetworkDefinition;

test.before(async () => {
  await ready();
  await initKeys();
  admin = AdminKey.generate();
  other = AdminKey.generate();
  def = signDefinition(
    buildNetwork(
      'signed',
      '10.5.0.0/16',
      [makeNode('alpha', false), makeNode('bravo', false), makeNode('hidden', true)],
      'alpha',
    ),
    admin,
  );
});

const mutable = (d: NetworkDefinition): any => JSON.parse(JSON.stringify(d));

test('a signed definition is valid, names its key, and verifies against that key', (t) => {
  t.true(parseNetworkDefinition(def).ok);
  t.is(def.signature?.key, admin.publicKey());
  t.deepEqual(verifyDefinition(def, [admin.publicKey()]), { ok: true, signer: admin.publicKey() });
});

test('the encoding ignores key order and resource order, and excludes only the signature', (t) => {
  const reordered = mutable(def);
  reordered.resources.reverse();
  const shuffled = Object.fromEntries(Object.entries(reordered).reverse());
  t.true(verifyDefinition(shuffled as NetworkDefinition, [admin.publicKey()]).ok);
  t.deepEqual(signedBytes(def), signedBytes({ ...def, signature: undefined } as unknown as NetworkDefinition));
  t.regex(
    new TextDecoder().decode(signedBytes(def)),
    /^zmesh-definition-v1\n\{"aggregator":"alpha","ipRange":"10.5.0.0\/16",/,
  );
});

const tampers: [string, (d: any) => void][] = [
  ['one byte of the range', (d) => (d.ipRange = d.ipRange.replace('10.', '11.'))],
  ['a revision bump', (d) => (d.revision += 1)],
  ['a key swapped', (d) => (d.resources[0].wgPublicKey = d.resources[1].wgPublicKey)],
  ['an endpoint redirected', (d) => (d.resources[0].endpoints = ['203.0.113.66:51820'])],
  ['a peer added', (d) => d.resources.push({ ...d.resources[0], node: 'intruder' })],
  ['a trust change added', (d) => (d.trust = [signTrustChange([], { add: [other.publicKey()], remove: [] }, admin)])],
  [
    'the signature itself',
    (d) =>
      (d.signature.value = `${d.signature.value.slice(0, 10)}${d.signature.value[10] === 'A' ? 'B' : 'A'}${d.signature.value.slice(11)}`),
  ],
];
for (const [what, tamper] of tampers) {
  test(`tampered after signing (${what}): refused as not matching`, (t) => {
    const d = mutable(def);
    tamper(d);
    const check = verifyDefinition(d, [admin.publicKey()]);
    t.false(check.ok);
    if (!check.ok)
      t.is(
        check.reason,
        `the signature by admin key ${keyLabel(admin.publicKey())} does not match the definition (altered after signing?)`,
      );
  });
}

test('unsigned, untrusted signer, and no trusted key at all: each refused with its own reason', (t) => {
  const { signature: _s, ...unsigned } = mutable(def);
  t.deepEqual(verifyDefinition(unsigned, [admin.publicKey()]), {
    ok: false,
    reason: 'the definition is not signed (sign it with zmesh --admin-key FILE)',
  });
  const byOther = signDefinition(def, other);
  t.deepEqual(verifyDefinition(byOther, [admin.publicKey()]), {
    ok: false,
    reason: `signed by admin key ${keyLabel(other.publicKey())}, which this node does not trust`,
  });
  t.deepEqual(verifyDefinition(def, []), {
    ok: false,
    reason: 'this node trusts no admin key, so it accepts no definition (zmesh node trust add KEY)',
  });
});

test('an admin key never prints its secret', (t) => {
  t.is(String(admin), '[AdminKey redacted]');
  t.is(JSON.stringify({ admin }), '{"admin":"[AdminKey redacted]"}');
  t.is(AdminKey.fromBase64(admin.revealBase64()).publicKey(), admin.publicKey());
  t.throws(() => AdminKey.fromBase64('not a key'), { message: /malformed admin key/ });
});
