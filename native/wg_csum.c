/* Internet checksum kernels with AVX-512; see wg_csum.h for why. */
#include "wg_csum.h"

#include <immintrin.h>
#include <string.h>

bool wg_csum_avx512_available(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
  }
  return cached == 1;
}

/* 64 bytes a step: each 64-bit lane adds up the two 32-bit words it holds, in
 * memory byte order, as the scalar sum does (no carry is lost below 2^32
 * steps); the tail is a masked load, its missing bytes zeros, which add
 * nothing. When dst is set, every byte read is also stored there. */
static inline __attribute__((always_inline, target("avx512f,avx512bw"))) uint64_t sum64(const uint8_t *p, size_t len,
                                                                                        uint8_t *dst) {
  const __m512i low = _mm512_set1_epi64(0xffffffff);
  __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
  for (; len >= 64; p += 64, len -= 64) {
    __m512i x = _mm512_loadu_si512(p);
    if (dst) {
      _mm512_storeu_si512(dst, x);
      dst += 64;
    }
    a = _mm512_add_epi64(a, _mm512_and_si512(x, low));
    b = _mm512_add_epi64(b, _mm512_srli_epi64(x, 32));
  }
  if (len) {
    __mmask64 m = (__mmask64)((UINT64_C(1) << len) - 1);
    __m512i x = _mm512_maskz_loadu_epi8(m, p);
    if (dst) _mm512_mask_storeu_epi8(dst, m, x);
    a = _mm512_add_epi64(a, _mm512_and_si512(x, low));
    b = _mm512_add_epi64(b, _mm512_srli_epi64(x, 32));
  }
  uint64_t s = (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(a, b));
  return (s & 0xffffffff) + (s >> 32);
}

__attribute__((target("avx512f,avx512bw"))) uint64_t wg_csum_avx512(const uint8_t *buf, size_t len) {
  return sum64(buf, len, NULL);
}

__attribute__((target("avx512f,avx512bw"))) uint64_t wg_copy_csum_avx512(uint8_t *dst, const uint8_t *src, size_t len) {
  return sum64(src, len, dst);
}
