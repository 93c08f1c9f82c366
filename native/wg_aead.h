/* ChaCha20-Poly1305 (IETF, RFC 8439) for transport messages, in place, with
 * the WireGuard nonce (4 zero bytes || LE64 counter).
 *
 * OpenSSL's ChaCha20 and Poly1305 assembly (AVX-512 / AVX-512 IFMA here) is
 * ~1.5x libsodium 1.0.18 for 1.4 KB packets. Two back ends reach it:
 * - direct: ChaCha20_ctr32 and Poly1305_* (OpenSSL's primitives below EVP),
 *   found with dlsym in the running process: Node's bundled OpenSSL exports
 *   them. RFC 8439's construction is assembled here. Used only when all five
 *   symbols exist and agree with EVP on a self-test (wg_aead.c).
 * - evp: the public EVP API, always available; in OpenSSL 3 each packet pays
 *   ~0.5 us of provider parameter handling (measured: 1,133 ns vs 627-740 ns
 *   direct per 1,424-byte seal), a third of the data plane's crypto time.
 * - avx512: direct's Poly1305 with our own ChaCha20 keystream (wg_chacha20.h),
 *   which computes 24 blocks for an MTU-sized packet where OpenSSL's widest
 *   kernel computes 32. Needs AVX-512F and direct; self-tested likewise.
 * The best available is used; ZMESH_WG_AEAD=evp or =direct caps it (tests
 * run every back end this process has).
 *
 * A wg_aead is one cipher context: owned by one thread at a time (each packet
 * thread has its own; command paths make a short-lived one). It holds key
 * material while in use; wg_aead_free wipes it. */
#ifndef ZMESH_WG_AEAD_H
#define ZMESH_WG_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_aead wg_aead;

/* In order of preference; each needs the ones before it. */
enum wg_aead_backend { WG_AEAD_EVP = 1, WG_AEAD_DIRECT = 2, WG_AEAD_AVX512 = 3 };
/* Which back end wg_aead_new gives (decided once per process). */
enum wg_aead_backend wg_aead_backend_in_use(void);

wg_aead *wg_aead_new(void); /* the back end in use; NULL when out of memory */
/* A given back end (tests compare both); NULL when it is not in use here. */
wg_aead *wg_aead_new_with(enum wg_aead_backend backend);
void wg_aead_free(wg_aead *a);
/* Encrypts buf[0..len) in place and writes the 16-byte tag to tag. */
void wg_aead_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, uint8_t tag[16]);
/* The same, where the WG_AEAD_HEADROOM bytes before buf are scratch (clobbered):
 * the direct back end then makes the Poly1305 key block and the ciphertext in
 * one ChaCha20 call, ~110 ns less per packet than a separate one-block call. */
#define WG_AEAD_HEADROOM 64
void wg_aead_seal_headroom(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                           uint8_t tag[16]);
/* Decrypts buf[0..len) in place; false (buf then undefined) if the tag does not verify. */
bool wg_aead_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, const uint8_t tag[16]);

#ifdef __cplusplus
}
#endif

#endif
