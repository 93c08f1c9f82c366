/**
 * The via NR's side of a redemption (invitations.ts), without I/O: what an enrolment request may
 * say, whether the invitation behind it may be redeemed now, and the definition the via NR runs
 * with the redemptions it recorded but the admin has not signed yet.
 *
 * Who is asking is never taken from the request: the enrolment endpoint listens only on the NR's
 * WireGuard device, and WireGuard delivers a packet from source address A only if the peer that
 * sent it has A in its allowed IPs — for an invitation's /32, only its temporary key. So the
 * request's source address names the invitation; the body carries nothing but the new key.
 */

import { InvitationError } from './errors.js';
import type { Redemption } from './invitations.js';
import { isKey } from './keys.js';
import { assertNetworkDefinition } from './parse.js';
import type { NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

/** The body of POST /v1/redeem: `{ "publicKey": "<the peer's new WireGuard public key>" }`. */
export interface EnrolmentRequest {
  readonly publicKey: string;
}

/** Parses a request body (already JSON-decoded); InvitationError naming the field otherwise. */
export function parseEnrolmentRequest(body: unknown): EnrolmentRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvitationError('/', 'the request must be a JSON object { "publicKey": KEY }');
  const extra = Object.keys(body).filter((key) => key !== 'publicKey');
  if (extra.length > 0) throw new InvitationError(`/${extra[0]}`, 'unknown field (only publicKey is accepted)');
  const publicKey = (body as Record<string, unknown>).publicKey;
  if (typeof publicKey !== 'string' || !isKey(publicKey))
    throw new InvitationError('/publicKey', 'must be a WireGuard public key (base64 of 32 bytes)');
  return { publicKey };
}

/** Why a redemption is refused; `status` is the HTTP status the endpoint answers with. */
export type EnrolmentRefusal =
  | { readonly code: 'ENOINVITE'; readonly status: 404; readonly message: string }
  | { readonly code: 'EREDEEMED'; readonly status: 409; readonly message: string }
  | { readonly code: 'EEXPIRED'; readonly status: 410; readonly message: string }
  | { readonly code: 'EKEY'; readonly status: 400; readonly message: string };

export type EnrolmentDecision =
  | { readonly ok: true; readonly redemption: Redemption }
  | { readonly ok: false; readonly refusal: EnrolmentRefusal };

/**
 * Decides a request from `source` (the address the connection came from) to the enrolment
 * endpoint of `node` in `def` (with this node's recorded redemptions applied: withRedemptions).
 */
export function decideEnrolment(
  def: NetworkDefinition,
  node: string,
  source: string,
  request: EnrolmentRequest,
  now: Date,
): EnrolmentDecision {
  const refuse = (refusal: EnrolmentRefusal): EnrolmentDecision => ({ ok: false, refusal });
  const peer = (def.externalPeers ?? []).find((p) => p.via === node && p.address === source);
  if (!peer)
    return refuse({
      code: 'ENOINVITE',
      status: 404,
      message: `no invitation for ${source} through ${node} in network "${def.name}" (revoked?)`,
    });
  if (peer.publicKey !== undefined)
    return refuse({
      code: 'EREDEEMED',
      status: 409,
      message: `the invitation for "${peer.name}" was already redeemed (an invitation is good for one redemption)`,
    });
  if (now.getTime() >= Date.parse(peer.expires))
    return refuse({
      code: 'EEXPIRED',
      status: 410,
      message: `the invitation for "${peer.name}" expired at ${peer.expires}`,
    });
  const inUse =
    request.publicKey === peer.inviteKey ||
    def.resources.some((r) => r.wgPublicKey === request.publicKey) ||
    (def.externalPeers ?? []).some((p) => p.publicKey === request.publicKey || p.inviteKey === request.publicKey);
  if (inUse)
    return refuse({
      code: 'EKEY',
      status: 400,
      message: 'publicKey is already a key of this network (the peer must generate a new one)',
    });
  return {
    ok: true,
    redemption: {
      network: def.name,
      name: peer.name,
      inviteKey: peer.inviteKey,
      publicKey: request.publicKey,
      redeemedAt: now.toISOString(),
    },
  };
}

/**
 * `def` as the via node `node` runs it: each pending invitation of its own that it recorded a
 * redemption for (same name and temporary key) carries the permanent key, until the admin's
 * signed revision does. A redemption of a revoked or re-issued invitation matches nothing.
 */
export function withRedemptions(
  def: NetworkDefinition,
  node: string,
  redemptions: readonly Redemption[],
): NetworkDefinition {
  let changed = false;
  const externalPeers = (def.externalPeers ?? []).map((peer) => {
    const match = redemptions.find(
      (r) => r.network === def.name && r.name === peer.name && r.inviteKey === peer.inviteKey,
    );
    if (peer.via !== node || peer.publicKey !== undefined || !match) return peer;
    changed = true;
    return { ...peer, publicKey: match.publicKey };
  });
  if (!changed) return def;
  return assertNetworkDefinition({ ...def, externalPeers } as unknown as NetworkDefinitionDocument);
}
