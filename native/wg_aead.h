/* ChaCha20-Poly1305 (IETF, RFC 8439) for transport messages, in place, with
 * the WireGuard nonce (4 zero bytes || LE64 counter).
 *
 * Backed by OpenSSL's EVP (libcrypto): measured here at ~1.5x libsodium 1.0.18
 * for 1.4 KB packets (OpenSSL's AVX2 ChaCha20 and Poly1305 assembly). Inside
 * Node the symbols resolve to Node's own OpenSSL 3, which is the same API.
 *
 * A wg_aead is one cipher context: owned by one thread at a time (each packet
 * thread has its own; command paths make a short-lived one). It holds key
 * material while in use; wg_aead_free wipes it. */
#ifndef ZMESH_WG_AEAD_H
#define ZMESH_WG_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wg_aead wg_aead;

wg_aead *wg_aead_new(void); /* NULL when out of memory */
void wg_aead_free(wg_aead *a);
/* Encrypts buf[0..len) in place and writes the 16-byte tag to tag. */
void wg_aead_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, uint8_t tag[16]);
/* Decrypts buf[0..len) in place; false (buf then undefined) if the tag does not verify. */
bool wg_aead_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, const uint8_t tag[16]);

#endif
