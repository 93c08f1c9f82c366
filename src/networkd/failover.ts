/**
 * Aggregator liveness and the switch between aggregators, for one network on this node: a pure
 * core (no I/O, time given) that is fed each poll's receive counters of the aggregators' peers
 * and answers which aggregator is current, whether that changed, and which peers to re-dial.
 * failover-monitor.ts does the polling and applies the answer.
 *
 * Liveness signal: bytes received from the aggregator's peer (rx_bytes), not the handshake age.
 * WireGuard handshakes only every 2 minutes however busy a peer is (REKEY_AFTER_TIME), and
 * keepalives do not renew them, so a handshake age cannot tell "dead for 3 s" from "alive". A
 * keepalive is a packet, though: the derivation has every aggregator send one to every NR that
 * depends on it each second (FAILOVER_KEEPALIVE_SECONDS), so a live aggregator's counter grows
 * at least once a second on every such NR, and stops on all of them when it dies. Probes over
 * the tunnel would test the same path but need a responder and a socket in every NR; the
 * counter is free, read with the status networkd reads anyway, and works for both backends.
 *
 * The rule, the same on every NR: an aggregator is up while something arrived from it within
 * DOWN_AFTER_MS (this NR itself is always up). The current aggregator is kept while it is up; a
 * current one that goes down is replaced by the first up aggregator in preference order; a more
 * preferred one that returns takes over again only after it has been up for RETURN_AFTER_MS
 * (hysteresis: a flapping node does not flap the network). With none up, the current one stays.
 */

/** Three missed keepalives (1 s apart) and a poll of slack. */
export const DOWN_AFTER_MS = 3_000;
/** How long a returning, more preferred aggregator must stay up before traffic moves back to it. */
export const RETURN_AFTER_MS = 5_000;
/**
 * Before an aggregator was first heard, it is given this long on top of DOWN_AFTER_MS: a network
 * just applied on several nodes at once needs its first handshakes (a busy node takes seconds),
 * and a switch then would flap the network for nothing.
 */
export const FIRST_HEARD_GRACE_MS = 10_000;
/**
 * How long a hidden NR returning to a more preferred aggregator waits for its hand-over to be
 * announced (make before break: see FailoverState.returning) before it moves anyway: the
 * announcement may be lost, or the aggregator it leaves may run a networkd that does not read
 * hand-overs yet (a fleet mid-upgrade). Moving then is what every return did before.
 */
export const RETURN_CONFIRM_MS = 2_000;
/** While an aggregator a hidden NR depends on is down, its peer is re-dialled this often (see `redial`). */
export const REDIAL_EVERY_MS = 1_500;

interface PeerLiveness {
  /** The last counter seen; null before the first poll that had the peer. */
  readonly rxBytes: number | null;
  /** When the counter last grew (or when tracking started: a grace period, not a verdict). */
  readonly heardAt: number;
  /** Since when the peer is up without a break; null while down. */
  readonly upSince: number | null;
  readonly redialedAt: number | null;
}

export interface FailoverState {
  readonly current: string;
  readonly peers: ReadonlyMap<string, PeerLiveness>;
  /**
   * A hidden NR's return under way (make before break): its hellos to its current aggregator
   * name `to` as the next one, and it moves when it hears that aggregator announce the hand-over
   * (confirmReturn; carriage.ts). That announcement is what moves it on every public NR too, so
   * both ends of each of its flows change on one datagram instead of a poll apart (a moved hidden
   * NR's traffic is dropped by the source check of every NR that has not moved yet, and back).
   * Without the announcement it moves after RETURN_CONFIRM_MS, as a forced move does at once.
   */
  readonly returning: { readonly to: string; readonly since: number } | null;
}

export interface FailoverInput {
  /** Preference order (FailoverPlan.aggregators). */
  readonly aggregators: readonly string[];
  /** This NR's node id: an aggregator is always up for itself. */
  readonly self: string;
  /** Whether this NR is hidden: only a hidden NR re-dials (the aggregators cannot dial it). */
  readonly hidden: boolean;
  /** rx_bytes of each aggregator's peer now (absent: no such peer on the device yet). */
  readonly rxBytes: ReadonlyMap<string, number>;
  /**
   * Aggregators whose peer has had a handshake: met for the first time (networkd restarted while
   * wgd kept the device), they get no grace — the device is not new, silence means down.
   */
  readonly handshaken?: ReadonlySet<string>;
  readonly now: number;
}

