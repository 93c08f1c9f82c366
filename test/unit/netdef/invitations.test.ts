// Invitations for external peers (src/netdef/invitations.ts, external-peers.ts): the definition
// stores only the invitation's public key; the peer's own key replaces it after a verified
// redemption; second, expired, tampered and foreign redemptions are refused with nothing changed;
// a redeemed peer is a WireGuard peer of its via NR and routed there by the other NRs.
import test from 'ava';
import {
  type NetworkDefinition,
  InvitationError,
  acceptRedemption,
  invite,
  parseInvitation,
  parseNetworkDefinition,
  redeem,
  resourceFor,
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

test('invite records a pending peer with only the public invite key; redeem + accept make it a peer of its via NR', (t) => {
  const { def, invitation } = invite(base, { name: 'laptop', via: 'b', expires: LATER });
  const parsed = parseInvitation(invitation);
  t.is(parsed.address, '10.1.255.254', 'the highest free address outside the NR subnets');
  t.is(parsed.viaPublicKey, base.resources[1]!.wgPublicKey);
  t.is(parsed.viaEndpoint, base.resources[1]!.endpoints[0]!);
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
  t.deepEqual(
    resourceFor(def, 'b').peers.map((p) => p.node),
    ['a'],
    'pending: not a WireGuard peer yet',
  );

  const { keyPair, redemption } = redeem(parsed);
  t.false(redemption.includes(keyPair.privateKey.revealBase64()), 'the redemption carries no secret');
  const redeemed = acceptRedemption(def, redemption, NOW);
  t.is(redeemed.revision, def.revision + 1);
  t.is(redeemed.externalPeers![0]!.publicKey, keyPair.publicKey);
  const laptop = resourceFor(redeemed, 'b').peers.find((p) => p.node === 'external:laptop');
  t.deepEqual(laptop, {
    node: 'external:laptop',
    publicKey: keyPair.publicKey,
    endpoint: null,
    allowedIps: ['10.1.255.254/32'],
    persistentKeepalive: null,
  });
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

  const again = t.throws(() => acceptRedemption(redeemed, redemption, NOW), { instanceOf: InvitationError });
  t.regex(again.message, /already redeemed/);
  const second = redeem(parsed).redemption;
  t.throws(() => acceptRedemption(redeemed, second, NOW), { message: /already redeemed/ });
});

test('expired, tampered, forged and foreign redemptions are refused and change nothing', (t) => {
  const { def, invitation } = invite(base, { name: 'phone', via: 'a', address: '10.1.7.9', expires: LATER });
  const before = JSON.stringify(def);
  const parsed = parseInvitation(invitation);
  const { redemption } = redeem(parsed);
  t.throws(() => acceptRedemption(def, redemption, LATER), { message: /expired at 2026-12-08T00:00:00.000Z/ });
  const body = JSON.parse(Buffer.from(redemption.slice('zmesh-redeem-v1.'.length), 'base64url').toString());
  const tampered = `zmesh-redeem-v1.${Buffer.from(JSON.stringify({ ...body, publicKey: base.resources[0]!.identityKey })).toString('base64url')}`;
  t.throws(() => acceptRedemption(def, tampered, NOW), { message: /not signed by its invitation's key/ });
  // A second invitation of the same name elsewhere: its redemption does not fit this one.
  const other = invite(base, { name: 'phone', via: 'b', address: '10.1.7.9', expires: LATER });
  t.throws(() => acceptRedemption(def, redeem(parseInvitation(other.invitation)).redemption, NOW), {
    message: /not signed/,
  });
  const foreign = buildNetwork('other', '10.1.0.0/16', [makeNode('a', false, '198.51.100.11')]);
  t.throws(() => acceptRedemption(foreign, redemption, NOW), { message: /for network "inv", not "other"/ });
  t.throws(() => acceptRedemption(def, 'zmesh-redeem-v1.!!!', NOW), { message: /malformed redemption/ });
  t.throws(() => parseInvitation('hello'), { message: /must start with zmesh-invite-v1\./ });
  const bad = `zmesh-invite-v1.${Buffer.from(JSON.stringify({ ...parsed, secret: parsed.viaPublicKey })).toString('base64url')}`;
  t.throws(() => redeem(parseInvitation(bad)), { message: /does not match its inviteKey/ });
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
