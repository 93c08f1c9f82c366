/**
 * Invitations for external peers (DESIGN.md "Access control"), made so that the coordinator
 * never knows the peer's private key and never stores the invitation's secret:
 *
 * 1. `invite` (admin): records the peer (name, address, via NR, expiry) with `inviteKey`, the
 *    public half of a fresh temporary WireGuard key pair, and returns the invitation text, which
 *    alone holds the temporary private key (the only secret the tool ever prints). The via NR
 *    peers with the temporary key at once but lets it reach nothing except its enrolment endpoint
 *    (derive.ts, enrolment.ts).
 * 2. `zmesh peer redeem` (on the peer) brings a tunnel up with the temporary key, generates the
 *    peer's own key pair and submits the public half to the via NR's enrolment endpoint over that
 *    tunnel (enrolment.ts decides; the via node records it and reports a `Redemption`).
 * 3. `acceptRedemption` (admin): records the reported permanent key in the definition, so the
 *    next signed revision carries it; a report for another network, an unknown (revoked) peer, an
 *    earlier invitation of the same name, a peer already recorded or a redemption after expiry is
 *    refused with nothing changed.
 * Pure except for randomness (libsodium; `await ready()` first); the clock is a parameter.
 */

import { wgAddressOf } from './addressing.js';
import { InvitationError } from './errors.js';
import { ENROLMENT_PORT, freeExternalAddress } from './external-peers.js';
import { type Cidr, parseCidr } from './ipv4.js';
import { type KeyPair, PrivateKey, generateKeyPair, isKey } from './keys.js';
import { assertNetworkDefinition } from './parse.js';
import type { ExternalPeerDocument, NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

const INVITE_PREFIX = 'zmesh-invite-v2.';
const REDEEM_PREFIX = 'zmesh-redeem-v2.';

/** What an invitation tells the peer (plus the secret). */
export interface Invitation {
  readonly network: string;
  readonly name: string;
  readonly address: string;
  readonly ipRange: string;
  readonly via: string;
  readonly viaPublicKey: string;
  readonly viaEndpoint: string;
  /** The via NR's WireGuard address (100.64.A.B): where its enrolment endpoint listens. */
  readonly viaWgAddress: string;
  readonly enrolmentPort: number;
  readonly inviteKey: string;
  readonly expires: string;
  /** The temporary WireGuard private key (base64). Never stored by the coordinator; never print it. */
  readonly secret: string;
}

/** What the via node reports once a peer redeemed: its permanent public key (no secret). */
export interface Redemption {
  readonly network: string;
  readonly name: string;
  /** The invitation's temporary public key: ties the report to this invitation, not a later one. */
  readonly inviteKey: string;
  readonly publicKey: string;
  /** ISO 8601: when the via node accepted it. */
  readonly redeemedAt: string;
}

function encode(prefix: string, value: object): string {
  return prefix + Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decode(prefix: string, text: string, what: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (!trimmed.startsWith(prefix)) throw new InvitationError('', `not a zmesh ${what} (it must start with ${prefix})`);
  try {
    const value = JSON.parse(Buffer.from(trimmed.slice(prefix.length), 'base64url').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InvitationError('', `malformed ${what}`);
}

function field(value: Record<string, unknown>, key: string, what: string): string {
  const text = value[key];
  if (typeof text !== 'string' || text.length === 0 || text.length > 300)
    throw new InvitationError('', `malformed ${what}: field "${key}"`);
  return text;
}

export interface InviteOptions {
  readonly name: string;
  readonly via: string;
  /** Default: freeExternalAddress. */
  readonly address?: string;
  readonly expires: Date;
}

/** A new definition with the pending peer, and the invitation text (holds the secret: print it once, store it never). */
export function invite(def: NetworkDefinition, options: InviteOptions): { def: NetworkDefinition; invitation: string } {
  const address = options.address ?? freeExternalAddress(def);
  if (address === undefined)
    throw new InvitationError('/externalPeers', 'no free address left in the range outside the NR subnets');
  const temporary = generateKeyPair();
  const peer: ExternalPeerDocument = {
    name: options.name,
    address,
    via: options.via,
    inviteKey: temporary.publicKey,
    expires: options.expires.toISOString(),
  };
  const draft = {
    ...def,
    revision: def.revision + 1,
    externalPeers: [...(def.externalPeers ?? []), peer],
  } as unknown as NetworkDefinitionDocument;
  const next = assertNetworkDefinition(draft);
  const via = next.resources.find((r) => r.node === options.via)!; // validated: a public member
  const invitation: Invitation = {
    network: def.name,
    name: options.name,
    address,
    ipRange: def.ipRange,
    via: via.node,
    viaPublicKey: via.wgPublicKey,
    viaEndpoint: via.endpoints[0] ?? '',
    viaWgAddress: wgAddressOf(parseCidr(via.subnet) as Cidr),
    enrolmentPort: ENROLMENT_PORT,
    inviteKey: peer.inviteKey,
    expires: peer.expires,
    secret: temporary.privateKey.revealBase64(),
  };
  return { def: next, invitation: encode(INVITE_PREFIX, invitation) };
}

/** Parses an invitation text (the secret stays inside the returned object; never print it). */
export function parseInvitation(text: string): Invitation {
  const value = decode(INVITE_PREFIX, text, 'invitation');
  const keys = [
    'network',
    'name',
    'address',
    'ipRange',
    'via',
    'viaPublicKey',
    'viaEndpoint',
    'viaWgAddress',
    'inviteKey',
    'expires',
    'secret',
  ] as const;
  const fields = Object.fromEntries(keys.map((key) => [key, field(value, key, 'invitation')]));
  const port = value['enrolmentPort'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvitationError('', 'malformed invitation: field "enrolmentPort"');
  const parsed = { ...fields, enrolmentPort: port } as unknown as Invitation;
  if (!isKey(parsed.viaPublicKey) || !isKey(parsed.inviteKey) || !isKey(parsed.secret))
    throw new InvitationError('', 'malformed invitation: a key is not base64 of 32 bytes');
  if (temporaryKeyOf(parsed).publicKey() !== parsed.inviteKey)
    throw new InvitationError('', 'the invitation secret does not match its inviteKey (tampered)');
  return parsed;
}

/** The invitation's temporary private key (never log it). */
export function temporaryKeyOf(invitation: Invitation): PrivateKey {
  return PrivateKey.fromBase64(invitation.secret, 'invitation secret');
}

/** The via node's report of a redemption as text for the admin (no secret in it). */
export function formatRedemption(redemption: Redemption): string {
  return encode(REDEEM_PREFIX, redemption);
}

export function parseRedemption(text: string): Redemption {
  const value = decode(REDEEM_PREFIX, text, 'redemption');
  const redemption: Redemption = {
    network: field(value, 'network', 'redemption'),
    name: field(value, 'name', 'redemption'),
    inviteKey: field(value, 'inviteKey', 'redemption'),
    publicKey: field(value, 'publicKey', 'redemption'),
    redeemedAt: field(value, 'redeemedAt', 'redemption'),
  };
  if (!isKey(redemption.publicKey) || !isKey(redemption.inviteKey))
    throw new InvitationError('', 'malformed redemption: a key is not a WireGuard key');
  if (Number.isNaN(Date.parse(redemption.redeemedAt)))
    throw new InvitationError('', 'malformed redemption: redeemedAt is not a time');
  return redemption;
}

/**
 * Why the definition cannot take `redemption` (an InvitationError), or the index of its peer:
 * another network, an unknown (revoked) peer, an earlier invitation of the name, a peer already
 * recorded, a redemption after expiry.
 */
function redeemedPeerIndex(def: NetworkDefinition, redemption: Redemption): number {
  if (redemption.network !== def.name)
    throw new InvitationError('', `the redemption is for network "${redemption.network}", not "${def.name}"`);
  const peers = def.externalPeers ?? [];
  const index = peers.findIndex((peer) => peer.name === redemption.name);
  const peer = peers[index];
  if (!peer) throw new InvitationError('/externalPeers', `no invitation for "${redemption.name}" (revoked?)`);
  const path = `/externalPeers/${index}`;
  if (peer.inviteKey !== redemption.inviteKey)
    throw new InvitationError(
      path,
      `the redemption is for an earlier invitation of "${peer.name}", not its current one`,
    );
  if (peer.publicKey !== undefined)
    throw new InvitationError(
      path,
      `the invitation for "${peer.name}" was already redeemed (an invitation is good for one redemption)`,
    );
  if (Date.parse(redemption.redeemedAt) >= Date.parse(peer.expires))
    throw new InvitationError(path, `the invitation for "${peer.name}" expired at ${peer.expires}`);
  return index;
}

/** `def` with the given peers' permanent keys recorded, as ONE new revision (validated). */
function withPeerKeys(def: NetworkDefinition, keys: ReadonlyMap<number, string>): NetworkDefinition {
  const externalPeers = (def.externalPeers ?? []).map((p, i) => {
    const publicKey = keys.get(i);
    return publicKey === undefined ? p : { ...p, publicKey };
  });
  return assertNetworkDefinition({
    ...def,
    revision: def.revision + 1,
    externalPeers,
  } as unknown as NetworkDefinitionDocument);
}

/**
 * Admin side: the definition with the reported permanent key recorded (revision + 1), or the
 * InvitationError saying why not (nothing changed).
 */
export function acceptRedemption(def: NetworkDefinition, text: string): NetworkDefinition {
  const redemption = parseRedemption(text);
  return withPeerKeys(def, new Map([[redeemedPeerIndex(def, redemption), redemption.publicKey]]));
}

/** A redemption as a node reported it (its status key in the store): `node` claims to be the via NR. */
export interface ReportedRedemption {
  readonly node: string;
  readonly redemption: Redemption;
}

export interface RedemptionFold {
  /** The definition with every accepted key (revision + 1), or `def` itself when none was. */
  readonly def: NetworkDefinition;
  readonly accepted: readonly ReportedRedemption[];
  /** Already in `def` (the same invitation and key): nothing to do. */
  readonly recorded: readonly ReportedRedemption[];
  readonly refused: readonly (ReportedRedemption & { readonly reason: string })[];
}

/**
 * Folds every report into `def` as one revision: each is accepted or refused on its own (the
 * refusals of acceptRedemption, and a report from a node that is not the peer's via NR), so one
 * bad report does not hold back the others.
 */
export function foldRedemptions(def: NetworkDefinition, reports: readonly ReportedRedemption[]): RedemptionFold {
  const keys = new Map<number, string>();
  const accepted: ReportedRedemption[] = [];
  const recorded: ReportedRedemption[] = [];
  const refused: (ReportedRedemption & { reason: string })[] = [];
  const peers = def.externalPeers ?? [];
  for (const report of reports) {
    const { node, redemption } = report;
    const peer = peers.find((p) => p.name === redemption.name);
    if (peer?.inviteKey === redemption.inviteKey && peer.publicKey === redemption.publicKey) {
      recorded.push(report);
      continue;
    }
    try {
      const index = redeemedPeerIndex(def, redemption);
      if (peers[index]?.via !== node)
        throw new InvitationError(
          `/externalPeers/${index}`,
          `reported by "${node}", not by "${peers[index]?.via}", the invitation's via NR`,
        );
      const taken = keys.get(index);
      if (taken === redemption.publicKey) {
        recorded.push(report); // the same report twice
        continue;
      }
      if (taken !== undefined)
        throw new InvitationError(
          `/externalPeers/${index}`,
          `the invitation for "${redemption.name}" was already redeemed (an invitation is good for one redemption)`,
        );
      keys.set(index, redemption.publicKey);
      accepted.push(report);
    } catch (error) {
      if (!(error instanceof InvitationError)) throw error;
      refused.push({ ...report, reason: error.message });
    }
  }
  return { def: keys.size === 0 ? def : withPeerKeys(def, keys), accepted, recorded, refused };
}

/**
 * Removes external peer `name` (revision + 1): a pending invitation can no longer be redeemed, a
 * redeemed peer stops being a WireGuard peer of its via NR with the next apply.
 */
export function revokeExternalPeer(def: NetworkDefinition, name: string): NetworkDefinition {
  const peers = def.externalPeers ?? [];
  if (!peers.some((peer) => peer.name === name))
    throw new InvitationError('/externalPeers', `no external peer "${name}"`);
  const draft = { ...def, revision: def.revision + 1 } as unknown as NetworkDefinitionDocument & {
    externalPeers?: unknown;
  };
  const kept = peers.filter((peer) => peer.name !== name);
  if (kept.length > 0) draft.externalPeers = kept as ExternalPeerDocument[];
  else delete draft.externalPeers;
  return assertNetworkDefinition(draft);
}

/** A wg-quick configuration for the peer (holds its private key: write it 0600). */
export function wgQuickConfig(invitation: Invitation, keyPair: KeyPair): string {
  // The via NR's WireGuard address is not in AllowedIPs: the enrolment endpoint was the only
  // reason to reach it, and it is done.
  return [
    '[Interface]',
    `PrivateKey = ${keyPair.privateKey.revealBase64()}`,
    `Address = ${invitation.address}/32`,
    '',
    '[Peer]',
    `PublicKey = ${invitation.viaPublicKey}`,
    `Endpoint = ${invitation.viaEndpoint}`,
    `AllowedIPs = ${invitation.ipRange}`,
    'PersistentKeepalive = 25',
    '',
  ].join('\n');
}
