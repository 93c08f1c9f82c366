/* Transport AEAD over OpenSSL; see wg_aead.h for the two back ends and why. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wg_aead.h"
#include "wg_chacha20.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* OpenSSL's own primitives below EVP (crypto/chacha, crypto/poly1305): the
 * signatures have been the same since OpenSSL 1.1.0. */
typedef void (*chacha20_ctr32_fn)(unsigned char *out, const unsigned char *in, size_t len, const unsigned int key[8],
                                  const unsigned int counter[4]);
typedef size_t (*poly1305_ctx_size_fn)(void);
typedef void (*poly1305_init_fn)(void *ctx, const unsigned char key[32]);
typedef void (*poly1305_update_fn)(void *ctx, const unsigned char *in, size_t len);
typedef void (*poly1305_final_fn)(void *ctx, unsigned char mac[16]);

static struct {
  chacha20_ctr32_fn chacha20;
  poly1305_ctx_size_fn poly_size;
  poly1305_init_fn poly_init;
  poly1305_update_fn poly_update;
  poly1305_final_fn poly_final;
  size_t poly_ctx_size;
  enum wg_aead_backend backend;
} prim;
static pthread_once_t prim_once = PTHREAD_ONCE_INIT;

struct wg_aead {
  EVP_CIPHER_CTX *encrypt, *decrypt;
  void *poly;  /* prim.poly_ctx_size bytes, 64-byte aligned (the assembly stores vectors there); NULL: EVP */
  uint8_t *ks; /* KS_BYTES of keystream (avx512 back end; wiped on free); NULL: OpenSSL's ChaCha20 */
};

/* One keystream chunk: 24 blocks, the widest kernel (wg_chacha20.c). The
 * first chunk's block 0 is the Poly1305 key, so it covers 1,472 data bytes
 * (an MTU-sized packet in one call); every later one 1,536. */
#define KS_BYTES 1536
#define FIRST_CHUNK_DATA (KS_BYTES - 64)

/* ---- the EVP back end: the public API, ~0.5 us of parameter handling per packet in OpenSSL 3 ---- */

static void nonce_of(uint64_t counter, uint8_t nonce[12]) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void evp_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, uint8_t tag[16]) {
  uint8_t nonce[12];
  int out = 0;
  nonce_of(counter, nonce);
  EVP_EncryptInit_ex(a->encrypt, NULL, NULL, key, nonce);
  if (len) EVP_EncryptUpdate(a->encrypt, buf, &out, buf, (int)len);
  EVP_EncryptFinal_ex(a->encrypt, buf + out, &out);
  EVP_CIPHER_CTX_ctrl(a->encrypt, EVP_CTRL_AEAD_GET_TAG, 16, tag);
}

static bool evp_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                     const uint8_t tag[16]) {
  uint8_t nonce[12];
  int out = 0;
  nonce_of(counter, nonce);
  if (EVP_DecryptInit_ex(a->decrypt, NULL, NULL, key, nonce) != 1) return false;
  if (len && EVP_DecryptUpdate(a->decrypt, buf, &out, buf, (int)len) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(a->decrypt, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) != 1) return false;
  return EVP_DecryptFinal_ex(a->decrypt, buf + out, &out) == 1;
}

/* ---- the direct back end: RFC 8439 §2.8 assembled from OpenSSL's ChaCha20 and Poly1305 ---- */

static void key_words(const uint8_t key[32], unsigned int words[8]) {
  for (int i = 0; i < 8; ++i)
    words[i] = (unsigned int)key[4 * i] | (unsigned int)key[4 * i + 1] << 8 | (unsigned int)key[4 * i + 2] << 16 |
               (unsigned int)key[4 * i + 3] << 24;
}

/* The Poly1305 key (the first 32 bytes of keystream block 0) for this nonce. */
static void poly_key(const unsigned int key[8], uint64_t counter, uint8_t block[64]) {
  const unsigned int ctr[4] = {0, 0, (unsigned int)counter, (unsigned int)(counter >> 32)};
  memset(block, 0, 64);
  prim.chacha20(block, block, 64, key, ctr);
}

