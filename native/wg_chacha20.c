/* ChaCha20 keystream with AVX-512F; see wg_chacha20.h for the layout and why. */
#include "wg_chacha20.h"

#include <immintrin.h>
#include <string.h>

bool wg_chacha20_available(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 1 : 0;
  }
  return cached == 1;
}

/* Everything below runs only after wg_chacha20_available() said yes. */
#ifdef __clang__
/* clang ignores GCC's target pragma (the fuzzing build, scripts/fuzz, uses clang): the same
 * target for every function up to the pop below. */
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
#pragma GCC optimize("O3")
#endif

/* One quarter-round on four row registers (every lane at once). */
#define QR(a, b, c, d)           \
  do {                           \
    a = _mm512_add_epi32(a, b);  \
    d = _mm512_xor_si512(d, a);  \
    d = _mm512_rol_epi32(d, 16); \
    c = _mm512_add_epi32(c, d);  \
    b = _mm512_xor_si512(b, c);  \
    b = _mm512_rol_epi32(b, 12); \
    a = _mm512_add_epi32(a, b);  \
    d = _mm512_xor_si512(d, a);  \
    d = _mm512_rol_epi32(d, 8);  \
    c = _mm512_add_epi32(c, d);  \
    b = _mm512_xor_si512(b, c);  \
    b = _mm512_rol_epi32(b, 7);  \
  } while (0)

/* n sets of 4 blocks (n = 1..4, a constant after inlining, so the sets'
 * instructions interleave), block counters counter + 4k + lane. */
static inline __attribute__((always_inline)) void sets(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter,
                                                       int n, uint8_t *ks) {
  const __m512i a0 = _mm512_broadcast_i32x4(_mm_setr_epi32(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574));
  const __m512i b0 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)key));
  const __m512i c0 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(key + 4)));
  const __m512i lanes = _mm512_setr_epi32(0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0);
  __m512i a[4], b[4], c[4], d[4], d0[4];
  for (int k = 0; k < n; ++k) {
    d0[k] = _mm512_add_epi32(
        _mm512_broadcast_i32x4(_mm_setr_epi32((int)(counter + 4 * k), (int)nonce[0], (int)nonce[1], (int)nonce[2])),
        lanes);
    a[k] = a0;
    b[k] = b0;
    c[k] = c0;
    d[k] = d0[k];
  }
  for (int round = 0; round < 10; ++round) {
    for (int k = 0; k < n; ++k) QR(a[k], b[k], c[k], d[k]);
    for (int k = 0; k < n; ++k) { /* columns -> diagonals */
      b[k] = _mm512_shuffle_epi32(b[k], 0x39);
      c[k] = _mm512_shuffle_epi32(c[k], 0x4e);
      d[k] = _mm512_shuffle_epi32(d[k], 0x93);
    }
    for (int k = 0; k < n; ++k) QR(a[k], b[k], c[k], d[k]);
    for (int k = 0; k < n; ++k) { /* and back */
      b[k] = _mm512_shuffle_epi32(b[k], 0x93);
      c[k] = _mm512_shuffle_epi32(c[k], 0x4e);
      d[k] = _mm512_shuffle_epi32(d[k], 0x39);
    }
  }
  for (int k = 0; k < n; ++k) {
    __m512i ra = _mm512_add_epi32(a[k], a0), rb = _mm512_add_epi32(b[k], b0);
    __m512i rc = _mm512_add_epi32(c[k], c0), rd = _mm512_add_epi32(d[k], d0[k]);
    /* Lane j of the rows a, b, c, d is block j: a 4x4 transpose of 128-bit lanes. */
    __m512i t0 = _mm512_shuffle_i32x4(ra, rb, 0x44), t1 = _mm512_shuffle_i32x4(rc, rd, 0x44);
    __m512i t2 = _mm512_shuffle_i32x4(ra, rb, 0xee), t3 = _mm512_shuffle_i32x4(rc, rd, 0xee);
    uint8_t *out = ks + 256 * k;
    _mm512_storeu_si512(out, _mm512_shuffle_i32x4(t0, t1, 0x88));
    _mm512_storeu_si512(out + 64, _mm512_shuffle_i32x4(t0, t1, 0xdd));
    _mm512_storeu_si512(out + 128, _mm512_shuffle_i32x4(t2, t3, 0x88));
    _mm512_storeu_si512(out + 192, _mm512_shuffle_i32x4(t2, t3, 0xdd));
  }
}

