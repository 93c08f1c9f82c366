/**
 * The switch rule (src/networkd/failover.ts) on a fake clock: silence past DOWN_AFTER_MS moves to
 * the next live aggregator, a returning preferred one takes over only after RETURN_AFTER_MS of
 * life (a flap does not; a hidden NR then waits for its hand-over to be announced), the NR itself
 * is always up, hidden NRs re-dial silent aggregators.
 */

import test from 'ava';
import {
  DOWN_AFTER_MS,
  FIRST_HEARD_GRACE_MS,
  type FailoverState,
  type FailoverStep,
  REDIAL_EVERY_MS,
  RETURN_AFTER_MS,
  RETURN_CONFIRM_MS,
  confirmReturn,
  failoverStep,
  initialFailoverState,
} from '../../../src/networkd/failover.js';

const AGGREGATORS = ['a1', 'a2', 'a3'];

/** Drives the rule every 500 ms; `alive(node, t)` says whether a keepalive arrived since the last poll. */
class Clock {
  now = 0;
  state: FailoverState;
  rx = new Map<string, number>(AGGREGATORS.map((a) => [a, 100]));
  readonly steps: FailoverStep[] = [];

  constructor(
    readonly self: string,
    readonly hidden: boolean,
  ) {
    this.state = initialFailoverState(AGGREGATORS, 0);
  }

  run(untilMs: number, alive: (node: string, t: number) => boolean): void {
    while (this.now < untilMs) {
      this.now += 500;
      for (const node of AGGREGATORS) if (alive(node, this.now)) this.rx.set(node, this.rx.get(node)! + 32);
      const step = failoverStep(this.state, {
        aggregators: AGGREGATORS,
        self: this.self,
        hidden: this.hidden,
        rxBytes: this.rx,
        now: this.now,
      });
      this.state = step.state;
      this.steps.push(step);
    }
  }

  switches() {
    return this.steps.flatMap((s, i) => (s.switched ? [{ at: (i + 1) * 500, ...s.switched }] : []));
  }
}

test('the preferred aggregator silent for DOWN_AFTER_MS: the next live one becomes current, by the same rule on every NR', (t) => {
  for (const [self, hidden] of [
    ['h', true],
    ['p', false],
    ['a2', false],
  ] as const) {
    const clock = new Clock(self, hidden);
    clock.run(10_000, (node, now) => node !== 'a1' || now <= 4_000);
    const [first, ...rest] = clock.switches();
    t.like(first, { from: 'a1', to: 'a2', reason: 'down' }, self);
    t.true(
      first!.at > 4_000 + DOWN_AFTER_MS - 500 && first!.at <= 4_000 + DOWN_AFTER_MS + 500,
      `${self}: ${first!.at}`,
    );
    t.deepEqual(rest, [], self);
  }
});

test('two aggregators down: the third; the NR itself counts as up, so an aggregator picks itself', (t) => {
  const clock = new Clock('p', false);
  clock.run(20_000, (node) => node === 'a3');
  t.is(clock.state.current, 'a3');
  const a2 = new Clock('a2', false);
  a2.run(20_000, () => false);
  t.is(a2.state.current, 'a2', 'a2 hears nobody and serves itself');
});

test('a returning preferred aggregator takes over after RETURN_AFTER_MS of life; a flap shorter than that changes nothing', (t) => {
  for (const [self, hidden] of [
    ['p', false],
    ['h', true],
  ] as const) {
    const clock = new Clock(self, hidden);
    // a1 dies at 2 s, flaps up for 2 s at 10 s, returns for good at 20 s.
    clock.run(40_000, (node, now) => node !== 'a1' || now <= 2_000 || (now > 10_000 && now <= 12_000) || now > 20_000);
    const switches = clock.switches();
    t.deepEqual(
      switches.map((s) => [s.from, s.to, s.reason]),
      [
        ['a1', 'a2', 'down'],
        ['a2', 'a1', 'returned'],
      ],
      self,
    );
    // A hidden NR whose hand-over is never announced (here: nobody announces) moves RETURN_CONFIRM_MS later.
    const due = 20_000 + RETURN_AFTER_MS + (hidden ? RETURN_CONFIRM_MS : 0);
    t.true(switches[1]!.at >= due && switches[1]!.at <= due + 1_000, `${self}: ${switches[1]!.at}`);
  }
});

