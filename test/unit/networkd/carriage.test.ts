/**
 * Which aggregator carries each hidden NR (src/networkd/carriage.ts) on a fake clock: an
 * aggregator carries the hidden NRs whose hellos it hears (keepalives are not hellos), announces
 * them, and stops within DOWN_AFTER_MS of silence; every public NR routes a hidden NR to the first
 * live aggregator that carries it, ignores stale, dead and unknown announcers, and falls back to
 * the network's current aggregator; the whole "hidden NR cut from the preferred aggregator alone"
 * scenario converges on every NR.
 */

import test from 'ava';
import {
  type CarriageInput,
  type Carried,
  type CarriageState,
  HANDSHAKE_INITIATION_BYTES,
  HELLO_MIN_BYTES,
  HELLO_PAYLOAD_BYTES,
  HELLO_POLLS,
  KEEPALIVE_BYTES,
  announcedCarrier,
  carriageStep,
  initialCarriageState,
} from '../../../src/networkd/carriage.js';
import { DOWN_AFTER_MS, REDIAL_EVERY_MS } from '../../../src/networkd/failover.js';

const AGGREGATORS = ['a1', 'a2'];
const HIDDEN = ['h1', 'h2'];
const HELLO = HELLO_PAYLOAD_BYTES + 28 + 32; // a hello datagram on the wire (IP, UDP, WireGuard)
const bothUp = new Map([
  ['a1', true],
  ['a2', true],
]);

function input(self: string, now: number, over: Partial<CarriageInput> = {}): CarriageInput {
  return {
    aggregators: AGGREGATORS,
    self,
    hidden: HIDDEN,
    rxBytes: new Map(),
    received: [],
    up: bothUp,
    current: 'a1',
    now,
    ...over,
  };
}

test('an aggregator carries the hidden NRs whose hellos it hears, and stops after DOWN_AFTER_MS of silence', (t) => {
  let state: CarriageState = initialCarriageState;
  let rx = 1_000;
  let step = carriageStep(state, input('a2', 0, { rxBytes: new Map([['h1', rx]]) }));
  t.deepEqual(step.carries, [], 'the first reading is a baseline');
  for (let now = 500; now <= 2_000; now += 500) {
    rx += HELLO;
    step = carriageStep(step.state, input('a2', now, { rxBytes: new Map([['h1', rx]]) }));
    t.is(step.carries.length, now / 500 >= HELLO_POLLS ? 1 : 0, `${HELLO_POLLS} polls in a row (${now} ms)`);
  }
  t.deepEqual(step.carries, [{ hidden: 'h1', forMs: 2_000 - 500 * HELLO_POLLS }], 'carried since its first hello');
  t.is(step.carriers.get('h1'), 'a2', 'on its own entry');
  state = step.state;
  for (let now = 2_500; now <= 2_000 + DOWN_AFTER_MS; now += 500) {
    step = carriageStep(state, input('a2', now, { rxBytes: new Map([['h1', rx]]) }));
    state = step.state;
    t.deepEqual(
      step.carries.map((c) => c.hidden),
      ['h1'],
      `still carried at ${now} ms`,
    );
  }
  step = carriageStep(state, input('a2', 2_500 + DOWN_AFTER_MS, { rxBytes: new Map([['h1', rx]]) }));
  t.deepEqual(step.carries, []);
});

test('keepalives and re-dials are not hellos: an aggregator does not claim a hidden NR that only re-dials it', (t) => {
  let state: CarriageState = initialCarriageState;
  let rx = 500;
  for (let now = 0; now <= 6_000; now += 500) {
    const step = carriageStep(state, input('a1', now, { rxBytes: new Map([['h1', rx]]) }));
    t.deepEqual(step.carries, [], `${now} ms`);
    state = step.state;
    // A re-dial (handshake and its confirmation) every 1.5 s, with up to two keepalives besides.
    rx += now % REDIAL_EVERY_MS === 0 ? HANDSHAKE_INITIATION_BYTES + 3 * KEEPALIVE_BYTES : 2 * KEEPALIVE_BYTES;
  }
  // A counter that shrank (the peer re-added) is a new baseline, not a hello.
  t.true(HANDSHAKE_INITIATION_BYTES + 3 * KEEPALIVE_BYTES <= HELLO_MIN_BYTES && HELLO > HELLO_MIN_BYTES);
  const step = carriageStep(state, input('a1', 6_500, { rxBytes: new Map([['h1', 10]]) }));
  t.deepEqual(step.carries, []);
});

