// Invitations for external peers (src/netdef/invitations.ts, external-peers.ts): the definition
// stores only the temporary key's public half, which the via NR peers with for the peer's /32
// (enrolment only); the via node's report of the permanent key is recorded once; second, expired,
// re-issued, revoked and foreign reports are refused with nothing changed; a redeemed peer is a
// WireGuard peer of its via NR and routed there by the other NRs.
import test from 'ava';
import {
  ENROLMENT_PORT,
  type Invitation,
  InvitationError,
  type KeyPair,
  type NetworkDefinition,
  acceptRedemption,
  foldRedemptions,
  parseRedemption,
  formatRedemption,
  generateKeyPair,
  invite,
  parseInvitation,
  parseNetworkDefinition,
  resourceFor,
  revokeExternalPeer,
  temporaryKeyOf,
  wgQuickConfig,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let base: NetworkDefinition;
const NOW = new Date('2026-12-07T00:00:00Z');
const LATER = new Date('2026-12-08T00:00:00Z');

test.before(async () => {
  await initKeys();
  // a 10.1.0.0/24, b 10.1.1.0/24 (public), h 10.1.2.0/24 (hidden, aggregator a)
  base = buildNetwork(
    'inv',
    '10.1.0.0/16',
    [makeNode('a', false, '198.51.100.11'), makeNode('b', false, '198.51.100.12'), makeNode('h', true)],
    'a',
  );
});

/** What the via node reports for `invitation` redeemed with `keyPair` at `at`. */
function reported(invitation: Invitation, keyPair: KeyPair, at: Date): string {
  return formatRedemption({
    network: invitation.network,
    name: invitation.name,
    inviteKey: invitation.inviteKey,
    publicKey: keyPair.publicKey,
    redeemedAt: at.toISOString(),
  });
}

test('invite records a pending peer with only the temporary public key; the via NR peers with it for its /32 only', (t) => {
  const { def, invitation } = invite(base, { name: 'laptop', via: 'b', expires: LATER });
  const parsed = parseInvitation(invitation);
  t.is(parsed.address, '10.1.255.254', 'the highest free address outside the NR subnets');
  t.is(parsed.viaPublicKey, base.resources[1]!.wgPublicKey);
  t.is(parsed.viaEndpoint, base.resources[1]!.endpoints[0]!);
  t.is(parsed.viaWgAddress, '100.64.1.1', "b's WireGuard address, where its enrolment endpoint listens");
  t.is(parsed.enrolmentPort, ENROLMENT_PORT);
  t.is(temporaryKeyOf(parsed).publicKey(), parsed.inviteKey, 'the secret is the temporary WireGuard key');
  t.false(JSON.stringify(def).includes(parsed.secret), 'the secret is never stored');
  t.deepEqual(def.externalPeers, [
    {
      name: 'laptop',
      address: '10.1.255.254',
      via: 'b',
      inviteKey: parsed.inviteKey,
      expires: '2026-12-08T00:00:00.000Z',
    },
  ]);
  const viaB = resourceFor(def, 'b');
  t.deepEqual(
    viaB.peers.map((p) => p.node),
    ['a', 'invitation:laptop'],
  );
  t.deepEqual(viaB.peers.find((p) => p.node === 'invitation:laptop')?.allowedIps, ['10.1.255.254/32']);
  t.deepEqual(viaB.enrolment, { port: ENROLMENT_PORT, pending: ['10.1.255.254/32'] });
  t.is(resourceFor(def, 'a').enrolment, undefined, 'only the via NR has an enrolment endpoint');
  t.true(
    resourceFor(def, 'a')
      .peers.find((p) => p.node === 'b')!
      .allowedIps.includes('10.1.255.254/32'),
    'the other NRs route the reserved address to the via NR from the invitation on',
  );
});

test('an accepted report makes the peer a WireGuard peer of its via NR; the temporary key keeps no allowed IPs', (t) => {
  const { def, invitation } = invite(base, { name: 'laptop', via: 'b', expires: LATER });
  const parsed = parseInvitation(invitation);
  const keyPair = generateKeyPair();
  const redemption = reported(parsed, keyPair, NOW);
  t.false(redemption.includes(parsed.secret), 'the report carries no secret');
  const redeemed = acceptRedemption(def, redemption);
  t.is(redeemed.revision, def.revision + 1);
  t.is(redeemed.externalPeers![0]!.publicKey, keyPair.publicKey);
  const viaB = resourceFor(redeemed, 'b');
  t.deepEqual(
    viaB.peers.find((p) => p.node === 'external:laptop'),
    {
      node: 'external:laptop',
      publicKey: keyPair.publicKey,
      endpoint: null,
      allowedIps: ['10.1.255.254/32'],
      persistentKeepalive: null,
    },
  );
  t.deepEqual(viaB.peers.find((p) => p.node === 'invitation:laptop')?.allowedIps, []);
  t.deepEqual(viaB.enrolment, { port: ENROLMENT_PORT, pending: [] });
  t.true(
    resourceFor(redeemed, 'a')
      .peers.find((p) => p.node === 'b')!
      .allowedIps.includes('10.1.255.254/32'),
    'a routes it to b',
  );
  t.deepEqual(
    resourceFor(redeemed, 'h').peers[0]!.allowedIps,
    ['10.1.0.0/16', '100.64.0.0/16'],
    'h reaches it through the aggregator',
  );
  t.regex(wgQuickConfig(parsed, keyPair), /Address = 10\.1\.255\.254\/32\n[\s\S]*AllowedIPs = 10\.1\.0\.0\/16/);
  t.false(wgQuickConfig(parsed, keyPair).includes(parsed.secret), 'the config holds the permanent key only');

  const again = t.throws(() => acceptRedemption(redeemed, redemption), { instanceOf: InvitationError });
  t.regex(again.message, /already redeemed/);
});

test('expired, re-issued, revoked, foreign and malformed reports are refused and change nothing', (t) => {
  const { def, invitation } = invite(base, { name: 'phone', via: 'a', address: '10.1.7.9', expires: LATER });
  const before = JSON.stringify(def);
  const parsed = parseInvitation(invitation);
  const keyPair = generateKeyPair();
  t.throws(() => acceptRedemption(def, reported(parsed, keyPair, LATER)), {
    message: /expired at 2026-12-08T00:00:00.000Z/,
  });
  // A second invitation of the same name: the first one's report does not fit it.
  const other = invite(revokeExternalPeer(def, 'phone'), { name: 'phone', via: 'a', expires: LATER });
  t.throws(() => acceptRedemption(other.def, reported(parsed, keyPair, NOW)), { message: /earlier invitation/ });
  t.throws(() => acceptRedemption(revokeExternalPeer(def, 'phone'), reported(parsed, keyPair, NOW)), {
    message: /no invitation for "phone" \(revoked\?\)/,
  });
  const foreign = buildNetwork('other', '10.1.0.0/16', [makeNode('a', false, '198.51.100.11')]);
  t.throws(() => acceptRedemption(foreign, reported(parsed, keyPair, NOW)), {
    message: /for network "inv", not "other"/,
  });
  t.throws(() => acceptRedemption(def, 'zmesh-redeem-v2.!!!'), { message: /malformed redemption/ });
  t.throws(() => parseInvitation('hello'), { message: /must start with zmesh-invite-v2\./ });
  const body = JSON.parse(Buffer.from(invitation.slice('zmesh-invite-v2.'.length), 'base64url').toString());
  const swapped = `zmesh-invite-v2.${Buffer.from(JSON.stringify({ ...body, secret: generateKeyPair().privateKey.revealBase64() })).toString('base64url')}`;
  t.throws(() => parseInvitation(swapped), { message: /does not match its inviteKey/ });
  t.is(JSON.stringify(def), before);
});

test('validation of external peers names the path: inside an NR subnet, outside the range, hidden via, duplicates', (t) => {
  const key = base.resources[0]!.identityKey;
  const peer = (name: string, address: string, via: string) => ({
    name,
    address,
    via,
    inviteKey: key,
    expires: '2026-12-08T00:00:00Z',
  });
  const result = parseNetworkDefinition({
    ...base,
    externalPeers: [
      peer('p1', '10.1.0.9', 'a'),
      peer('p2', '10.2.0.9', 'a'),
      peer('p3', '10.1.9.9', 'h'),
      peer('p3', '10.1.9.9', 'zz'),
      { ...peer('p5', '10.1.9.8', 'a'), publicKey: base.resources[1]!.wgPublicKey },
    ],
  });
  t.false(result.ok);
  const byPath = Object.fromEntries((result.ok ? [] : result.errors).map((i) => [i.path, i.message]));
  t.regex(byPath['/externalPeers/0/address'] ?? '', /inside a's subnet/);
  t.regex(byPath['/externalPeers/1/address'] ?? '', /outside ipRange/);
  t.regex(byPath['/externalPeers/2/via'] ?? '', /hidden/);
  t.regex(byPath['/externalPeers/3/name'] ?? '', /duplicate external peer "p3"/);
  t.regex(byPath['/externalPeers/3/address'] ?? '', /also \/externalPeers\/2/);
  t.regex(byPath['/externalPeers/3/via'] ?? '', /not a member/);
  t.regex(byPath['/externalPeers/4/publicKey'] ?? '', /duplicate WireGuard public key/);
});

test('foldRedemptions: every report accepted or refused on its own, all accepted keys in ONE revision', (t) => {
  let def = base;
  const invited = ['laptop', 'phone', 'tablet', 'desk'].map((name, i) => {
    const made = invite(def, { name, via: i === 3 ? 'a' : 'b', expires: LATER });
    def = made.def;
    return parseInvitation(made.invitation);
  });
  const [laptop, phone, tablet, desk] = invited as [Invitation, Invitation, Invitation, Invitation];
  const keys = invited.map(() => generateKeyPair());
  const report = (node: string, invitation: Invitation, i: number, at = NOW) => ({
    node,
    redemption: parseRedemption(reported(invitation, keys[i]!, at)),
  });
  const fold = foldRedemptions(def, [
    report('b', laptop, 0),
    report('a', phone, 1), // not phone's via NR
    report('b', tablet, 2, LATER), // after expiry
    report('a', desk, 3),
    report('b', laptop, 0), // the same report twice
  ]);
  t.is(fold.def.revision, def.revision + 1, 'one revision for every accepted key');
  t.deepEqual(
    fold.accepted.map((r) => r.redemption.name),
    ['laptop', 'desk'],
  );
  t.deepEqual(
    fold.refused.map((r) => [r.redemption.name, r.reason]),
    [
      ['phone', 'reported by "a", not by "b", the invitation\'s via NR'],
      ['tablet', `the invitation for "tablet" expired at ${LATER.toISOString()}`],
    ],
  );
  t.deepEqual(
    fold.recorded.map((r) => r.redemption.name),
    ['laptop'],
  );
  const peers = new Map((fold.def.externalPeers ?? []).map((p) => [p.name, p.publicKey]));
  t.is(peers.get('laptop'), keys[0]!.publicKey);
  t.is(peers.get('desk'), keys[3]!.publicKey);
  t.is(peers.get('phone'), undefined, 'a refused report changes nothing');
  t.is(peers.get('tablet'), undefined);

  // Folding the same reports again: the accepted ones are recorded, nothing new, the definition is the same object.
  const again = foldRedemptions(fold.def, [report('b', laptop, 0), report('a', desk, 3)]);
  t.is(again.def, fold.def);
  t.is(again.accepted.length, 0);
  t.is(again.recorded.length, 2);
  // Another key for a recorded invitation is refused (one redemption per invitation).
  const other = foldRedemptions(fold.def, [{ node: 'b', redemption: { ...report('b', laptop, 1).redemption } }]);
  t.regex(other.refused[0]?.reason ?? '', /already redeemed/);
});
