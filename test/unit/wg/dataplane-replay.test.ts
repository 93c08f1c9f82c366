// The C replay window (native/wg_replay.c) against the Linux module's
// self-test vectors (drivers/net/wireguard/selftest/counter.c).
import test from 'ava';

import { dataplaneTestHooks } from '../../../src/wg/dataplane.js';

const WINDOW = 8192 - 64; // COUNTER_WINDOW_SIZE: 8128 usable counters
const LIM = WINDOW + 1; // T_LIM
const REJECT = 2n ** 64n - 2n ** 13n - 1n; // REJECT_AFTER_MESSAGES

type Step = [bigint | number, boolean];

function run(steps: Step[]): { got: boolean[]; want: boolean[] } {
  const got = dataplaneTestHooks().replayWindow(steps.map(([c]) => BigInt(c)));
  return { got, want: steps.map(([, ok]) => ok) };
}

function firstMismatch(steps: Step[]): string | null {
  const { got, want } = run(steps);
  const i = got.findIndex((g, k) => g !== want[k]);
  return i < 0 ? null : `step ${i + 1}: counter ${steps[i]![0]} accepted=${got[i]}, want ${want[i]}`;
}

test('replay window: the kernel vectors for first, duplicate, in-window, just-outside, far jumps and the message limit', (t) => {
  const steps: Step[] = [
    [0, true],
    [1, true],
    [1, false],
    [9, true],
    [8, true],
    [7, true],
    [7, false],
    [LIM, true],
    [LIM - 1, true],
    [LIM - 1, false],
    [LIM - 2, true],
    [2, true],
    [2, false],
    [LIM + 16, true],
    [3, false],
    [LIM + 16, false],
    [LIM * 4, true],
    [LIM * 4 - (LIM - 1), true],
    [10, false],
    [LIM * 4 - LIM, false],
    [LIM * 4 - (LIM + 1), false],
    [LIM * 4 - (LIM - 2), true],
    [LIM * 4 + 1 - LIM, false],
    [0, false],
    [REJECT, false],
    [REJECT - 1n, true],
    [REJECT, false],
    [REJECT - 1n, false],
    [REJECT - 2n, true],
    [REJECT + 1n, false],
    [REJECT + 2n, false],
    [REJECT - 2n, false],
    [REJECT - 3n, true],
    [0, false],
  ];
  t.is(firstMismatch(steps), null);
});

test('replay window: all 8128 counters after 0 fill the window and 0 is still accepted once', (t) => {
  const steps: Step[] = [];
  for (let i = 1; i <= WINDOW; ++i) steps.push([i, true]);
  steps.push([0, true], [0, false]);
  t.is(firstMismatch(steps), null);
});

test('replay window: one counter further and 0 falls out of the window while 1 is still in', (t) => {
  const steps: Step[] = [];
  for (let i = 2; i <= WINDOW + 1; ++i) steps.push([i, true]);
  steps.push([1, true], [0, false]);
  t.is(firstMismatch(steps), null);
});

test('replay window: counters arriving in reverse order are all accepted within the window', (t) => {
  const steps: Step[] = [];
  for (let i = WINDOW + 1; i-- > 0; ) steps.push([i, true]);
  t.is(firstMismatch(steps), null);
});

test('replay window: reverse order from one beyond the window leaves 0 outside', (t) => {
  const steps: Step[] = [];
  for (let i = WINDOW + 2; i-- > 1; ) steps.push([i, true]);
  steps.push([0, false]);
  t.is(firstMismatch(steps), null);
});

test('replay window: the ring wraps: the top counter after a full reverse run slides 0 out', (t) => {
  const a: Step[] = [];
  for (let i = WINDOW + 1; i-- > 1; ) a.push([i, true]);
  a.push([WINDOW + 1, true], [0, false]);
  t.is(firstMismatch(a), null);
  const b: Step[] = [];
  for (let i = WINDOW + 1; i-- > 1; ) b.push([i, true]);
  b.push([0, true], [WINDOW + 1, true]);
  t.is(firstMismatch(b), null);
});

test('replay window: a jump far beyond the window clears it, so old counters inside the new window are accepted', (t) => {
  t.is(
    firstMismatch([
      [5, true],
      [1_000_000, true],
      [1_000_000 - WINDOW, true],
      [1_000_000 - WINDOW - 1, false],
      [5, false],
      [1_000_000, false],
    ]),
    null,
  );
});