test('a public NR routes a hidden NR to the live aggregator whose claim is newest, else to the current one', (t) => {
  const announce = (from: string, carries: string[], forMs = 10_000) => ({
    from,
    carries: carries.map((hidden) => ({ hidden, forMs })),
  });
  let step = carriageStep(initialCarriageState, input('p', 0));
  t.deepEqual(
    [...step.carriers],
    [
      ['h1', 'a1'],
      ['h2', 'a1'],
    ],
  );
  t.deepEqual(step.carries, [], 'a public NR announces nothing');
  step = carriageStep(step.state, input('p', 500, { received: [announce('a1', ['h2']), announce('a2', ['h1'])] }));
  t.is(step.carriers.get('h1'), 'a2');
  t.is(step.carriers.get('h2'), 'a1');
  // Both claim h1 for a moment (it is moving back to a1): the newer claim wins, whatever the order.
  step = carriageStep(
    step.state,
    input('p', 1_000, { received: [announce('a1', ['h1'], 200), announce('a1', ['h2'])] }),
  );
  t.is(step.carriers.get('h2'), 'a1');
  t.is(step.carriers.get('h1'), 'a2', 'the last announcement of a1 replaces the one before');
  step = carriageStep(step.state, input('p', 1_000, { received: [announce('a1', ['h1', 'h2'], 200)] }));
  t.is(step.carriers.get('h1'), 'a1', "a1's claim (200 ms) is newer than a2's (10 s)");
  step = carriageStep(step.state, input('p', 1_000, { received: [announce('a2', ['h1'], 100)] }));
  t.is(step.carriers.get('h1'), 'a2', "and a2's newer still (100 ms): it wins although a1 is preferred");
  step = carriageStep(step.state, input('p', 1_000, { received: [announce('a2', ['h1'], 200)] }));
  t.is(step.carriers.get('h1'), 'a1', 'equal starts: preference order');
  // a1 down (its keepalives stopped): its last announcement no longer counts.
  step = carriageStep(
    step.state,
    input('p', 1_500, {
      up: new Map([
        ['a1', false],
        ['a2', true],
      ]),
      current: 'a2',
    }),
  );
  t.is(step.carriers.get('h1'), 'a2');
  t.is(step.carriers.get('h2'), 'a2', 'no live announcer: the current aggregator');
  // Announcements go stale after DOWN_AFTER_MS without a new one.
  step = carriageStep(step.state, input('p', 1_000 + DOWN_AFTER_MS + 500));
  t.is(step.carriers.get('h1'), 'a1', 'a2 fell silent: back to the current aggregator');
});

test('announcements from a non-aggregator or from the NR itself are ignored', (t) => {
  const step = carriageStep(
    initialCarriageState,
    input('a1', 0, {
      received: [
        { from: 'p', carries: [{ hidden: 'h1', forMs: 0 }] },
        { from: 'a1', carries: [{ hidden: 'h2', forMs: 0 }] },
      ],
    }),
  );
  t.is(step.state.announced.size, 0);
  t.is(step.carriers.get('h1'), 'a1', 'an aggregator keeps a hidden NR no one carries on its own entry');
});

/**
 * The scenario: h1's NAT drops its flow to a1, everything else stays. Three NRs run the rule
 * every 500 ms, hearing what the others announced in the previous poll; h1 moves to a2 at 3.5 s
 * (its own switch rule) and starts saying hello there.
 */
test('a hidden NR cut from the preferred aggregator alone: a1, a2 and a public NR all route it via a2, the other hidden NR stays on a1', (t) => {
  const nodes = ['a1', 'a2', 'p'];
  const states = new Map<string, CarriageState>(nodes.map((n) => [n, initialCarriageState]));
  const rx = new Map<string, Map<string, number>>([
    [
      'a1',
      new Map([
        ['h1', 0],
        ['h2', 0],
      ]),
    ],
    [
      'a2',
      new Map([
        ['h1', 0],
        ['h2', 0],
      ]),
    ],
  ]);
  let inFlight: Array<{ from: string; carries: readonly Carried[] }> = [];
  const cutAt = 10_000;
  const h1MovesAt = cutAt + 3_500;
  const carriersAt = new Map<number, Map<string, Map<string, string>>>();
  for (let now = 0; now <= 20_000; now += 500) {
    // Hellos of the last 500 ms: h2 always to a1; h1 to a1 until the cut, to a2 once it moved.
    rx.get('a1')!.set('h2', rx.get('a1')!.get('h2')! + HELLO);
    if (now < cutAt) rx.get('a1')!.set('h1', rx.get('a1')!.get('h1')! + HELLO);
    if (now >= h1MovesAt) rx.get('a2')!.set('h1', rx.get('a2')!.get('h1')! + HELLO);
    const heard = inFlight;
    inFlight = [];
    const byNode = new Map<string, Map<string, string>>();
    for (const node of nodes) {
      const step = carriageStep(states.get(node)!, input(node, now, { rxBytes: rx.get(node), received: heard }));
      states.set(node, step.state);
      byNode.set(node, new Map(step.carriers));
      if (node !== 'p') inFlight.push({ from: node, carries: step.carries });
    }
    carriersAt.set(now, byNode);
  }
  for (const node of nodes) {
    t.is(carriersAt.get(9_500)!.get(node)!.get('h1'), 'a1', `${node} before the cut`);
    t.is(carriersAt.get(20_000)!.get(node)!.get('h1'), 'a2', `${node} after h1 moved`);
    t.is(carriersAt.get(20_000)!.get(node)!.get('h2'), 'a1', `${node}: h2 never moves`);
    // Within a poll and an announcement of h1's move, every NR agrees.
    const settled = [...carriersAt].find(([at, m]) => at >= h1MovesAt && m.get(node)!.get('h1') === 'a2')?.[0];
    t.true(settled !== undefined && settled - h1MovesAt <= 1_000, `${node} routes h1 via a2 ${settled} ms`);
    t.true(
      // From a1's first announcement on (before it, a2 keeps h2 on its own entry: no one claimed it).
      [...carriersAt].every(([at, m]) => at < 1_000 || m.get(node)!.get('h2') === 'a1'),
      `${node} kept h2 on a1 throughout`,
    );
  }
});

/**
 * The hand-over: h1 lives on a2 and returns to a1. Its hellos to a2 name a1 as next; a2 then
 * announces h1 handed over, and a2 itself, a1, a public NR and h1 (which hears the same
 * announcement) all place h1 on a1 from that one announcement on, and never back on a2 while a2's
 * claim lapses and a1's own begins (hellos arrive at a1 once h1 moved).
 */
test('a hand-over announced by the aggregator a hidden NR leaves moves it on every NR at once, the hidden NR included', (t) => {
  const nodes = ['a1', 'a2', 'p', 'h1'];
  const states = new Map<string, CarriageState>(nodes.map((n) => [n, initialCarriageState]));
  const rx = { a1: 0, a2: 0 };
  let inFlight: Array<{ from: string; carries: readonly Carried[] }> = [];
  const asksAt = 5_000; // h1's hellos to a2 say next: a1
  let movedAt: number | null = null; // h1 moves once it hears the hand-over
  const placed = new Map<number, Map<string, string>>();
  for (let now = 0; now <= 12_000; now += 500) {
    if (movedAt === null) rx.a2 += HELLO;
    else rx.a1 += HELLO;
    const hellos = movedAt === null && now >= asksAt ? [{ from: 'h1', next: 'a1' }] : [{ from: 'h1', next: null }];
    const heard = inFlight;
    inFlight = [];
    const row = new Map<string, string>();
    for (const node of nodes) {
      const own = node === 'a1' || node === 'a2';
      const step = carriageStep(
        states.get(node)!,
        input(node, now, {
          hidden: ['h1'],
          rxBytes: own ? new Map([['h1', rx[node as 'a1' | 'a2']]]) : new Map(),
          received: heard,
          // Only the aggregator h1 says hello to reads what it says.
          hellos: node === (movedAt === null ? 'a2' : 'a1') ? hellos : [],
        }),
      );
      states.set(node, step.state);
      row.set(
        node,
        node === 'h1'
          ? announcedCarrier(step.state, { aggregators: AGGREGATORS, self: 'h1', up: bothUp, current: 'a2' }, 'h1')
          : step.carriers.get('h1')!,
      );
      if (own) inFlight.push({ from: node, carries: step.carries });
    }
    placed.set(now, row);
    if (movedAt === null && row.get('h1') === 'a1') movedAt = now;
  }
  for (const node of nodes) t.is(placed.get(asksAt - 500)!.get(node), 'a2', `${node} before the hand-over`);
  t.is(placed.get(asksAt)!.get('a2'), 'a1', 'a2 moves it as soon as it reads the hello');
  const announcedAt = asksAt + 500; // a2's announcement of that poll, heard in the next
  t.deepEqual(
    [...placed.get(announcedAt)!.values()],
    ['a1', 'a1', 'a1', 'a1'],
    'one announcement later every NR, h1 included, places h1 on a1',
  );
  t.is(movedAt, announcedAt);
  for (const [at, row] of placed)
    if (at >= announcedAt) t.deepEqual([...row.values()], ['a1', 'a1', 'a1', 'a1'], `all on a1 at ${at} ms`);
  const a2 = carriageStep(
    states.get('a2')!,
    input('a2', 12_500, { hidden: ['h1'], rxBytes: new Map([['h1', rx.a2]]) }),
  );
  t.deepEqual(a2.carries, [], "a2's claim lapsed after h1 left");
});

test('a hello naming an unknown or the same aggregator as next is no hand-over', (t) => {
  let state: CarriageState = initialCarriageState;
  let rx = 0;
  for (let now = 0; now <= 2_000; now += 500) {
    rx += HELLO;
    const step = carriageStep(
      state,
      input('a2', now, {
        hidden: ['h1'],
        rxBytes: new Map([['h1', rx]]),
        hellos: [{ from: 'h1', next: now < 1_500 ? 'nobody' : 'a2' }],
      }),
    );
    state = step.state;
    t.true(
      step.carries.every((c) => c.to === undefined),
      `${now} ms`,
    );
    if (now > 0) t.is(step.carriers.get('h1'), 'a2');
  }
});