/* The vertical layout for 8 or 16 blocks: register i holds state word i of
 * every block (a lane per block), so a quarter-round is 12 plain vector
 * operations with no shuffles, and the blocks come out by a transpose. */
#define VQR(add, xor, rol, a, b, c, d) \
  do {                                 \
    a = add(a, b);                     \
    d = xor(d, a);                     \
    d = rol(d, 16);                    \
    c = add(c, d);                     \
    b = xor(b, c);                     \
    b = rol(b, 12);                    \
    a = add(a, b);                     \
    d = xor(d, a);                     \
    d = rol(d, 8);                     \
    c = add(c, d);                     \
    b = xor(b, c);                     \
    b = rol(b, 7);                     \
  } while (0)

#define DOUBLE_ROUND(add, xor, rol, x)            \
  do {                                            \
    VQR(add, xor, rol, x[0], x[4], x[8], x[12]);  \
    VQR(add, xor, rol, x[1], x[5], x[9], x[13]);  \
    VQR(add, xor, rol, x[2], x[6], x[10], x[14]); \
    VQR(add, xor, rol, x[3], x[7], x[11], x[15]); \
    VQR(add, xor, rol, x[0], x[5], x[10], x[15]); \
    VQR(add, xor, rol, x[1], x[6], x[11], x[12]); \
    VQR(add, xor, rol, x[2], x[7], x[8], x[13]);  \
    VQR(add, xor, rol, x[3], x[4], x[9], x[14]);  \
  } while (0)

static inline void initial_state(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter, uint32_t st[16]) {
  st[0] = 0x61707865;
  st[1] = 0x3320646e;
  st[2] = 0x79622d32;
  st[3] = 0x6b206574;
  memcpy(st + 4, key, 32);
  st[12] = counter;
  memcpy(st + 13, nonce, 12);
}

/* The 16 blocks of a vertical 512-bit state (x[i]: word i of every block,
 * the input already added) to ks: interleave words, then word pairs, so that
 * u[4g + m] holds, in 128-bit lane L, words 4g..4g+3 of block 4L + m; then
 * the 4x4 transpose of 128-bit lanes, as for the row layout. */
static inline __attribute__((always_inline)) void store16(__m512i x[16], uint8_t *ks) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    __m512i a = u[m], b = u[4 + m], c = u[8 + m], d = u[12 + m];
    __m512i t0 = _mm512_shuffle_i32x4(a, b, 0x44), t1 = _mm512_shuffle_i32x4(c, d, 0x44);
    __m512i t2 = _mm512_shuffle_i32x4(a, b, 0xee), t3 = _mm512_shuffle_i32x4(c, d, 0xee);
    _mm512_storeu_si512(ks + 64 * m, _mm512_shuffle_i32x4(t0, t1, 0x88));
    _mm512_storeu_si512(ks + 64 * (4 + m), _mm512_shuffle_i32x4(t0, t1, 0xdd));
    _mm512_storeu_si512(ks + 64 * (8 + m), _mm512_shuffle_i32x4(t2, t3, 0x88));
    _mm512_storeu_si512(ks + 64 * (12 + m), _mm512_shuffle_i32x4(t2, t3, 0xdd));
  }
}

