/* Internet checksum (RFC 1071) kernels with AVX-512, for the TX split of
 * TUN super-packets (wg_offload.c), which checksums every segment it cuts:
 * the portable sum (SSE2 at best) took ~11% of the TX thread under a TCP
 * load, as much as a quarter of its sealing. Here 64 bytes a step, and the
 * copy of a segment's payload and its sum in one pass (each byte loaded once).
 *
 * Partial sums in memory byte order, folded to at most 33 bits, to be added
 * into wg_csum_partial's and folded by wg_csum_fold. Pure computation. */
#ifndef ZMESH_WG_CSUM_H
#define ZMESH_WG_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The CPU has AVX-512F and AVX-512BW (checked once); the two below need it. */
bool wg_csum_avx512_available(void);

/* The ones' complement sum of buf. */
uint64_t wg_csum_avx512(const uint8_t *buf, size_t len);

/* Copies src to dst (not overlapping) and returns the sum of the bytes. */
uint64_t wg_copy_csum_avx512(uint8_t *dst, const uint8_t *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif
