import test from 'ava';
import fc from 'fast-check';
import { ReplayWindow } from './helpers/replay.js';
import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW_SIZE } from '../../../src/wg/constants.js';

/** The obvious definition of the window: a set of everything seen and the greatest counter accepted. */
class NaiveWindow {
  private seen = new Set<bigint>();
  private greatest = 0n;
  validate(counter: bigint, limit = REJECT_AFTER_MESSAGES): boolean {
    if (counter >= limit) return false;
    if (counter <= this.greatest && this.greatest - counter > BigInt(REPLAY_WINDOW_SIZE)) return false;
    if (this.seen.has(counter)) return false;
    this.seen.add(counter);
    if (counter > this.greatest) this.greatest = counter;
    return true;
  }
}

test('the window tracks 8128 counters (128 words of 64 bits minus one word)', (t) => {
  t.is(REPLAY_WINDOW_SIZE, 8128);
});

test('the first packet (counter 0) is accepted and its duplicate rejected', (t) => {
  const w = new ReplayWindow();
  t.true(w.validate(0n));
  t.false(w.validate(0n));
  t.true(w.validate(1n));
  t.false(w.validate(1n));
});

test('counters may arrive out of order inside the window, each once', (t) => {
  const w = new ReplayWindow();
  for (const c of [5n, 3n, 9n, 4n, 0n]) t.true(w.validate(c), `counter ${c}`);
  for (const c of [5n, 3n, 9n, 4n, 0n]) t.false(w.validate(c), `replayed counter ${c}`);
});

test('a counter exactly 8128 behind the greatest is accepted and 8129 behind is rejected', (t) => {
  const w = new ReplayWindow();
  const top = 20_000n;
  t.true(w.validate(top));
  t.true(w.validate(top - 8128n), 'just inside');
  t.false(w.validate(top - 8129n), 'just outside');
  t.false(w.validate(top - 8128n), 'the inside one is now a replay');
});

test('every counter of the window is tracked when the greatest sits at each bit of its word', (t) => {
  for (const offset of [0n, 1n, 31n, 63n]) {
    const w = new ReplayWindow();
    const top = 64n * 300n + offset;
    t.true(w.validate(top));
    for (let c = top - 8128n; c < top; c++) if (!w.validate(c)) return t.fail(`counter ${c} with top ${top} rejected`);
    for (let c = top - 8128n; c <= top; c++) if (w.validate(c)) return t.fail(`counter ${c} accepted twice`);
  }
  t.pass();
});

test('a far jump clears the whole ring so old bits never reject new counters', (t) => {
  const w = new ReplayWindow();
  for (let c = 0n; c < 200n; c++) t.true(w.validate(c));
  const far = 1_000_000n;
  t.true(w.validate(far));
  // counters whose ring words alias the ones set before must still be fresh
  for (let c = far - 100n; c < far; c++) t.true(w.validate(c), `counter ${c}`);
  t.false(w.validate(150n), 'far behind the window');
});

test('the ring word index wraps around (counters beyond 128 words reuse the first words)', (t) => {
  const w = new ReplayWindow();
  const end = 64n * 128n * 3n; // three trips around the ring
  let last = 0n;
  for (let c = 0n; c < end; c += 7n) {
    t.true(w.validate(c), `counter ${c}`);
    last = c;
  }
  t.false(w.validate(last - 35n), 'a multiple of 7 seen after wrapping is a replay');
  t.true(w.validate(last - 34n), 'its neighbour, never seen, is accepted');
});

test('counters at or beyond REJECT_AFTER_MESSAGES are rejected, the one below accepted', (t) => {
  const w = new ReplayWindow();
  t.false(w.validate(REJECT_AFTER_MESSAGES));
  t.false(w.validate(REJECT_AFTER_MESSAGES + 1n));
  t.false(w.validate((1n << 64n) - 1n));
  t.true(w.validate(REJECT_AFTER_MESSAGES - 1n));
  t.false(w.validate(REJECT_AFTER_MESSAGES - 1n));
});

test('random sequences agree with a naive Set-based window', (t) => {
  const counters = fc.oneof(
    fc.bigInt({ min: 0n, max: 20_000n }),
    fc.bigInt({ min: 0n, max: 300n }),
    fc.bigInt({ min: 0n, max: REJECT_AFTER_MESSAGES + 5n }),
  );
  fc.assert(
    fc.property(fc.array(counters, { maxLength: 300 }), (sequence) => {
      const w = new ReplayWindow();
      const naive = new NaiveWindow();
      return sequence.every((c) => w.validate(c) === naive.validate(c));
    }),
    { numRuns: 200 },
  );
  // sequences that move forward in small steps with local reordering, the realistic case
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -9000, max: 70 }), { maxLength: 400 }), (steps) => {
      const w = new ReplayWindow();
      const naive = new NaiveWindow();
      let base = 10_000n;
      return steps.every((step) => {
        base += step > 0 ? BigInt(step) : 0n;
        const c = base + BigInt(Math.min(step, 0));
        return c < 0n || w.validate(c) === naive.validate(c);
      });
    }),
    { numRuns: 200 },
  );
  t.pass();
});
