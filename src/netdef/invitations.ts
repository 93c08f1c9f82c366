/**
 * Invitations for external peers (DESIGN.md "Access control"), made so that the coordinator
 * never knows the peer's private key and never stores the invitation's secret:
 *
 * 1. `invite` (admin): records the peer (name, address, via NR, expiry) with `inviteKey`, the
 *    public half of a fresh Ed25519 key pair, and returns the invitation text, which alone holds
 *    the secret half (the only secret the tool ever prints).
 * 2. `redeem` (on the peer): generates the peer's own WireGuard key pair and signs its public key
 *    (bound to network, name, address and inviteKey) with the invitation's secret; the redemption
 *    text carries no secret.
 * 3. `acceptRedemption` (admin): verifies the signature against the stored inviteKey, refuses an
 *    expired, already redeemed, tampered or foreign redemption (the definition unchanged), and
 *    records the peer's public key, which makes the peer a WireGuard peer of its via NR.
 * Pure except for randomness (libsodium; `await ready()` first); the clock is a parameter.
 */

import sodium from 'libsodium-wrappers';
import { InvitationError } from './errors.js';
import { freeExternalAddress } from './external-peers.js';
import { type KeyPair, generateKeyPair, isKey } from './keys.js';
import { assertNetworkDefinition } from './parse.js';
import type { ExternalPeerDocument, NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

const INVITE_PREFIX = 'zmesh-invite-v1.';
const REDEEM_PREFIX = 'zmesh-redeem-v1.';

/** What an invitation tells the peer (plus the secret). */
export interface Invitation {
  readonly network: string;
  readonly name: string;
  readonly address: string;
  readonly ipRange: string;
  readonly via: string;
  readonly viaPublicKey: string;
  readonly viaEndpoint: string;
  readonly inviteKey: string;
  readonly expires: string;
  /** The Ed25519 seed (base64): proves the right to redeem. Never stored by the coordinator. */
  readonly secret: string;
}

export interface Redemption {
  readonly network: string;
  readonly name: string;
  readonly publicKey: string;
  readonly signature: string;
}

function b64(bytes: Uint8Array): string {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

function unb64(text: string, what: string): Uint8Array {
  try {
    return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  } catch {
    throw new InvitationError('', `${what} is not base64`);
  }
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

/** The signed message: every fact the admin checks, so no part can be swapped. */
function signedMessage(
  network: string,
  name: string,
  address: string,
  inviteKey: string,
  publicKey: string,
): Uint8Array {
  return new TextEncoder().encode(['zmesh-redeem-v1', network, name, address, inviteKey, publicKey].join('\n'));
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
  const seed = sodium.randombytes_buf(32);
  const pair = sodium.crypto_sign_seed_keypair(seed);
  const peer: ExternalPeerDocument = {
    name: options.name,
    address,
    via: options.via,
    inviteKey: b64(pair.publicKey),
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
    inviteKey: peer.inviteKey,
    expires: peer.expires,
    secret: b64(seed),
  };
  seed.fill(0);
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
    'inviteKey',
    'expires',
    'secret',
  ] as const;
  const parsed = Object.fromEntries(keys.map((key) => [key, field(value, key, 'invitation')])) as unknown as Invitation;
  if (!isKey(parsed.viaPublicKey) || !isKey(parsed.inviteKey) || !isKey(parsed.secret))
    throw new InvitationError('', 'malformed invitation: a key is not base64 of 32 bytes');
  return parsed;
}

/** On the peer: its own WireGuard key pair and the redemption text to give the admin. */
export function redeem(invitation: Invitation): { keyPair: KeyPair; redemption: string } {
  const keyPair = generateKeyPair();
  const seed = unb64(invitation.secret, 'invitation secret');
  const signing = sodium.crypto_sign_seed_keypair(seed);
  seed.fill(0);
  if (b64(signing.publicKey) !== invitation.inviteKey)
    throw new InvitationError('', 'the invitation secret does not match its inviteKey (tampered)');
  const message = signedMessage(
    invitation.network,
    invitation.name,
    invitation.address,
    invitation.inviteKey,
    keyPair.publicKey,
  );
  const signature = b64(sodium.crypto_sign_detached(message, signing.privateKey));
  signing.privateKey.fill(0);
  const redemption: Redemption = {
    network: invitation.network,
    name: invitation.name,
    publicKey: keyPair.publicKey,
    signature,
  };
  return { keyPair, redemption: encode(REDEEM_PREFIX, redemption) };
}

export function parseRedemption(text: string): Redemption {
  const value = decode(REDEEM_PREFIX, text, 'redemption');
  const redemption = {
    network: field(value, 'network', 'redemption'),
    name: field(value, 'name', 'redemption'),
    publicKey: field(value, 'publicKey', 'redemption'),
    signature: field(value, 'signature', 'redemption'),
  };
  if (!isKey(redemption.publicKey))
    throw new InvitationError('', 'malformed redemption: publicKey is not a WireGuard key');
  return redemption;
}

/**
 * Admin side: the definition with the peer's public key recorded (revision + 1). Refused, with
 * nothing changed: another network's redemption, an unknown peer, one already redeemed, an
 * expired invitation (at `now`), a signature that does not verify with the stored inviteKey.
 */
export function acceptRedemption(def: NetworkDefinition, text: string, now: Date): NetworkDefinition {
  const redemption = parseRedemption(text);
  if (redemption.network !== def.name)
    throw new InvitationError('', `the redemption is for network "${redemption.network}", not "${def.name}"`);
  const peers = def.externalPeers ?? [];
  const index = peers.findIndex((peer) => peer.name === redemption.name);
  const peer = peers[index];
  if (!peer) throw new InvitationError('/externalPeers', `no invitation for "${redemption.name}"`);
  const path = `/externalPeers/${index}`;
  if (peer.publicKey !== undefined)
    throw new InvitationError(
      path,
      `the invitation for "${peer.name}" was already redeemed (an invitation is good for one redemption)`,
    );
  if (now.getTime() >= Date.parse(peer.expires))
    throw new InvitationError(path, `the invitation for "${peer.name}" expired at ${peer.expires}`);
  const message = signedMessage(def.name, peer.name, peer.address, peer.inviteKey, redemption.publicKey);
  const signature = unb64(redemption.signature, 'redemption signature');
  let valid = false;
  try {
    valid =
      signature.length === 64 &&
      sodium.crypto_sign_verify_detached(signature, message, unb64(peer.inviteKey, 'inviteKey'));
  } catch {
    valid = false;
  }
  if (!valid)
    throw new InvitationError(
      path,
      `the redemption for "${peer.name}" is not signed by its invitation's key (tampered or forged)`,
    );
  const externalPeers = peers.map((p, i) => (i === index ? { ...p, publicKey: redemption.publicKey } : p));
  return assertNetworkDefinition({
    ...def,
    revision: def.revision + 1,
    externalPeers,
  } as unknown as NetworkDefinitionDocument);
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