/* The tag over ciphertext c (no associated data: WireGuard has none). */
static void poly_tag(wg_aead *a, const uint8_t block[64], const uint8_t *c, size_t len, uint8_t tag[16]) {
  /* The whole blocks, then the partial one (zero-padded) and the lengths block in one more call. */
  size_t whole = len & ~(size_t)15, rest = len - whole, tail_len = (rest ? 16 : 0) + 16;
  uint8_t tail[32] = {0};
  memcpy(tail, c + whole, rest);
  for (int i = 0; i < 8; ++i) tail[tail_len - 8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
  prim.poly_init(a->poly, block);
  if (whole) prim.poly_update(a->poly, c, whole);
  prim.poly_update(a->poly, tail, tail_len);
  prim.poly_final(a->poly, tag);
}

/* The same when the 16 bytes after a whole-block ciphertext are ours for a moment (where a
 * packet's tag sits): the lengths block goes there, so that Poly1305 runs once over all of it,
 * and those bytes are put back: one Poly1305 call per packet rather than two. */
static void poly_tag_in_place(wg_aead *a, const uint8_t block[64], uint8_t *c, size_t len, uint8_t tag[16]) {
  if (len & 15) {
    poly_tag(a, block, c, len, tag);
    return;
  }
  uint8_t saved[16];
  memcpy(saved, c + len, 16);
  memset(c + len, 0, 8);
  for (int i = 0; i < 8; ++i) c[len + 8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
  prim.poly_init(a->poly, block);
  prim.poly_update(a->poly, c, len + 16);
  memcpy(c + len, saved, 16);
  prim.poly_final(a->poly, tag);
}

static void direct_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                        uint8_t tag[16]) {
  unsigned int k[8];
  uint8_t block[64];
  key_words(key, k);
  poly_key(k, counter, block);
  const unsigned int ctr[4] = {1, 0, (unsigned int)counter, (unsigned int)(counter >> 32)};
  prim.chacha20(buf, buf, len, k, ctr);
  poly_tag(a, block, buf, len, tag);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(block, sizeof block);
}

static bool direct_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                        const uint8_t tag[16]) {
  unsigned int k[8];
  uint8_t block[64], want[16];
  key_words(key, k);
  poly_key(k, counter, block);
  poly_tag(a, block, buf, len, want); /* over the ciphertext, before anything is decrypted */
  bool ok = CRYPTO_memcmp(want, tag, 16) == 0;
  if (ok) {
    const unsigned int ctr[4] = {1, 0, (unsigned int)counter, (unsigned int)(counter >> 32)};
    prim.chacha20(buf, buf, len, k, ctr);
  }
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(block, sizeof block);
  return ok;
}

/* ---- the avx512 back end: our ChaCha20 keystream (wg_chacha20.c), OpenSSL's Poly1305 ---- */

static void nonce_words(uint64_t counter, uint32_t nonce[3]) {
  nonce[0] = 0;
  nonce[1] = (uint32_t)counter;
  nonce[2] = (uint32_t)(counter >> 32);
}

/* The first chunk of keystream into a->ks; returns the data bytes it covers. */
static size_t first_chunk(wg_aead *a, const uint32_t k[8], const uint32_t nonce[3], size_t len) {
  size_t first = len < FIRST_CHUNK_DATA ? len : FIRST_CHUNK_DATA;
  wg_chacha20_keystream(k, nonce, 0, 1 + (first + 63) / 64, a->ks);
  return first;
}

/* XORs the data beyond the first chunk, a chunk of keystream at a time. */
static void rest_chunks(wg_aead *a, const uint32_t k[8], const uint32_t nonce[3], uint8_t *buf, size_t len) {
  for (size_t off = FIRST_CHUNK_DATA; off < len; off += KS_BYTES) {
    size_t n = len - off < KS_BYTES ? len - off : KS_BYTES;
    wg_chacha20_keystream(k, nonce, (uint32_t)(1 + off / 64), (n + 63) / 64, a->ks);
    wg_xor_bytes(buf + off, a->ks, n);
  }
}

