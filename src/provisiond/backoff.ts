/**
 * Retry delays: exponential with jitter. Attempt n waits base·2^(n-1), capped at max, then
 * scaled into [½, 1] of that by the random source ("equal jitter"): retries of many tasks
 * spread out instead of hammering a recovering networkd in lockstep, and each delay still grows.
 * The random source is injected so tests can prove the exact sequence.
 */

export interface BackoffPolicy {
  /** Delay before the 2nd attempt, before jitter (ms). */
  readonly baseMs: number;
  /** Upper bound of any delay (ms). */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000 };

/** The delay after failed attempt `attempt` (1-based); `random` returns a number in [0, 1). */
export function retryDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}

export function checkBackoff(policy: BackoffPolicy): BackoffPolicy {
  if (!Number.isInteger(policy.baseMs) || policy.baseMs < 1)
    throw new RangeError('backoff base must be a positive integer of ms');
  if (!Number.isInteger(policy.maxMs) || policy.maxMs < policy.baseMs)
    throw new RangeError('backoff max must be an integer of ms ≥ the base');
  return policy;
}
