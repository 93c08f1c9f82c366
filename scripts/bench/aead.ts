/**
 * The data plane's transport AEAD per packet, for every back end this process has
 * (native/wg_aead.h: avx512, direct, evp), timed in C in thread CPU time (no N-API crossing per packet):
 *
 *   npx tsx scripts/bench/aead.ts [--iterations N]
 *
 * Seal is the TX path's (with the 48 bytes of scratch before the header), open the RX path's
 * (tag checked over the ciphertext, then decrypted). Sizes: a TCP ACK (52 + padding), a
 * mid-size packet, an MTU-sized one (1,420: at the MTU nothing is padded), a smaller one padded
 * to 1,424, and 1,440. Medians of 5.
 */
import { randomBytes } from 'node:crypto';
import { dataplaneTestHooks, type AeadBackend } from '../../src/wg/dataplane.js';

const args = process.argv.slice(2);
const at = args.indexOf('--iterations');
const ITERATIONS = at >= 0 ? Number(args[at + 1]) : 200_000;
const SIZES = [64, 576, 1420, 1424, 1440];
const ORDER: AeadBackend[] = ['evp', 'direct', 'avx512'];

const hooks = dataplaneTestHooks();
const backends = ORDER.slice(0, ORDER.indexOf(hooks.aeadBackend()) + 1);
const key = randomBytes(32);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

console.log(`transport AEAD, ns per packet (median of 5 × ${ITERATIONS}); in use: ${hooks.aeadBackend()}`);
console.log(`| bytes | ${backends.map((b) => `${b} seal | ${b} open`).join(' | ')} | best seal / evp |`);
for (const size of SIZES) {
  const cells: string[] = [];
  const seals = new Map<AeadBackend, number>();
  for (const b of backends) {
    const runs = Array.from({ length: 5 }, () => hooks.aeadTiming(b, key, 1n, randomBytes(size), ITERATIONS));
    const seal = median(runs.map((r) => r.sealNs));
    seals.set(b, seal);
    cells.push(
      seal.toFixed(0).padStart(6),
      median(runs.map((r) => r.openNs))
        .toFixed(0)
        .padStart(6),
    );
  }
  const best = Math.min(...seals.values());
  console.log(`| ${String(size).padStart(5)} | ${cells.join(' | ')} | ${(best / seals.get('evp')!).toFixed(2)} |`);
}