static void avx512_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                        uint8_t tag[16]) {
  unsigned int k[8];
  uint32_t nonce[3];
  uint8_t pk[64];
  key_words(key, k);
  nonce_words(counter, nonce);
  size_t first = first_chunk(a, k, nonce, len);
  memcpy(pk, a->ks, 32);
  wg_xor_bytes(buf, a->ks + 64, first);
  rest_chunks(a, k, nonce, buf, len);
  if (tag == buf + len) poly_tag_in_place(a, pk, buf, len, tag);
  else poly_tag(a, pk, buf, len, tag);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pk, sizeof pk);
}

static bool avx512_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                        const uint8_t tag[16]) {
  unsigned int k[8];
  uint32_t nonce[3];
  uint8_t want[16];
  key_words(key, k);
  nonce_words(counter, nonce);
  size_t first = first_chunk(a, k, nonce, len);
  /* Over the ciphertext, before anything is decrypted. */
  if (tag == buf + len) poly_tag_in_place(a, a->ks, buf, len, want); /* the tag's bytes are put back */
  else poly_tag(a, a->ks, buf, len, want);
  bool ok = CRYPTO_memcmp(want, tag, 16) == 0;
  if (ok) {
    wg_xor_bytes(buf, a->ks + 64, first);
    rest_chunks(a, k, nonce, buf, len);
  }
  OPENSSL_cleanse(k, sizeof k);
  return ok;
}

/* ---- choosing the back end ---- */

