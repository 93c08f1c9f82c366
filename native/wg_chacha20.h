/* ChaCha20 keystream (RFC 8439 §2.3) with AVX-512, sized for WireGuard's
 * packets.
 *
 * Why our own: OpenSSL's ChaCha20_ctr32 computes 16 blocks per round of its
 * widest kernel, so an MTU-sized packet (1,424 bytes + the Poly1305 key
 * block = 23.25 blocks) pays for 32 blocks, the same as 2 KiB. Here a
 * request is served by the narrowest kernel that covers it: 24 blocks (16 in
 * 512-bit registers interleaved with 8 in 256-bit ones), 16, 8 (with a lane
 * per block), up to 4 in one set of row registers (a 128-bit lane per
 * block). Measured here (thread CPU time): 4 blocks 100 ns, 8 130 ns, 16
 * 134 ns, 24 191 ns; an MTU-sized packet was 16 + 8 blocks in turn, 265 ns.
 *
 * Pure computation, no state: callers own the buffers (and wipe them). */
#ifndef ZMESH_WG_CHACHA20_H
#define ZMESH_WG_CHACHA20_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The CPU has AVX-512F and AVX-512VL (checked once). */
bool wg_chacha20_available(void);

/* Writes `blocks` keystream blocks (1..24) for key/nonce starting at block
 * counter `counter` to ks; it may write up to the next of 4, 8, 16 or 24
 * blocks, so ks must hold 1,536 bytes. Needs wg_chacha20_available(). */
void wg_chacha20_keystream(const uint32_t key[8], const uint32_t nonce[3], uint32_t counter, size_t blocks,
                           uint8_t *ks);

/* buf[i] ^= ks[i] for len bytes. */
void wg_xor_bytes(uint8_t *buf, const uint8_t *ks, size_t len);

#ifdef __cplusplus
}
#endif

#endif