test('a hidden NR returning waits for its hand-over (returning), and confirmReturn completes the move at once', (t) => {
  const clock = new Clock('h', true);
  clock.run(20_000 + RETURN_AFTER_MS + 500, (node, now) => node !== 'a1' || now <= 2_000 || now > 20_000);
  t.is(clock.state.current, 'a2', 'still on a2');
  t.like(clock.state.returning, { to: 'a1' });
  const since = clock.state.returning!.since;
  clock.run(clock.now + 500, (node, now) => node !== 'a1' || now > 20_000);
  t.is(clock.state.returning?.since, since, 'the return keeps its start while it waits');
  const confirmed = confirmReturn(clock.state);
  t.deepEqual(confirmed?.switched, { from: 'a2', to: 'a1', reason: 'returned' });
  t.is(confirmed?.state.current, 'a1');
  t.is(confirmed?.state.returning, null);
  t.is(confirmReturn(confirmed!.state), null, 'nothing to confirm once moved');
  // a1 dies again before the hand-over: the return is dropped.
  const again = new Clock('h', true);
  again.run(20_000 + RETURN_AFTER_MS + 500, (node, now) => node !== 'a1' || now <= 2_000 || now > 20_000);
  again.run(again.now + DOWN_AFTER_MS + 1_000, (node) => node !== 'a1');
  t.is(again.state.returning, null);
  t.is(again.state.current, 'a2');
});

test('an aggregator never heard is given FIRST_HEARD_GRACE_MS before it counts as down', (t) => {
  const clock = new Clock('p', false);
  clock.run(FIRST_HEARD_GRACE_MS + DOWN_AFTER_MS, (node) => node !== 'a1');
  t.deepEqual(clock.switches(), []);
  clock.run(FIRST_HEARD_GRACE_MS + DOWN_AFTER_MS + 1_000, (node) => node !== 'a1');
  t.like(clock.switches()[0], { from: 'a1', to: 'a2', reason: 'down' });
});

test('with every aggregator silent the current one stays (nothing better to move to)', (t) => {
  const clock = new Clock('h', true);
  clock.run(10_000, () => false);
  t.is(clock.state.current, 'a1');
  t.deepEqual(clock.switches(), []);
});

test('a hidden NR re-dials each silent aggregator every REDIAL_EVERY_MS; a public one never does', (t) => {
  const hidden = new Clock('h', true);
  hidden.run(25_000, (node) => node !== 'a3');
  const redials = hidden.steps.flatMap((s, i) => s.redial.map((node) => ({ node, at: (i + 1) * 500 })));
  t.true(redials.length >= 3);
  t.true(redials.every((r) => r.node === 'a3'));
  for (let i = 1; i < redials.length; i++) t.true(redials[i]!.at - redials[i - 1]!.at >= REDIAL_EVERY_MS);
  const pub = new Clock('p', false);
  pub.run(25_000, (node) => node !== 'a3');
  t.deepEqual(
    pub.steps.flatMap((s) => s.redial),
    [],
  );
});

test('a counter that shrank (the peer was re-added) is a new baseline, not a sign of life', (t) => {
  let state = initialFailoverState(['a1', 'a2'], 0);
  const input = (now: number, rx: number) => ({
    aggregators: ['a1', 'a2'],
    self: 'h',
    hidden: true,
    rxBytes: new Map([
      ['a1', rx],
      ['a2', 50 + now],
    ]),
    now,
  });
  state = failoverStep(state, input(500, 1000)).state;
  state = failoverStep(state, input(1000, 1001)).state; // heard: the grace is over
  let step = failoverStep(state, input(4_500, 0));
  t.is(step.state.current, 'a2');
  state = step.state;
  step = failoverStep(state, input(5_000, 0));
  t.false(step.up.get('a1'));
});

test('an aggregator that handshook before tracking began (networkd restarted, wgd kept the device) gets no grace', (t) => {
  const aggregators = ['a1', 'a2'];
  let state = initialFailoverState(aggregators, 0);
  let step: FailoverStep | undefined;
  for (let now = 500; now <= DOWN_AFTER_MS + 1_000; now += 500) {
    step = failoverStep(state, {
      aggregators,
      self: 'p',
      hidden: false,
      rxBytes: new Map([
        ['a1', 5_000],
        ['a2', 5_000 + now],
      ]),
      handshaken: new Set(aggregators),
      now,
    });
    state = step.state;
  }
  t.like(step?.state, { current: 'a2' });
  t.false(step?.up.get('a1'));
});
