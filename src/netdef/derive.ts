/**
 * The derivation of one node's network resource from a definition (DESIGN.md "Derivation"):
 * its WireGuard peers with endpoints and allowed IPs, its routes and its egress. Pure and the
 * only place where peers and routes are decided, so the tool and networkd cannot disagree.
 *
 * Peer rules:
 * - public NRs form a full mesh; a peer's allowed IPs are its /24 and its 100.64 address;
 * - a hidden NR has one peer, the aggregator: allowed IPs ipRange + 100.64.0.0/16 (or just
 *   0.0.0.0/0 when the network has an exit), persistent keepalive 25 s;
 * - the aggregator has each hidden NR as a peer without endpoint (they dial in);
 * - every other public NR adds the hidden NRs' /24s and addresses to the aggregator's entry,
 *   so traffic to a hidden NR takes exactly one relay hop;
 * - with an exit, the exit's entry on every public NR is 0.0.0.0/0 (it then covers the exit's
 *   own prefixes, and the hidden ones when the exit is also the aggregator). Hidden NRs reach the
 *   exit through the aggregator, which forwards by its own exit entry (or egresses itself).
 * - a redeemed external peer (external-peers.ts) is a peer of its via NR (its /32, no endpoint),
 *   a pending one is a peer by its temporary key (enrolment only), and every other public NR adds
 *   each external peer's /32 to the via NR's entry.
 * Each peer's list is canonical: sorted, and no prefix inside another of the same peer.
 */

import { type AccessPolicy, accessPolicyOf } from './access.js';
import {
  DEFAULT_ROUTE,
  WG_ADDRESS_PREFIX,
  WG_MTU,
  WG_NETWORK,
  gatewayOf,
  wgAddressOf,
  wgHostCidrOf,
} from './addressing.js';
import { UnknownNodeError } from './errors.js';
import {
  ENROLMENT_PORT,
  externalAddressesVia,
  externalPeerNode,
  invitationPeerNode,
  invitationPeersVia,
  redeemedPeersVia,
} from './external-peers.js';
import { type Cidr, canonicalPrefixes, formatCidr, parseCidr } from './ipv4.js';
import { netIdOf } from './netid.js';
import { serviceCidrsOf } from './services.js';
import type { NetworkDefinition, Resource } from './schema.js';

export const HIDDEN_KEEPALIVE_SECONDS = 25;

/** One WireGuard peer of the NR's device. */
export interface PeerPlan {
  /** The peer NR's node id. */
  node: string;
  /** The peer's WireGuard public key (base64). */
  publicKey: string;
  /** `host:port` to dial (the peer's first endpoint), or null when the peer dials in (hidden). */
  endpoint: string | null;
  /** Canonical CIDRs routed to this peer, sorted by address then prefix length. */
  allowedIps: string[];
  /** Seconds, or null for none (only a hidden NR keeps its aggregator entry alive). */
  persistentKeepalive: number | null;
}

/** A route in the NR namespace; `mesh` means via the WireGuard device. */
export interface RoutePlan {
  destination: string;
  via: 'mesh';
}

/** One node's part of a network definition: everything networkd needs to build the NR. */
export interface NodeResource {
  /** The network's name. */
  network: string;
  /** 8 base32 chars of SHA-256(name); the NR namespace is `n-<netId>`. */
  netId: string;
  /** The definition's revision this resource was derived from. */
  revision: number;
  /** This node's id. */
  node: string;
  /** The NR's /24 for workloads. */
  subnet: string;
  /** The subnet's .1, the workloads' gateway on the NR bridge. */
  gateway: string;
  /** The WireGuard device address, 100.64.A.B for subnet a.A.B.0/24. */
  wgAddress: string;
  /** Prefix length of wgAddress: 100.64.0.0/16 is on-link on the WireGuard device. */
  wgAddressPrefix: 16;
  /** The device's UDP listen port (stable for the NR's life). */
  listenPort: number;
  /** The device's public key. */
  wgPublicKey: string;
  /** The device's private key sealed to the node's identity key (base64 sealed box). */
  wgPrivateKeySealed: string;
  /** MTU of the WireGuard device and of the workloads. */
  mtu: typeof WG_MTU;
  /** True when the node is behind NAT (peers only with the aggregator). */
  hidden: boolean;
  /** Whether this NR relays for hidden NRs and/or is the network's exit. */
  role: { aggregator: boolean; exit: boolean };
  /** The device's peers, in definition order. */
  peers: PeerPlan[];
  /** Routes into the mesh (ipRange always; 0.0.0.0/0 when another NR is the exit). */
  routes: RoutePlan[];
  /** Where Internet-bound traffic leaves: the node's ndmz, or the mesh towards the exit. */
  egress: 'ndmz' | 'mesh';
  /** What the NR lets through the mesh (access.ts); absent when the network has no associations. */
  access?: AccessPolicy;
  /** The enrolment endpoint of the invitations this NR is the via NR of; absent when there are none. */
  enrolment?: EnrolmentPlan;
  /** The service addresses this NR owns, to route to the workload (or hold on the NR bridge); absent when none. */
  services?: ServicePlan[];
}

export interface EnrolmentPlan {
  /** TCP port on wgAddress (only from the WireGuard device). */
  readonly port: number;
  /** The /32s of pending invitations: they may reach the endpoint and nothing else. */
  readonly pending: string[];
}

