/**
 * External peers (laptops) in the definition: validation, the address they get, and what the
 * derivation adds for them. The via NR has a redeemed peer (with `publicKey`) as a WireGuard peer
 * (allowed IPs = its /32, no endpoint: it dials in) and a pending one by its temporary key
 * (enrolment only). Every other public NR routes each external peer's /32 to the via NR from the
 * invitation on, so a redemption the via NR applies at once (before the admin signs it) is
 * reachable from the whole network. Hidden NRs reach them through the aggregator,
 * whose entry already covers the range. Groups and associations apply to their addresses as to
 * any other (the via NR's forward chain sees their traffic arrive from its WireGuard device).
 */

import type { ValidationIssue } from './errors.js';
import { type Cidr, containsAddress, formatIpv4, makeCidr, parseCidr, parseIpv4, rangeOf } from './ipv4.js';
import type { NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

/** The TCP port of the enrolment endpoint on a via NR's WireGuard address (not a well-known port). */
export const ENROLMENT_PORT = 51_821;

/** The peer entry's `node` of an external peer: never a node id (ids have no ":"). */
export function externalPeerNode(name: string): string {
  return `external:${name}`;
}

/** Every problem of externalPeers; `range` is the parsed ipRange when usable. */
export function externalPeerIssues(def: NetworkDefinitionDocument, range: Cidr | undefined): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  const keys = new Set(def.resources.map((r) => r.wgPublicKey));
  const subnets = def.resources.map((r) => ({ node: r.node, subnet: parseCidr(r.subnet) as Cidr }));
  (def.externalPeers ?? []).forEach((peer, index) => {
    const base = `/externalPeers/${index}`;
    const first = names.get(peer.name);
    if (first !== undefined)
      issues.push({
        path: `${base}/name`,
        message: `duplicate external peer "${peer.name}" (also /externalPeers/${first})`,
      });
    else names.set(peer.name, index);
    const address = parseIpv4(peer.address) as number; // the schema pattern guarantees the syntax
    const owner = subnets.find((s) => containsAddress(s.subnet, address));
    if (range && !containsAddress(range, address))
      issues.push({ path: `${base}/address`, message: `${peer.address} is outside ipRange` });
    else if (owner)
      issues.push({
        path: `${base}/address`,
        message: `${peer.address} is inside ${owner.node}'s subnet: an external peer needs an address outside every NR subnet`,
      });
    const again = addresses.get(peer.address);
    if (again !== undefined)
      issues.push({ path: `${base}/address`, message: `address ${peer.address} is also /externalPeers/${again}'s` });
    else addresses.set(peer.address, index);
    const via = def.resources.find((r) => r.node === peer.via);
    if (!via) issues.push({ path: `${base}/via`, message: `node "${peer.via}" is not a member of the network` });
    else if (via.hidden)
      issues.push({
        path: `${base}/via`,
        message: `node "${peer.via}" is hidden: an external peer joins through a public NR`,
      });
    if (Number.isNaN(Date.parse(peer.expires)))
      issues.push({ path: `${base}/expires`, message: `"${peer.expires}" is not a time` });
    if (peer.publicKey !== undefined) {
      if (keys.has(peer.publicKey))
        issues.push({
          path: `${base}/publicKey`,
          message: 'duplicate WireGuard public key (an NR or another external peer has it)',
        });
      keys.add(peer.publicKey);
    }
  });
  return issues;
}

/** The peer entry's `node` of an invitation's temporary key. */
export function invitationPeerNode(name: string): string {
  return `invitation:${name}`;
}

/**
 * The temporary keys `node` peers with as the via NR: a pending invitation's key with its /32
 * (the enrolment endpoint is all it may reach: the NR's rules drop the rest), a redeemed one's
 * with no allowed IPs at all, so it still completes a handshake (and the peer can be told "already
 * redeemed" rather than "unknown") but can deliver nothing. Expiry is the enrolment endpoint's
 * to judge: derivation has no clock.
 */
export function invitationPeersVia(
  def: NetworkDefinition,
  node: string,
): { name: string; inviteKey: string; cidr: Cidr; pending: boolean }[] {
  return (def.externalPeers ?? [])
    .filter((peer) => peer.via === node)
    .map((peer) => ({
      name: peer.name,
      inviteKey: peer.inviteKey,
      cidr: makeCidr(parseIpv4(peer.address) as number, 32),
      pending: peer.publicKey === undefined,
    }));
}

/** The /32s of every external peer, pending or redeemed, that `node` is the via NR of. */
export function externalAddressesVia(def: NetworkDefinition, node: string): Cidr[] {
  return (def.externalPeers ?? [])
    .filter((peer) => peer.via === node)
    .map((peer) => makeCidr(parseIpv4(peer.address) as number, 32));
}

/** Redeemed external peers of `node` (it is their via NR). */
export function redeemedPeersVia(
  def: NetworkDefinition,
  node: string,
): { name: string; publicKey: string; cidr: Cidr }[] {
  return (def.externalPeers ?? [])
    .filter((peer) => peer.via === node && peer.publicKey !== undefined)
    .map((peer) => ({
      name: peer.name,
      publicKey: peer.publicKey as string,
      cidr: makeCidr(parseIpv4(peer.address) as number, 32),
    }));
}

/**
 * The address for a new external peer (or service): the highest free address of the range outside
 * every NR subnet, external peer and service, skipping each /24's .0 and .255 (NR subnets are taken from the bottom, so invitations
 * from the top collide last). undefined when none is free.
 */
export function freeExternalAddress(def: NetworkDefinition): string | undefined {
  const range = parseCidr(def.ipRange) as Cidr;
  const subnets = def.resources.map((r) => parseCidr(r.subnet) as Cidr);
  const taken = new Set([
    ...(def.externalPeers ?? []).map((peer) => peer.address),
    ...(def.services ?? []).map((s) => s.address),
  ]);
  const { first, last } = rangeOf(range);
  for (let address = last; address >= first; address--) {
    const host = address & 255;
    if (host === 0 || host === 255) continue;
    const inSubnet = subnets.find((s) => containsAddress(s, address));
    if (inSubnet) {
      address = rangeOf(inSubnet).first; // skip the whole subnet
      continue;
    }
    const text = formatIpv4(address);
    if (!taken.has(text)) return text;
  }
  return undefined;
}
