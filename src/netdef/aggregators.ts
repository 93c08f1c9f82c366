/**
 * A network's aggregators (the public NRs that relay for hidden NRs), in preference order, and
 * the pure half of failover between them.
 *
 * A definition names them as `aggregators: [A, B, …]`, or as the older single `aggregator: A`
 * (read as a list of one; both at once is refused). WireGuard routes one prefix to one peer of a
 * device, so only one aggregator's entry carries a given hidden subnet at a time. The derivation
 * (derive.ts) gives every NR the preferred assignment (the first aggregator) plus a FailoverPlan:
 * for each set of prefixes that follows the current aggregator, which peer entry carries it while
 * each aggregator is the current one. The data path (networkd's liveness) decides which is
 * current; `peersWithCurrent` turns that into the peers to configure — allowed IPs only, the
 * peers themselves never change.
 *
 * The switch rule every NR applies alike: the current aggregator is the first one in preference
 * order that is up. Since an aggregator that dies goes silent for every NR at once, they all
 * reach the same choice without talking to the control plane.
 */

import type { ValidationIssue } from './errors.js';
import { type Cidr, canonicalPrefixes, parseCidr } from './ipv4.js';
import type { NetworkDefinition, NetworkDefinitionDocument, ResourceDocument } from './schema.js';

/**
 * The UDP port of failover's in-band channel (hellos and carriage announcements), on each NR's
 * WireGuard address: next to the enrolment port (51821). Traffic to it is taken only from the
 * WireGuard device (the NR's table drops it from anywhere else: see nr/tables.ts).
 */
export const CARRIAGE_PORT = 51_822;

/** The aggregators of a definition in preference order (empty when it has none). */
export function aggregatorsOf(def: {
  readonly aggregator?: string | undefined;
  readonly aggregators?: readonly string[] | undefined;
}): readonly string[] {
  if (def.aggregators !== undefined) return def.aggregators;
  return def.aggregator === undefined ? [] : [def.aggregator];
}

/** Where a set of prefixes goes while `aggregator` is the current one: the entry of `peer`. */
export interface FailoverCandidate {
  readonly aggregator: string;
  readonly peer: string;
}

/** Prefixes that follow the current aggregator, with one candidate entry per aggregator, in preference order. */
export interface FailoverMove {
  /**
   * On a public NR: the hidden NR these prefixes belong to (they follow the aggregator that
   * carries it, see `carrierOf`); absent on a hidden NR (its relayed prefixes follow its current).
   */
  readonly hidden?: string;
  readonly prefixes: readonly string[];
  readonly candidates: readonly FailoverCandidate[];
}

/** Present on an NR's resource when the network has more than one aggregator. */
export interface FailoverPlan {
  /** Preference order; the first is the one the resource's peers carry. */
  readonly aggregators: readonly string[];
  readonly moves: readonly FailoverMove[];
  /**
   * The WireGuard address of every NR of the network: where the in-band carriage announcements
   * and hellos go, and whom they may come from (networkd/carriage.ts).
   */
  readonly addresses: Readonly<Record<string, string>>;
}

/** The switch rule without memory: the first aggregator in preference order that is up (null: none is). */
export function firstUpAggregator(aggregators: readonly string[], isUp: (node: string) => boolean): string | null {
  return aggregators.find(isUp) ?? null;
}

/**
 * Which aggregator carries hidden NR `hidden` for an NR (public or aggregator) that is not it.
 * Claimants: this NR itself when it is an aggregator and hears `hidden` (`claimedSince(self)`),
 * another aggregator when it is up and its fresh announcement names `hidden`. A hidden NR says
 * hello only to the aggregator it uses now, so the claim that began last is the true one: an
 * older claim is the aggregator it left, not silent for long enough yet to drop it. Equal starts
 * go by preference order. With no claimant, an aggregator keeps the hidden NR on its own entry
 * (so that its packets pass the source check and it can be heard at all), any other NR follows
 * the network's current aggregator. Every NR then sends a hidden NR's traffic to the aggregator
 * the hidden NR itself uses, and accepts its packets from there.
 */
export function carrierOf(
  aggregators: readonly string[],
  self: string,
  hidden: string,
  facts: {
    readonly isUp: (aggregator: string) => boolean;
    /** When the aggregator's claim on `hidden` began (any one clock), null when it has none. */
    readonly claimedSince: (aggregator: string, hidden: string) => number | null;
    readonly current: string;
  },
): string {
  let best: { aggregator: string; since: number } | null = null;
  for (const aggregator of aggregators) {
    if (aggregator !== self && !facts.isUp(aggregator)) continue;
    const since = facts.claimedSince(aggregator, hidden);
    if (since !== null && (best === null || since > best.since)) best = { aggregator, since };
  }
  if (best !== null) return best.aggregator;
  return aggregators.includes(self) ? self : facts.current;
}

