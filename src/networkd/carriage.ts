/**
 * Per hidden NR, which aggregator carries it — the pure half (no I/O, time given). failover.ts
 * chooses one current aggregator per network, the same on every NR while every hidden NR reaches
 * every aggregator. A hidden NR whose own path to an aggregator fails (its NAT drops that flow)
 * moves alone, though, and then only it and the aggregators know. Without a signal the others
 * would keep sending its traffic to the aggregator it left, and drop what the new one relays from
 * it (WireGuard's source check: its subnet is still on the old aggregator's entry).
 *
 * The signal, in band and without the control plane (carriage-channel.ts):
 * - a hidden NR sends a hello each poll to its current aggregator. On the aggregator, the hidden
 *   NR's receive counter then grows in a poll by more than anything else a hidden NR sends to an
 *   aggregator it does not use (re-dials, keepalives): "it uses me" at once, "no longer" after
 *   DOWN_AFTER_MS without. The counter, not the message: WireGuard counts a packet before its
 *   source check, and the hello's source is still routed to another aggregator then. Keepalives
 *   cannot carry this: WireGuard restarts a peer's keepalive timer on every packet either way, so
 *   the aggregator's 1 s keepalives keep the hidden NR's own from ever firing;
 * - each aggregator announces each poll, to every other NR, the hidden NRs it hears so (a hidden
 *   NR does not need to know, but the announcement is how it hears its current aggregator, whose
 *   keepalives the hellos silence);
 * - every public NR (aggregators included) routes each hidden NR's prefixes to the aggregator
 *   whose claim on it began last (netdef carrierOf): itself if it hears the hidden NR, another
 *   one if it is up and its fresh announcement names it. The newest claim is where the hidden NR
 *   went; the one it left keeps claiming it until DOWN_AFTER_MS of silence, which must not hold
 *   its traffic back.
 * The hand-over (a hidden NR returning to a more preferred aggregator, failover.ts `returning`):
 * moved by hellos alone, the hidden NR would move first and the public NRs a poll and an
 * announcement later, and each side's source check drops the other's traffic in between. So the
 * hidden NR first says in its hellos to the aggregator it still uses whom it moves to (`next`);
 * that aggregator announces the hidden NR as handed over (`to`), every NR that hears it counts it
 * as a claim of `to` beginning then, and the hidden NR, which hears the same announcement, moves
 * too: both ends move on one datagram sent to all at once.
 * A hidden NR that lives on another aggregator than the preferred one is then one relay hop from
 * every public NR, two from a hidden NR on another aggregator (hidden → its aggregator → the
 * other aggregator → hidden): the aggregators relay to each other. Hidden NRs need no
 * announcement: they route everything to their current aggregator.
 */
import { carrierOf } from '../netdef/index.js';
import { DOWN_AFTER_MS } from './failover.js';

/** A WireGuard keepalive on the wire (header 16 + tag 16). */
export const KEEPALIVE_BYTES = 32;
/** A handshake initiation on the wire: a re-dial adds it and a keepalive to the counter. */
export const HANDSHAKE_INITIATION_BYTES = 148;
/**
 * Growth in one poll beyond this is a hello: more than a re-dial and two keepalives (244 bytes),
 * less than one hello (carriage-channel.ts pads it to HELLO_PAYLOAD_BYTES, ≥ 380 on the wire).
 */
export const HELLO_MIN_BYTES = 256;
/** A hello's UDP payload, padded so that one hello alone exceeds HELLO_MIN_BYTES on the wire. */
export const HELLO_PAYLOAD_BYTES = 320;
/** Polls with a hello in a row before a hidden NR counts as using this aggregator. */
export const HELLO_POLLS = 1;

interface Heard {
  /** The aggregator the hidden NR's hellos say it moves to, and since when (null: none). */
  readonly next: { readonly to: string; readonly since: number } | null;
  readonly rxBytes: number | null;
  /** Consecutive polls up to now in which the counter grew by more than HELLO_MIN_BYTES. */
  readonly streak: number;
  readonly lastHelloAt: number | null;
  /** Since when it counts as carried here (heard HELLO_POLLS polls in a row, not silent since); null: not. */
  readonly since: number | null;
}

/**
 * One hidden NR an aggregator carries, and for how long (an age: the NRs' clocks differ); `to`
 * when the hidden NR is being handed over to that aggregator.
 */
export interface Carried {
  readonly hidden: string;
  readonly forMs: number;
  readonly to?: string;
}

interface Announced {
  readonly at: number;
  /** Hidden NR → since when the announcer carries it, on this NR's clock. */
  readonly since: ReadonlyMap<string, number>;
  /** Hidden NR → the aggregator it is handed over to and since when (this NR's clock). */
  readonly handover: ReadonlyMap<string, { readonly to: string; readonly since: number }>;
}

export interface CarriageState {
  readonly heard: ReadonlyMap<string, Heard>;
  readonly announced: ReadonlyMap<string, Announced>;
}

export const initialCarriageState: CarriageState = { heard: new Map(), announced: new Map() };