static wg_aead *aead_alloc(enum wg_aead_backend backend) {
  bool with_poly = backend != WG_AEAD_EVP;
  wg_aead *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->encrypt = EVP_CIPHER_CTX_new();
  a->decrypt = EVP_CIPHER_CTX_new();
  /* The cipher is bound once; each packet only sets key and nonce. */
  if (!a->encrypt || !a->decrypt || EVP_EncryptInit_ex(a->encrypt, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1 ||
      EVP_DecryptInit_ex(a->decrypt, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1 ||
      (with_poly && posix_memalign(&a->poly, 64, (prim.poly_ctx_size + 63) & ~(size_t)63) != 0)) {
    a->poly = NULL;
    wg_aead_free(a);
    return NULL;
  }
  if (backend == WG_AEAD_AVX512) {
    void *ks = NULL;
    if (posix_memalign(&ks, 64, KS_BYTES) != 0) {
      wg_aead_free(a);
      return NULL;
    }
    a->ks = ks;
  }
  return a;
}

/* The direct back end is used only when this process exports OpenSSL's
 * primitives (Node's own OpenSSL does; a system libcrypto does not) and they
 * agree with EVP on every length class of a packet (empty, partial block,
 * whole blocks, MTU-sized), with and without a forged tag rejected. */
static bool agrees_with_evp(enum wg_aead_backend backend) {
  static const size_t lengths[] = {0,    1,    15,   16,   63,   64,   65,   191,  192,  193,
                                   255,  256,  447,  448,  449,  959,  960,  961,  1000, 1420,
                                   1440, 1471, 1472, 1473, 1984, 1985, 3007, 3008, 3009, 9000};
  wg_aead *a = aead_alloc(backend);
  uint8_t *x = malloc(9000), *y = malloc(9000);
  bool ok = a && x && y;
  for (size_t n = 0; ok && n < sizeof lengths / sizeof lengths[0]; ++n) {
    size_t len = lengths[n];
    uint8_t key[32], tx[16], ty[16];
    uint64_t counter = 0x0123456789abcdefULL * (n + 1);
    for (size_t i = 0; i < 32; ++i) key[i] = (uint8_t)(i * 7 + n);
    for (size_t i = 0; i < len; ++i) x[i] = y[i] = (uint8_t)(i * 13 + n);
    evp_seal(a, key, counter, x, len, tx);
    wg_aead_seal(a, key, counter, y, len, ty);
    ok = memcmp(x, y, len) == 0 && memcmp(tx, ty, 16) == 0 && wg_aead_open(a, key, counter, y, len, ty);
    for (size_t i = 0; ok && i < len; ++i) ok = y[i] == (uint8_t)(i * 13 + n);
    ty[len % 16] ^= 1;
    if (ok) ok = !wg_aead_open(a, key, counter, x, len, ty);
  }
  free(x);
  free(y);
  wg_aead_free(a);
  return ok;
}

static void resolve(void) {
  prim.backend = WG_AEAD_EVP;
  const char *force = getenv("ZMESH_WG_AEAD");
  if (force && strcmp(force, "evp") == 0) return;
  prim.chacha20 = (chacha20_ctr32_fn)dlsym(RTLD_DEFAULT, "ChaCha20_ctr32");
  prim.poly_size = (poly1305_ctx_size_fn)dlsym(RTLD_DEFAULT, "Poly1305_ctx_size");
  prim.poly_init = (poly1305_init_fn)dlsym(RTLD_DEFAULT, "Poly1305_Init");
  prim.poly_update = (poly1305_update_fn)dlsym(RTLD_DEFAULT, "Poly1305_Update");
  prim.poly_final = (poly1305_final_fn)dlsym(RTLD_DEFAULT, "Poly1305_Final");
  if (!prim.chacha20 || !prim.poly_size || !prim.poly_init || !prim.poly_update || !prim.poly_final) return;
  prim.poly_ctx_size = prim.poly_size();
  if (prim.poly_ctx_size == 0 || prim.poly_ctx_size > 4096) return;
  if (!agrees_with_evp(WG_AEAD_DIRECT)) return;
  prim.backend = WG_AEAD_DIRECT;
  if ((!force || strcmp(force, "direct") != 0) && wg_chacha20_available() && agrees_with_evp(WG_AEAD_AVX512))
    prim.backend = WG_AEAD_AVX512;
}

enum wg_aead_backend wg_aead_backend_in_use(void) {
  pthread_once(&prim_once, resolve);
  return prim.backend;
}

wg_aead *wg_aead_new(void) {
  return aead_alloc(wg_aead_backend_in_use());
}

wg_aead *wg_aead_new_with(enum wg_aead_backend backend) {
  /* Each back end needs the ones before it (avx512 uses direct's Poly1305). */
  if (backend > wg_aead_backend_in_use()) return NULL;
  return aead_alloc(backend);
}

void wg_aead_free(wg_aead *a) {
  if (!a) return;
  EVP_CIPHER_CTX_free(a->encrypt); /* cleanses the key schedule */
  EVP_CIPHER_CTX_free(a->decrypt);
  if (a->poly) OPENSSL_cleanse(a->poly, prim.poly_ctx_size);
  if (a->ks) OPENSSL_cleanse(a->ks, KS_BYTES);
  free(a->poly);
  free(a->ks);
  free(a);
}

void wg_aead_seal_headroom(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                           uint8_t tag[16]) {
  if (!a->poly || a->ks) {
    wg_aead_seal(a, key, counter, buf, len, tag);
    return;
  }
  unsigned int k[8];
  uint8_t *block = buf - WG_AEAD_HEADROOM;
  const unsigned int ctr[4] = {0, 0, (unsigned int)counter, (unsigned int)(counter >> 32)};
  key_words(key, k);
  memset(block, 0, WG_AEAD_HEADROOM);
  prim.chacha20(block, block, WG_AEAD_HEADROOM + len, k, ctr); /* block 0: the Poly1305 key; then the ciphertext */
  poly_tag(a, block, buf, len, tag);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(block, WG_AEAD_HEADROOM);
}

void wg_aead_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, uint8_t tag[16]) {
  if (a->ks) avx512_seal(a, key, counter, buf, len, tag);
  else if (a->poly) direct_seal(a, key, counter, buf, len, tag);
  else evp_seal(a, key, counter, buf, len, tag);
}

bool wg_aead_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len,
                  const uint8_t tag[16]) {
  if (a->ks) return avx512_open(a, key, counter, buf, len, tag);
  return a->poly ? direct_open(a, key, counter, buf, len, tag) : evp_open(a, key, counter, buf, len, tag);
}
