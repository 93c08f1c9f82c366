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
 *   NR's receive counter then grows every poll by more than keepalives do: "it uses me". Keepalives
 *   cannot carry this: WireGuard restarts a peer's keepalive timer on every packet either way, so
 *   the aggregator's 1 s keepalives keep the hidden NR's own from ever firing. A counter that
 *   grew by keepalives only (the confirmation after a re-dial's handshake) is not a hello;
 * - each aggregator announces each poll, to every public NR, the hidden NRs it hears so;
 * - every public NR (aggregators included) routes each hidden NR's prefixes to the first
 *   aggregator in preference order that carries it (netdef carrierOf): itself if it hears the
 *   hidden NR, another one if it is up and its fresh announcement names it.
 * A hidden NR that lives on another aggregator than the preferred one is then one relay hop from
 * every public NR, two from a hidden NR on another aggregator (hidden → its aggregator → the
 * other aggregator → hidden): the aggregators relay to each other. Hidden NRs need no
 * announcement: they route everything to their current aggregator.
 */
import { carrierOf } from '../netdef/index.js';
import { DOWN_AFTER_MS } from './failover.js';

/** A WireGuard keepalive on the wire (header 16 + tag 16). */
export const KEEPALIVE_BYTES = 32;
/**
 * Growth in one poll beyond this is a hello (≥ 100 bytes on the wire); up to two keepalives are
 * not (a re-dial's confirmation, a hidden NR's own keepalive while the aggregator was silent).
 */
export const HELLO_MIN_BYTES = 2 * KEEPALIVE_BYTES;
/** Polls with a hello within DOWN_AFTER_MS before a hidden NR counts as using this aggregator. */
export const HELLO_POLLS = 1;

interface Heard {
  readonly rxBytes: number | null;
  /** When the counter last grew by more than a keepalive, newest last (at most HELLO_POLLS). */
  readonly helloAt: readonly number[];
}

interface Announced {
  readonly at: number;
  readonly carries: ReadonlySet<string>;
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
  readonly received: ReadonlyArray<{ readonly from: string; readonly carries: readonly string[] }>;
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
  readonly carries: readonly string[];
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
      const helloAt = [...(before?.helloAt ?? []), ...(hello ? [now] : [])].slice(-HELLO_POLLS);
      heard.set(hidden, { rxBytes: rx ?? previous, helloAt });
    }
  }
  const liveHere = (hidden: string) => {
    const at = heard.get(hidden)?.helloAt ?? [];
    return at.length >= HELLO_POLLS && at.every((t) => now - t <= DOWN_AFTER_MS);
  };
  const announced = new Map(state.announced);
  for (const { from, carries } of input.received) {
    if (from !== self && aggregators.includes(from)) announced.set(from, { at: now, carries: new Set(carries) });
  }
  for (const [from, { at }] of announced) if (now - at > DOWN_AFTER_MS) announced.delete(from);
  const facts = {
    isUp: (aggregator: string) => input.up.get(aggregator) === true,
    announces: (aggregator: string, hidden: string) => announced.get(aggregator)?.carries.has(hidden) === true,
    liveHere,
    current: input.current,
  };
  const carriers = new Map(input.hidden.map((hidden) => [hidden, carrierOf(aggregators, self, hidden, facts)]));
  return {
    state: { heard, announced },
    carriers,
    carries: isAggregator ? input.hidden.filter(liveHere) : [],
  };
}