export interface CarriageInput {
  /** Preference order. */
  readonly aggregators: readonly string[];
  readonly self: string;
  /** The hidden NRs of the network (the failover plan's moves). */
  readonly hidden: readonly string[];
  /** This device's receive counters of the hidden NRs' peers (an aggregator has them). */
  readonly rxBytes: ReadonlyMap<string, number>;
  /** Announcements heard since the last step, oldest first. */
  readonly received: ReadonlyArray<{ readonly from: string; readonly carries: readonly Carried[] }>;
  /** Hellos heard since the last step, oldest first (their content: `next`). */
  readonly hellos?: ReadonlyArray<{ readonly from: string; readonly next: string | null }>;
  /** Liveness of the aggregators (failover.ts). */
  readonly up: ReadonlyMap<string, boolean>;
  /** The network's current aggregator (failover.ts): where a hidden NR no one carries goes. */
  readonly current: string;
  readonly now: number;
}

export interface CarriageStep {
  readonly state: CarriageState;
  /** Hidden NR → the aggregator whose entry carries its prefixes on this NR. */
  readonly carriers: ReadonlyMap<string, string>;
  /** What this NR announces: the hidden NRs it hears (empty unless it is an aggregator). */
  readonly carries: readonly Carried[];
}

export function carriageStep(state: CarriageState, input: CarriageInput): CarriageStep {
  const { aggregators, self, now } = input;
  const isAggregator = aggregators.includes(self);
  const heard = new Map<string, Heard>();
  if (isAggregator) {
    for (const hidden of input.hidden) {
      const before = state.heard.get(hidden);
      const rx = input.rxBytes.get(hidden);
      const previous = before?.rxBytes ?? null;
      // A counter that shrank belongs to a re-added peer: a new baseline, not a hello.
      const hello = rx !== undefined && previous !== null && rx - previous > HELLO_MIN_BYTES;
      const streak = hello ? (before?.streak ?? 0) + 1 : 0;
      const lastHelloAt = hello ? now : (before?.lastHelloAt ?? null);
      const silent = lastHelloAt === null || now - lastHelloAt > DOWN_AFTER_MS;
      const since = silent ? null : (before?.since ?? (streak >= HELLO_POLLS ? now : null));
      // The last hello's word on where it moves; kept while it says the same, gone with the claim.
      const said = input.hellos?.filter((h) => h.from === hidden).at(-1);
      const wanted = said === undefined ? (before?.next?.to ?? null) : said.next;
      const to = since !== null && wanted !== null && wanted !== self && aggregators.includes(wanted) ? wanted : null;
      const next = to === null ? null : before?.next?.to === to ? before.next : { to, since: now };
      heard.set(hidden, { next, rxBytes: rx ?? previous, streak, lastHelloAt, since });
    }
  }
  const announced = new Map(state.announced);
  for (const { from, carries } of input.received) {
    if (from === self || !aggregators.includes(from)) continue;
    const earlier = announced.get(from)?.handover;
    const handover = new Map(
      carries.flatMap((c) =>
        c.to === undefined || !aggregators.includes(c.to)
          ? []
          : [
              [
                c.hidden,
                earlier?.get(c.hidden)?.to === c.to ? earlier.get(c.hidden)! : { to: c.to, since: now },
              ] as const,
            ],
      ),
    );
    announced.set(from, {
      at: now,
      since: new Map(carries.map((c) => [c.hidden, now - Math.max(0, c.forMs)])),
      handover,
    });
  }
  for (const [from, { at }] of announced) if (now - at > DOWN_AFTER_MS) announced.delete(from);
  const next = { heard, announced };
  const facts = claimFacts(next, input);
  const carriers = new Map(input.hidden.map((hidden) => [hidden, carrierOf(aggregators, self, hidden, facts)]));
  const carries = [...heard].flatMap(([hidden, h]) =>
    h.since === null ? [] : [{ hidden, forMs: now - h.since, ...(h.next === null ? {} : { to: h.next.to }) }],
  );
  return { state: next, carriers, carries };
}

/**
 * What carrierOf weighs, from what this NR heard: each aggregator's claim on a hidden NR (its own
 * from the hellos, the others' from their announcements), where a claim being handed over counts
 * for the aggregator it goes to, from the moment the hand-over was first heard, and not for the
 * one that hands it over.
 */
function claimFacts(
  state: CarriageState,
  input: Pick<CarriageInput, 'aggregators' | 'self' | 'up' | 'current'>,
): Parameters<typeof carrierOf>[3] {
  const { self } = input;
  const isUp = (aggregator: string) => input.up.get(aggregator) === true;
  const claimedSince = (aggregator: string, hidden: string): number | null => {
    const own = aggregator === self ? state.heard.get(hidden) : undefined;
    const announced = aggregator === self ? undefined : state.announced.get(aggregator);
    let since =
      own !== undefined
        ? own.next === null
          ? own.since
          : null
        : announced !== undefined && !announced.handover.has(hidden)
          ? (announced.since.get(hidden) ?? null)
          : null;
    const handedOver = [
      state.heard.get(hidden)?.next,
      ...[...state.announced].map(([from, a]) => (from === self || isUp(from) ? a.handover.get(hidden) : undefined)),
    ];
    for (const handover of handedOver)
      if (handover?.to === aggregator && (since === null || handover.since > since)) since = handover.since;
    return since;
  };
  return { isUp, claimedSince, current: input.current };
}

/**
 * Where the announcements heard here place `hidden` (a hidden NR asks it of itself: has the
 * hand-over it asked for been announced?): the aggregator every NR that heard the same
 * announcements routes it to.
 */
export function announcedCarrier(
  state: CarriageState,
  input: Pick<CarriageInput, 'aggregators' | 'self' | 'up' | 'current'>,
  hidden: string,
): string {
  return carrierOf(input.aggregators, input.self, hidden, claimFacts(state, input));
}