export interface ServicePlan {
  readonly name: string;
  readonly address: string;
  readonly workload: string | null;
}

function subnetOf(resource: Resource): Cidr {
  return parseCidr(resource.subnet) as Cidr; // validated definitions only
}

function ownPrefixes(resource: Resource): Cidr[] {
  const subnet = subnetOf(resource);
  return [subnet, wgHostCidrOf(subnet)];
}

/** An NR's prefixes on its peers' entries: its own, plus the service addresses it owns. */
function ownedPrefixes(def: NetworkDefinition, resource: Resource): Cidr[] {
  return [...ownPrefixes(resource), ...serviceCidrsOf(def, resource.node)];
}

function peer(resource: Resource, prefixes: Cidr[], endpoint: string | null, keepalive: number | null): PeerPlan {
  return {
    node: resource.node,
    publicKey: resource.wgPublicKey,
    endpoint,
    allowedIps: canonicalPrefixes(prefixes),
    persistentKeepalive: keepalive,
  };
}

function firstEndpoint(resource: Resource): string | null {
  return resource.endpoints[0] ?? null;
}

function peersOfHidden(def: NetworkDefinition, range: Cidr): PeerPlan[] {
  const aggregator = def.resources.find((resource) => resource.node === def.aggregator);
  if (!aggregator) return []; // validation guarantees an aggregator while an NR is hidden
  const prefixes = def.exit === undefined ? [range, WG_NETWORK] : [DEFAULT_ROUTE];
  return [peer(aggregator, prefixes, firstEndpoint(aggregator), HIDDEN_KEEPALIVE_SECONDS)];
}

function peersOfPublic(def: NetworkDefinition, self: Resource): PeerPlan[] {
  const isAggregator = def.aggregator === self.node;
  const isExit = def.exit === self.node;
  const hidden = def.resources.filter((resource) => resource.hidden);
  const peers: PeerPlan[] = [];
  for (const other of def.resources) {
    if (other === self) continue;
    if (other.hidden) {
      if (isAggregator) peers.push(peer(other, ownedPrefixes(def, other), null, null));
      continue;
    }
    let prefixes: Cidr[];
    if (other.node === def.exit && !isExit) {
      prefixes = [DEFAULT_ROUTE];
    } else {
      prefixes = [...ownedPrefixes(def, other), ...externalAddressesVia(def, other.node)];
      if (other.node === def.aggregator && !isAggregator) {
        for (const relayed of hidden) prefixes.push(...ownedPrefixes(def, relayed));
      }
    }
    peers.push(peer(other, prefixes, firstEndpoint(other), null));
  }
  for (const external of redeemedPeersVia(def, self.node)) {
    peers.push({
      node: externalPeerNode(external.name),
      publicKey: external.publicKey,
      endpoint: null,
      allowedIps: [formatCidr(external.cidr)],
      persistentKeepalive: null,
    });
  }
  for (const invitation of invitationPeersVia(def, self.node)) {
    peers.push({
      node: invitationPeerNode(invitation.name),
      publicKey: invitation.inviteKey,
      endpoint: null,
      allowedIps: invitation.pending ? [formatCidr(invitation.cidr)] : [],
      persistentKeepalive: null,
    });
  }
  return peers;
}

/** The resource of `nodeId` in `def`; UnknownNodeError when the node is not a member. */
export function resourceFor(def: NetworkDefinition, nodeId: string): NodeResource {
  const self = def.resources.find((resource) => resource.node === nodeId);
  if (!self) throw new UnknownNodeError(nodeId, def.name);
  const range = parseCidr(def.ipRange) as Cidr;
  const subnet = subnetOf(self);
  const isExit = def.exit === self.node;
  const peers = self.hidden ? peersOfHidden(def, range) : peersOfPublic(def, self);
  const viaExit = def.exit !== undefined && !isExit;
  const routes: RoutePlan[] = [{ destination: formatCidr(range), via: 'mesh' }];
  if (viaExit) routes.push({ destination: formatCidr(DEFAULT_ROUTE), via: 'mesh' });
  const access = accessPolicyOf(def);
  const invitations = self.hidden ? [] : invitationPeersVia(def, self.node);
  const pending = invitations.filter((i) => i.pending).map((i) => formatCidr(i.cidr));
  const services = (def.services ?? [])
    .filter((sv) => sv.node === self.node)
    .map((sv) => ({ name: sv.name, address: sv.address, workload: sv.workload ?? null }));
  return {
    network: def.name,
    netId: netIdOf(def.name),
    revision: def.revision,
    node: self.node,
    subnet: formatCidr(subnet),
    gateway: gatewayOf(subnet),
    wgAddress: wgAddressOf(subnet),
    wgAddressPrefix: WG_ADDRESS_PREFIX,
    listenPort: self.listenPort,
    wgPublicKey: self.wgPublicKey,
    wgPrivateKeySealed: self.wgPrivateKeySealed,
    mtu: WG_MTU,
    hidden: self.hidden,
    role: { aggregator: def.aggregator === self.node, exit: isExit },
    peers,
    routes,
    egress: viaExit ? 'mesh' : 'ndmz',
    ...(access ? { access } : {}),
    ...(invitations.length > 0 ? { enrolment: { port: ENROLMENT_PORT, pending } } : {}),
    ...(services.length > 0 ? { services } : {}),
  };
}