export interface FailoverSwitch {
  readonly from: string;
  readonly to: string;
  readonly reason: 'down' | 'returned';
}

export interface FailoverStep {
  readonly state: FailoverState;
  /** Set when the current aggregator changed in this step. */
  readonly switched: FailoverSwitch | null;
  /** Aggregators this NR should re-dial now: remove and re-add the peer, which starts a handshake. */
  readonly redial: readonly string[];
  /** Whether each aggregator is up now. */
  readonly up: ReadonlyMap<string, boolean>;
}

/** The state when tracking starts: the preferred aggregator, every peer given a grace period. */
export function initialFailoverState(aggregators: readonly string[], now: number): FailoverState {
  const peers = new Map<string, PeerLiveness>();
  for (const node of aggregators) peers.set(node, firstSeen(now));
  return { current: aggregators[0] ?? '', peers, returning: null };
}

function firstSeen(now: number, grace = true): PeerLiveness {
  return { rxBytes: null, heardAt: grace ? now + FIRST_HEARD_GRACE_MS : now, upSince: now, redialedAt: null };
}

function observe(
  before: PeerLiveness | undefined,
  rx: number | undefined,
  now: number,
  handshaken: boolean,
): PeerLiveness {
  const fresh = before === undefined || before.rxBytes === null;
  // The first reading of a peer that handshook before: the grace is for new devices only.
  const previous = before === undefined || (fresh && handshaken) ? firstSeen(now, !handshaken) : before;
  // A counter that shrank belongs to a re-added peer: a new baseline, not a sign of life.
  const grew = rx !== undefined && previous.rxBytes !== null && rx > previous.rxBytes;
  const heardAt = grew ? now : previous.heardAt;
  const up = now - heardAt <= DOWN_AFTER_MS;
  return {
    rxBytes: rx ?? previous.rxBytes,
    heardAt,
    upSince: up ? (previous.upSince ?? now) : null,
    redialedAt: previous.redialedAt,
  };
}

/** One poll: new liveness, the current aggregator by the rule, and what to re-dial. */
export function failoverStep(state: FailoverState, input: FailoverInput): FailoverStep {
  const { aggregators, self, now } = input;
  const peers = new Map<string, PeerLiveness>();
  const up = new Map<string, boolean>();
  for (const node of aggregators) {
    if (node === self) {
      peers.set(node, {
        rxBytes: null,
        heardAt: now,
        upSince: state.peers.get(node)?.upSince ?? now,
        redialedAt: null,
      });
      up.set(node, true);
      continue;
    }
    const next = observe(state.peers.get(node), input.rxBytes.get(node), now, input.handshaken?.has(node) === true);
    peers.set(node, next);
    up.set(node, next.upSince !== null);
  }
  const isUp = (node: string) => up.get(node) === true;
  const settled = (node: string) =>
    node === self || (isUp(node) && now - (peers.get(node)?.upSince ?? now) >= RETURN_AFTER_MS);
  let current = aggregators.includes(state.current) ? state.current : (aggregators[0] ?? '');
  let switched: FailoverSwitch | null = null;
  let returning: FailoverState['returning'] = null;
  if (isUp(current)) {
    const better = aggregators.slice(0, aggregators.indexOf(current)).find(settled);
    if (better !== undefined) {
      const since = state.returning?.to === better ? state.returning.since : now;
      if (!input.hidden || now - since >= RETURN_CONFIRM_MS)
        switched = { from: current, to: better, reason: 'returned' };
      else returning = { to: better, since };
    }
  } else {
    const next = aggregators.find(isUp);
    if (next !== undefined) switched = { from: current, to: next, reason: 'down' };
  }
  if (switched) current = switched.to;
  const redial: string[] = [];
  if (input.hidden) {
    for (const node of aggregators) {
      const peer = peers.get(node);
      if (!peer || isUp(node) || (peer.redialedAt !== null && now - peer.redialedAt < REDIAL_EVERY_MS)) continue;
      redial.push(node);
      peers.set(node, { ...peer, redialedAt: now });
    }
  }
  return { state: { current, peers, returning }, switched, redial, up };
}

/** A hidden NR's return completed: the aggregator it returns to has announced it (see `returning`). */
export function confirmReturn(state: FailoverState): { state: FailoverState; switched: FailoverSwitch } | null {
  if (state.returning === null) return null;
  return {
    state: { ...state, current: state.returning.to, returning: null },
    switched: { from: state.current, to: state.returning.to, reason: 'returned' },
  };
}
