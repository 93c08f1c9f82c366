/**
 * The anti-replay window of transport counters (RFC 6479, as the kernel and
 * wireguard-go implement it), the reference for the C data plane.
 *
 * A ring of REPLAY_RING_WORDS (128) words of 64 bits holds one bit per
 * counter. `last` is the greatest counter accepted so far. Moving forward
 * clears the words between the old and the new position (at most the whole
 * ring); one word is always being recycled, so REPLAY_WINDOW_SIZE = 127 × 64
 * = 8128 counters behind `last` are guaranteed to be tracked. A counter is
 * accepted iff it is below the limit (REJECT_AFTER_MESSAGES), not more than
 * 8128 behind `last`, and not seen before.
 *
 * The check must run only after the packet authenticated: an unauthenticated
 * counter would let anyone move the window.
 */
import {
  REJECT_AFTER_MESSAGES,
  REPLAY_RING_WORDS,
  REPLAY_WINDOW_SIZE,
  REPLAY_WORD_BITS,
} from '../../../../src/wg/constants.js';

const WORD_BITS_LOG = 6n; // 2^6 = REPLAY_WORD_BITS
const RING_MASK = BigInt(REPLAY_RING_WORDS - 1);
const BIT_MASK = BigInt(REPLAY_WORD_BITS - 1);
const RING_WORDS = BigInt(REPLAY_RING_WORDS);
const WINDOW = BigInt(REPLAY_WINDOW_SIZE);

export class ReplayWindow {
  private last = 0n;
  private readonly ring = new BigUint64Array(REPLAY_RING_WORDS);

  constructor(private readonly limit: bigint = REJECT_AFTER_MESSAGES) {}

  /** Accepts `counter` (and records it) or rejects it as too old, replayed or beyond the limit. */
  validate(counter: bigint): boolean {
    if (counter < 0n || counter >= this.limit) return false;
    const wordIndex = counter >> WORD_BITS_LOG;
    if (counter > this.last) {
      const current = this.last >> WORD_BITS_LOG;
      let distance = wordIndex - current;
      if (distance > RING_WORDS) distance = RING_WORDS; // clearing the whole ring is enough
      for (let i = current + 1n; i <= current + distance; i++) this.ring[Number(i & RING_MASK)] = 0n;
      this.last = counter;
    } else if (this.last - counter > WINDOW) {
      return false;
    }
    const slot = Number(wordIndex & RING_MASK);
    const bit = 1n << (counter & BIT_MASK);
    const old = this.ring[slot]!;
    if ((old & bit) !== 0n) return false;
    this.ring[slot] = old | bit;
    return true;
  }

  reset(): void {
    this.last = 0n;
    this.ring.fill(0n);
  }
}
