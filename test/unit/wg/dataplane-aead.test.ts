// The C data plane's transport AEAD (native/wg_aead.c), both back ends, against
// libsodium's ChaCha20-Poly1305 (src/wg/crypto.ts, itself checked against RFC 8439).
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';

import { AEAD, AEAD_OPEN, ready } from '../../../src/wg/crypto.js';
import { dataplaneTestHooks, type AeadBackend } from '../../../src/wg/dataplane.js';

test.before(async () => {
  await ready();
});

const hooks = dataplaneTestHooks();
const NO_AD = new Uint8Array(0);
// Node built with its own OpenSSL exports the primitives the direct back end needs.
const bundledOpenssl = (process.config.variables as Record<string, unknown>)['node_shared_openssl'] === false;

const cpuFlags = readFileSync('/proc/cpuinfo', 'utf8');
const avx512 = cpuFlags.includes(' avx512f') && cpuFlags.includes(' avx512vl'); // what wg_chacha20_available() asks for

test('the data plane uses the fastest back end this Node and CPU allow', (t) => {
  t.is(hooks.aeadBackend(), !bundledOpenssl ? 'evp' : avx512 ? 'avx512' : 'direct');
});

const ORDER: AeadBackend[] = ['evp', 'direct', 'avx512'];
const backends: AeadBackend[] = ORDER.slice(0, ORDER.indexOf(hooks.aeadBackend()) + 1);
// Around every 64-byte block, 4/8/16/24-block kernel and 1,536-byte chunk edge the back ends have
// (the avx512 one's first chunk covers 1,472 data bytes, each later one 1,536).
const sizes = [
  0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257, 447, 448, 449, 511, 512, 513, 959, 960,
  961, 1023, 1024, 1025, 1420, 1424, 1440, 1471, 1472, 1473, 1535, 1536, 1537, 1983, 1984, 1985, 2048, 3007, 3008, 3009,
  4544, 4545, 9000, 65535,
];

for (const backend of backends) {
  test(`${backend}: seal equals libsodium for every length class up to 64 KiB, and open inverts it`, (t) => {
    const key = Buffer.alloc(32, 0x42);
    for (const [i, size] of sizes.entries()) {
      const plain = Buffer.alloc(size, (i * 31) & 255);
      for (let k = 0; k < size; k++) plain[k] = (k * 7 + i) & 255;
      const counter = BigInt(i) * 0x0102030405060708n + BigInt(size);
      const sealed = hooks.aeadSeal(backend, key, counter, plain);
      t.deepEqual(Buffer.from(AEAD(key, counter, plain, NO_AD)), sealed, `size ${size}`);
      t.deepEqual(hooks.aeadOpen(backend, key, counter, sealed), plain, `size ${size}`);
    }
  });

  test(`${backend}: random keys, counters and messages agree with libsodium both ways`, (t) => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.uint8Array({ maxLength: 2000 }),
        (key, counter, plain) => {
          const sealed = hooks.aeadSeal(backend, Buffer.from(key), counter, Buffer.from(plain));
          const reference = AEAD(key, counter, plain, NO_AD);
          if (!Buffer.from(reference).equals(sealed)) return false;
          const opened = AEAD_OPEN(key, counter, sealed, NO_AD);
          return opened !== null && Buffer.from(opened).equals(Buffer.from(plain));
        },
      ),
      { numRuns: 300 },
    );
    t.pass();
  });

  test(`${backend}: a flipped bit anywhere in ciphertext or tag, a wrong counter or a wrong key fails to open`, (t) => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 2n }),
        fc.uint8Array({ maxLength: 1500 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (key, counter, plain, where, bit) => {
          const sealed = Buffer.from(AEAD(key, counter, plain, NO_AD));
          const flipped = Buffer.from(sealed);
          flipped[where % flipped.length]! ^= 1 << bit;
          const otherKey = Buffer.from(key);
          otherKey[0]! ^= 1;
          return (
            hooks.aeadOpen(backend, Buffer.from(key), counter, flipped) === null &&
            hooks.aeadOpen(backend, Buffer.from(key), counter + 1n, sealed) === null &&
            hooks.aeadOpen(backend, otherKey, counter, sealed) === null
          );
        },
      ),
      { numRuns: 300 },
    );
    t.pass();
  });
}

test('bad arguments are refused with what was expected', (t) => {
  t.throws(() => hooks.aeadSeal('rot13' as AeadBackend, Buffer.alloc(32), 0n, Buffer.alloc(1)), { message: /backend/ });
  t.throws(() => hooks.aeadSeal('evp', Buffer.alloc(31), 0n, Buffer.alloc(1)), { message: /key: 32 bytes/ });
  t.throws(() => hooks.aeadOpen('evp', Buffer.alloc(32), 0n, Buffer.alloc(15)), { message: /tag/ });
});
