// The C Internet checksum kernels of the TX split (native/wg_offload.c, native/wg_csum.c)
// against RFC 1071 written out in TypeScript, at every tail length of the 64-byte AVX-512 steps.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';

import { dataplaneTestHooks } from '../../../src/wg/dataplane.js';

const hooks = dataplaneTestHooks();
const cpuFlags = readFileSync('/proc/cpuinfo', 'utf8');
const avx512 = cpuFlags.includes(' avx512f') && cpuFlags.includes(' avx512bw'); // what wg_csum_avx512_available() asks
const KERNELS = ['portable', 'avx512', 'avx512-copy'] as const;

/** RFC 1071 over 16-bit words in memory byte order (little-endian here), folded, not complemented. */
function reference(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes[i]! | (bytes[i + 1]! << 8);
  if (bytes.length & 1) sum += bytes[bytes.length - 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

test('the AVX-512 kernels exist exactly where the CPU has AVX-512F and BW', (t) => {
  t.is(hooks.checksum(new Uint8Array(64), 'avx512') !== null, avx512);
});

test('every kernel equals RFC 1071 for each length 0..300, a segment and 64 KiB, all-ones and random bytes', (t) => {
  const lengths = [...Array.from({ length: 301 }, (_, n) => n), 1408, 1420, 4095, 65535];
  for (const n of lengths) {
    const ones = new Uint8Array(n).fill(0xff); // the largest carries
    const mixed = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7 + 13) & 255);
    for (const bytes of [ones, mixed]) {
      const want = reference(bytes);
      for (const kernel of KERNELS) {
        const got = hooks.checksum(bytes, kernel);
        if (got !== null) t.is(got, want, `${kernel}, ${n} bytes`);
      }
    }
  }
});

test('every kernel equals RFC 1071 on random buffers at random offsets', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat({ max: 63 }), (raw, skip) => {
      const bytes = raw.subarray(Math.min(skip, raw.length)); // unaligned starts
      const want = reference(bytes);
      return KERNELS.every((k) => {
        const got = hooks.checksum(bytes, k);
        return got === null || got === want;
      });
    }),
    { numRuns: 500 },
  );
  t.pass();
});
