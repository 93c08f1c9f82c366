// Waiting for a condition with a deadline, for the cases where no event can
// be awaited (kernel state, a peer's counters). The error names what was
// awaited and the last reason the predicate gave.
import { setTimeout as delay } from 'node:timers/promises';
import { HarnessError } from './errors.js';

export interface WaitOptions {
  /** Give up after this long (default 5 s). */
  timeoutMs?: number;
  /** Poll interval (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the error: "wg0 to have a handshake". */
  what: string;
}

/**
 * Calls `predicate` until it returns a truthy value, and resolves with that value. A predicate that
 * throws counts as "not yet" (its last error is reported on timeout).
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await delay(Math.min(intervalMs, left));
  }
  const reason = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
  throw new HarnessError(
    'TIMEOUT',
    `timed out after ${timeoutMs} ms waiting for ${opts.what} (${attempts} checks)${reason}`,
    {
      what: opts.what,
      timeoutMs,
    },
  );
}