interface PeerWithPrefixes {
  readonly node: string;
  readonly allowedIps: readonly string[];
}

/**
 * The peers of a resource while `current` is the current aggregator: every move's prefixes leave
 * the entries of the other candidates and join the current one's. An unknown `current` (or no
 * plan) leaves the preferred assignment. Each list stays canonical.
 */
export function peersWithCurrent<P extends PeerWithPrefixes>(
  peers: readonly P[],
  failover: FailoverPlan | undefined,
  current: string,
): P[] {
  if (failover === undefined || !failover.aggregators.includes(current)) return [...peers];
  return peersWithCarriers(peers, failover, () => current);
}

/**
 * The peers of a resource with each move's prefixes on the entry of the aggregator `carrier`
 * names for it (a hidden NR's own move: its current; a public NR's: the hidden NR's carrier).
 * An aggregator that is not in the plan leaves that move's prefixes where the preferred one puts them.
 */
export function peersWithCarriers<P extends PeerWithPrefixes>(
  peers: readonly P[],
  failover: FailoverPlan | undefined,
  carrier: (move: FailoverMove) => string,
): P[] {
  if (failover === undefined) return [...peers];
  const moving = new Set(failover.moves.flatMap((move) => move.prefixes));
  const added = new Map<string, string[]>();
  for (const move of failover.moves) {
    const chosen = carrier(move);
    const target =
      move.candidates.find((candidate) => candidate.aggregator === chosen) ??
      move.candidates.find((candidate) => candidate.aggregator === failover.aggregators[0]);
    if (target === undefined) continue;
    added.set(target.peer, [...(added.get(target.peer) ?? []), ...move.prefixes]);
  }
  return peers.map((peer) => {
    const kept = peer.allowedIps.filter((prefix) => !moving.has(prefix));
    const extra = added.get(peer.node) ?? [];
    if (kept.length === peer.allowedIps.length && extra.length === 0) return peer;
    const cidrs = [...kept, ...extra].map((text) => parseCidr(text) as Cidr);
    return { ...peer, allowedIps: canonicalPrefixes(cidrs) };
  });
}

/** Semantic issues of the aggregator fields, each at the JSON path to fix. */
export function aggregatorIssues(
  def: NetworkDefinitionDocument,
  byNode: ReadonlyMap<string, ResourceDocument>,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const hidden = def.resources.filter((resource) => resource.hidden).map((resource) => resource.node);
  if (def.aggregator !== undefined && def.aggregators !== undefined) {
    issues.push({
      path: '/aggregators',
      message: 'give either aggregator (one node) or aggregators (a list in preference order), not both',
    });
    return issues;
  }
  const listed = aggregatorsOf(def);
  if (listed.length === 0) {
    if (hidden.length > 0) {
      const shown = hidden.slice(0, 5).join(', ') + (hidden.length > 5 ? ', ...' : '');
      issues.push({
        path: def.aggregators === undefined ? '/aggregator' : '/aggregators',
        message: `required while NRs are hidden (${shown}): hidden NRs need a public aggregator`,
      });
    }
    return issues;
  }
  const seen = new Map<string, number>();
  listed.forEach((node, index) => {
    const path = def.aggregators === undefined ? '/aggregator' : `/aggregators/${index}`;
    const first = seen.get(node);
    if (first !== undefined) {
      issues.push({ path, message: `aggregator "${node}" is listed twice (also /aggregators/${first})` });
      return;
    }
    seen.set(node, index);
    const resource = byNode.get(node);
    if (!resource) {
      issues.push({ path, message: `aggregator "${node}" is not a member of the network` });
    } else if (resource.hidden) {
      issues.push({ path, message: `aggregator "${node}" is hidden: an aggregator must be a public NR` });
    } else if (resource.endpoints.length === 0) {
      issues.push({ path, message: `aggregator "${node}" has no endpoint: hidden NRs could not dial it` });
    }
  });
  return issues;
}

/** True when the definition names `node` among its aggregators. */
export function isAggregator(def: NetworkDefinition, node: string): boolean {
  return aggregatorsOf(def).includes(node);
}
