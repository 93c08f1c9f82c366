/* Transport AEAD over OpenSSL EVP; see wg_aead.h for why OpenSSL. */
#include "wg_aead.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct wg_aead {
  EVP_CIPHER_CTX *encrypt, *decrypt;
};

wg_aead *wg_aead_new(void) {
  wg_aead *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->encrypt = EVP_CIPHER_CTX_new();
  a->decrypt = EVP_CIPHER_CTX_new();
  /* The cipher is bound once; each packet only sets key and nonce. */
  if (!a->encrypt || !a->decrypt || EVP_EncryptInit_ex(a->encrypt, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1 ||
      EVP_DecryptInit_ex(a->decrypt, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1) {
    wg_aead_free(a);
    return NULL;
  }
  return a;
}

void wg_aead_free(wg_aead *a) {
  if (!a) return;
  EVP_CIPHER_CTX_free(a->encrypt); /* cleanses the key schedule */
  EVP_CIPHER_CTX_free(a->decrypt);
  free(a);
}

static void nonce_of(uint64_t counter, uint8_t nonce[12]) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void wg_aead_seal(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, uint8_t tag[16]) {
  uint8_t nonce[12];
  int out = 0;
  nonce_of(counter, nonce);
  EVP_EncryptInit_ex(a->encrypt, NULL, NULL, key, nonce);
  if (len) EVP_EncryptUpdate(a->encrypt, buf, &out, buf, (int)len);
  EVP_EncryptFinal_ex(a->encrypt, buf + out, &out);
  EVP_CIPHER_CTX_ctrl(a->encrypt, EVP_CTRL_AEAD_GET_TAG, 16, tag);
}

bool wg_aead_open(wg_aead *a, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len, const uint8_t tag[16]) {
  uint8_t nonce[12];
  int out = 0;
  nonce_of(counter, nonce);
  if (EVP_DecryptInit_ex(a->decrypt, NULL, NULL, key, nonce) != 1) return false;
  if (len && EVP_DecryptUpdate(a->decrypt, buf, &out, buf, (int)len) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(a->decrypt, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) != 1) return false;
  return EVP_DecryptFinal_ex(a->decrypt, buf + out, &out) == 1;
}
