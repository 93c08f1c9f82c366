import test from 'ava';
import { compareTai64n, isNewerTai64n, tai64nFromWallMs } from '../../../src/wg/tai64n.js';

test('TAI64N is 12 big-endian bytes: seconds + 2^62 + 10, then whitened nanoseconds', (t) => {
  const stamp = tai64nFromWallMs(1_700_000_000_123);
  t.is(stamp.length, 12);
  const view = new DataView(stamp.buffer);
  t.is(view.getBigUint64(0), (1n << 62n) + 10n + 1_700_000_000n);
  const nanoseconds = view.getUint32(8);
  t.is(nanoseconds & 0xffffff, 0, 'the low 24 bits are whitened');
  t.true(nanoseconds <= 123_000_000 && nanoseconds > 123_000_000 - 0x1000000);
  t.deepEqual([...tai64nFromWallMs(0).subarray(0, 8)], [0x40, 0, 0, 0, 0, 0, 0, 0x0a]);
});

test('later times compare greater, also across a second boundary, and equal stamps are not newer', (t) => {
  const a = tai64nFromWallMs(1_000_999);
  const b = tai64nFromWallMs(1_001_000);
  t.true(compareTai64n(a, b) < 0);
  t.true(isNewerTai64n(b, a));
  t.false(isNewerTai64n(a, b));
  t.false(isNewerTai64n(a, tai64nFromWallMs(1_000_999)), 'the same stamp is a replay');
  t.true(isNewerTai64n(a, null), 'anything is newer than nothing');
});

test('stamps 20 ms apart always differ (whitening is coarser than nothing but finer than the flood limit)', (t) => {
  for (let ms = 0; ms < 2000; ms += 7)
    t.true(isNewerTai64n(tai64nFromWallMs(1e12 + ms + 20), tai64nFromWallMs(1e12 + ms)), `at +${ms} ms`);
});
