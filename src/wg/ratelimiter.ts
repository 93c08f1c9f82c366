/**
 * The per-source handshake rate limiter used under load: a token bucket of
 * INITIATIONS_PER_SECOND (20/s) with a burst of INITIATIONS_BURSTABLE (5) per
 * source, as in the kernel's ratelimiter.c. A source is an IPv4 address or an
 * IPv6 /64 (one host usually owns a whole /64, so finer keys would let it
 * multiply its budget). Time is injected (milliseconds); entries idle for a
 * second are collected lazily, and the table holds at most `maxEntries`
 * sources: when it is full of active sources a new source is refused, which
 * bounds memory under a spoofed-source flood.
 */
import { INITIATIONS_BURSTABLE, INITIATIONS_PER_SECOND } from './constants.js';
import { addressBytes } from './cookie.js';
import type { Endpoint } from './endpoint.js';

const PACKET_COST = 1000 / INITIATIONS_PER_SECOND; // ms of tokens one packet costs
const MAX_TOKENS = PACKET_COST * INITIATIONS_BURSTABLE;
const GC_INTERVAL = 1000;

interface Bucket {
  tokens: number;
  lastAt: number;
}

/** The key a source is limited under, or null when the endpoint is not a numeric address. */
export function rateLimitKey(source: Endpoint): string | null {
  const bytes = addressBytes(source?.address);
  if (!bytes) return null;
  return bytes.length === 4
    ? `4:${Buffer.from(bytes).toString('hex')}`
    : `6:${Buffer.from(bytes.subarray(0, 8)).toString('hex')}`;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #lastGcAt = -Infinity;

  constructor(private readonly maxEntries = 16_384) {}

  /** True when one more handshake from `key` at `now` is within its budget (and spends it). */
  allow(key: string, now: number): boolean {
    if (now - this.#lastGcAt >= GC_INTERVAL) this.collect(now);
    const bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.maxEntries) return false;
      this.#buckets.set(key, { tokens: MAX_TOKENS - PACKET_COST, lastAt: now });
      return true;
    }
    bucket.tokens = Math.min(MAX_TOKENS, bucket.tokens + Math.max(0, now - bucket.lastAt));
    bucket.lastAt = now;
    if (bucket.tokens >= PACKET_COST) {
      bucket.tokens -= PACKET_COST;
      return true;
    }
    return false;
  }

  /** Drops sources idle for more than a second (their bucket would be full again anyway). */
  collect(now: number): void {
    this.#lastGcAt = now;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.lastAt > GC_INTERVAL) this.#buckets.delete(key);
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}
