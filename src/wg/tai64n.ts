/**
 * TAI64N timestamps for handshake initiations: 12 bytes, big-endian, the
 * seconds since 1970 plus 2^62 + 10 (the TAI64 label, as the kernel and
 * wireguard-go compute it) followed by nanoseconds. The responder only checks
 * that each initiation of a peer is strictly newer than the last, so the low
 * bits of the nanoseconds are whitened (rounded down to 2^24 ns ≈ 16.8 ms, as
 * wireguard-go does) to avoid leaking a precise clock.
 */
import { TAI64N_LENGTH } from './constants.js';

const TAI64_BASE = (1n << 62n) + 10n;
const WHITENER_MASK = 0x1000000 - 1;

export type Tai64n = Uint8Array; // always TAI64N_LENGTH bytes

/** The timestamp of a wall-clock time given in milliseconds since the epoch. */
export function tai64nFromWallMs(wallMs: number): Tai64n {
  const milliseconds = Math.floor(wallMs);
  const seconds = Math.floor(milliseconds / 1000);
  const nanoseconds = (milliseconds - seconds * 1000) * 1_000_000;
  const out = new Uint8Array(TAI64N_LENGTH);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI64_BASE + BigInt(seconds));
  view.setUint32(8, (nanoseconds & ~WHITENER_MASK) >>> 0);
  return out;
}

/** Lexicographic (= chronological, since big-endian) comparison: negative, zero or positive. */
export function compareTai64n(a: Tai64n, b: Tai64n): number {
  for (let i = 0; i < TAI64N_LENGTH; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function isNewerTai64n(candidate: Tai64n, latest: Tai64n | null): boolean {
  return latest === null || compareTai64n(candidate, latest) > 0;
}
