// The via NR's enrolment decision (src/netdef/enrolment.ts): what a request may say (bad input is
// refused naming the field), which invitation its source address names, and the refusals a
// redeemed, expired, revoked or foreign request gets — the definition unchanged every time; then
// the definition the via node runs with its own recorded redemption.
import test from 'ava';
import {
  InvitationError,
  type NetworkDefinition,
  type Redemption,
  decideEnrolment,
  generateKeyPair,
  invite,
  parseEnrolmentRequest,
  parseInvitation,
  resourceFor,
  revokeExternalPeer,
  withRedemptions,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

const NOW = new Date('2026-12-07T00:00:00Z');
const EXPIRES = new Date('2026-12-08T00:00:00Z');
let def: NetworkDefinition;
let inviteKey = '';

test.before(async () => {
  await initKeys();
  const base = buildNetwork('enrol', '10.1.0.0/16', [
    makeNode('a', false, '198.51.100.11'),
    makeNode('b', false, '198.51.100.12'),
  ]);
  const made = invite(base, { name: 'laptop', via: 'b', address: '10.1.9.9', expires: EXPIRES });
  def = made.def;
  inviteKey = parseInvitation(made.invitation).inviteKey;
});

test('parseEnrolmentRequest accepts exactly { publicKey } and names the field of anything else', (t) => {
  const key = generateKeyPair().publicKey;
  t.deepEqual(parseEnrolmentRequest({ publicKey: key }), { publicKey: key });
  const cases: [unknown, string, RegExp][] = [
    [null, '/', /must be a JSON object/],
    [[key], '/', /must be a JSON object/],
    ['text', '/', /must be a JSON object/],
    [{}, '/publicKey', /must be a WireGuard public key/],
    [{ publicKey: 42 }, '/publicKey', /must be a WireGuard public key/],
    [{ publicKey: 'not base64 at all' }, '/publicKey', /must be a WireGuard public key/],
    [{ publicKey: `${key}A` }, '/publicKey', /must be a WireGuard public key/],
    [{ publicKey: key, privateKey: key }, '/privateKey', /unknown field/],
    [{ publicKey: key, name: 'someone-else' }, '/name', /unknown field/],
  ];
  for (const [body, path, message] of cases) {
    const error = t.throws(() => parseEnrolmentRequest(body), { instanceOf: InvitationError }, JSON.stringify(body));
    t.is(error.path, path);
    t.regex(error.message, message);
  }
});

test('the source address names the invitation; redeemed, expired, revoked, foreign and reused keys are refused', (t) => {
  const before = JSON.stringify(def);
  const fresh = generateKeyPair().publicKey;
  const ok = decideEnrolment(def, 'b', '10.1.9.9', { publicKey: fresh }, NOW);
  t.true(ok.ok);
  if (ok.ok)
    t.deepEqual(ok.redemption, {
      network: 'enrol',
      name: 'laptop',
      inviteKey,
      publicKey: fresh,
      redeemedAt: NOW.toISOString(),
    });
  const refusal = (d: ReturnType<typeof decideEnrolment>) => (d.ok ? null : d.refusal);
  t.like(refusal(decideEnrolment(def, 'b', '10.1.9.8', { publicKey: fresh }, NOW)), {
    code: 'ENOINVITE',
    status: 404,
  });
  t.like(refusal(decideEnrolment(def, 'a', '10.1.9.9', { publicKey: fresh }, NOW)), { code: 'ENOINVITE' });
  t.like(refusal(decideEnrolment(revokeExternalPeer(def, 'laptop'), 'b', '10.1.9.9', { publicKey: fresh }, NOW)), {
    code: 'ENOINVITE',
    message: 'no invitation for 10.1.9.9 through b in network "enrol" (revoked?)',
  });
  t.like(refusal(decideEnrolment(def, 'b', '10.1.9.9', { publicKey: fresh }, EXPIRES)), {
    code: 'EEXPIRED',
    status: 410,
    message: 'the invitation for "laptop" expired at 2026-12-08T00:00:00.000Z',
  });
  for (const reused of [inviteKey, def.resources[0]!.wgPublicKey])
    t.like(refusal(decideEnrolment(def, 'b', '10.1.9.9', { publicKey: reused }, NOW)), { code: 'EKEY', status: 400 });
  const redemption = (ok as { redemption: Redemption }).redemption;
  const running = withRedemptions(def, 'b', [redemption]);
  t.like(refusal(decideEnrolment(running, 'b', '10.1.9.9', { publicKey: generateKeyPair().publicKey }, NOW)), {
    code: 'EREDEEMED',
    status: 409,
    message: 'the invitation for "laptop" was already redeemed (an invitation is good for one redemption)',
  });
  t.is(JSON.stringify(def), before);
});

test('withRedemptions: the via node runs its own recorded key at once; others and stale records change nothing', (t) => {
  const fresh = generateKeyPair().publicKey;
  const redemption: Redemption = {
    network: 'enrol',
    name: 'laptop',
    inviteKey,
    publicKey: fresh,
    redeemedAt: NOW.toISOString(),
  };
  const running = withRedemptions(def, 'b', [redemption]);
  t.is(running.revision, def.revision, 'not a new revision: the admin signs that');
  const peers = resourceFor(running, 'b').peers;
  t.deepEqual(peers.find((p) => p.node === 'external:laptop')?.allowedIps, ['10.1.9.9/32']);
  t.is(peers.find((p) => p.node === 'external:laptop')?.publicKey, fresh);
  t.deepEqual(peers.find((p) => p.node === 'invitation:laptop')?.allowedIps, [], 'the temporary key reaches nothing');
  t.is(withRedemptions(def, 'a', [redemption]), def, 'only the via node applies it');
  t.is(withRedemptions(def, 'b', [{ ...redemption, inviteKey: fresh }]), def, 'a re-issued invitation is not matched');
  t.is(withRedemptions(def, 'b', [{ ...redemption, network: 'x' }]), def);
  t.is(withRedemptions(revokeExternalPeer(def, 'laptop'), 'b', [redemption]).externalPeers, undefined);
});