/* The same for 8 blocks in 256-bit registers. */
static inline __attribute__((always_inline)) void store8(__m256i x[16], uint8_t *ks) {
  __m256i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm256_unpacklo_epi32(x[i], x[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(x[i], x[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  /* Block 4L + m = lane L of u[m], u[4 + m], u[8 + m], u[12 + m]. */
  for (int m = 0; m < 4; ++m) {
    uint8_t *lo = ks + 64 * m, *hi = ks + 64 * (4 + m);
    _mm256_storeu_si256((__m256i *)lo, _mm256_permute2x128_si256(u[m], u[4 + m], 0x20));
    _mm256_storeu_si256((__m256i *)(lo + 32), _mm256_permute2x128_si256(u[8 + m], u[12 + m], 0x20));
    _mm256_storeu_si256((__m256i *)hi, _mm256_permute2x128_si256(u[m], u[4 + m], 0x31));
    _mm256_storeu_si256((__m256i *)(hi + 32), _mm256_permute2x128_si256(u[8 + m], u[12 + m], 0x31));
  }
}

/* 16 blocks, counters counter..counter+15. */
static void vertical16(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter, uint8_t *ks) {
  uint32_t st[16];
  initial_state(key, nonce, counter, st);
  __m512i x[16];
  for (int i = 0; i < 16; ++i) x[i] = _mm512_set1_epi32((int)st[i]);
  const __m512i ctr = _mm512_add_epi32(x[12], _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  x[12] = ctr;
  for (int round = 0; round < 10; ++round) DOUBLE_ROUND(_mm512_add_epi32, _mm512_xor_si512, _mm512_rol_epi32, x);
  for (int i = 0; i < 16; ++i) x[i] = _mm512_add_epi32(x[i], i == 12 ? ctr : _mm512_set1_epi32((int)st[i]));
  store16(x, ks);
}

/* 8 blocks in 256-bit registers (AVX-512VL rotates). */
static void vertical8(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter, uint8_t *ks) {
  uint32_t st[16];
  initial_state(key, nonce, counter, st);
  __m256i x[16];
  for (int i = 0; i < 16; ++i) x[i] = _mm256_set1_epi32((int)st[i]);
  const __m256i ctr = _mm256_add_epi32(x[12], _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  x[12] = ctr;
  for (int round = 0; round < 10; ++round) DOUBLE_ROUND(_mm256_add_epi32, _mm256_xor_si256, _mm256_rol_epi32, x);
  for (int i = 0; i < 16; ++i) x[i] = _mm256_add_epi32(x[i], i == 12 ? ctr : _mm256_set1_epi32((int)st[i]));
  store8(x, ks);
}

/* 24 blocks: the 16 of vertical16 and the 8 of vertical8 in one instruction
 * stream. Each alone leaves execution units idle here (8 blocks in 256-bit
 * registers take as long as 16 in 512-bit ones: the rounds' dependency chain,
 * not the units, bounds them), so the 256-bit rounds interleaved with the
 * 512-bit ones come almost free: an MTU-sized packet's 23 blocks cost ~25%
 * less than vertical16 + vertical8 in turn. */
static void vertical24(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter, uint8_t *ks) {
  uint32_t st[16];
  initial_state(key, nonce, counter, st);
  __m512i x[16];
  __m256i y[16];
  for (int i = 0; i < 16; ++i) {
    x[i] = _mm512_set1_epi32((int)st[i]);
    y[i] = _mm256_set1_epi32((int)st[i]);
  }
  const __m512i xctr = _mm512_add_epi32(x[12], _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m256i yctr = _mm256_add_epi32(y[12], _mm256_setr_epi32(16, 17, 18, 19, 20, 21, 22, 23));
  x[12] = xctr;
  y[12] = yctr;
  for (int round = 0; round < 10; ++round) {
    DOUBLE_ROUND(_mm512_add_epi32, _mm512_xor_si512, _mm512_rol_epi32, x);
    DOUBLE_ROUND(_mm256_add_epi32, _mm256_xor_si256, _mm256_rol_epi32, y);
  }
  for (int i = 0; i < 16; ++i) {
    x[i] = _mm512_add_epi32(x[i], i == 12 ? xctr : _mm512_set1_epi32((int)st[i]));
    y[i] = _mm256_add_epi32(y[i], i == 12 ? yctr : _mm256_set1_epi32((int)st[i]));
  }
  store16(x, ks);
  store8(y, ks + 1024);
}

void wg_chacha20_keystream(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter, size_t blocks,
                           uint8_t *ks) {
  if (blocks <= 4) sets(key, nonce, counter, 1, ks);
  else if (blocks <= 8) vertical8(key, nonce, counter, ks);
  else if (blocks <= 16) vertical16(key, nonce, counter, ks);
  else vertical24(key, nonce, counter, ks);
}

void wg_xor_bytes(uint8_t *buf, const uint8_t *ks, size_t len) {
  for (; len >= 64; buf += 64, ks += 64, len -= 64)
    _mm512_storeu_si512(buf, _mm512_xor_si512(_mm512_loadu_si512(buf), _mm512_loadu_si512(ks)));
  for (; len >= 8; buf += 8, ks += 8, len -= 8) {
    uint64_t x, y;
    memcpy(&x, buf, 8);
    memcpy(&y, ks, 8);
    x ^= y;
    memcpy(buf, &x, 8);
  }
  for (; len; --len) *buf++ ^= *ks++;
}

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
