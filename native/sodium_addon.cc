// The handshake's libsodium functions for src/wg/crypto.ts. The data plane links libsodium
// already, so wgd gets them here rather than from libsodium-wrappers, whose WebAssembly build
// costs ~8 MB of RSS per process once compiled. This file only checks sizes and converts
// arguments; every result is libsodium's own.
#include "sodium_addon.h"

#include <sodium.h>

#include <string>

namespace {

struct Bytes {
  const uint8_t *data;
  size_t length;
};

// A Uint8Array argument (a Buffer is one), of exactly `length` bytes unless length is 0.
Bytes BytesArg(const Napi::CallbackInfo &info, size_t index, const char *name, size_t length = 0) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, std::string(name) + ": expected a Uint8Array");
  auto array = info[index].As<Napi::Uint8Array>();
  if (length != 0 && array.ByteLength() != length)
    throw Napi::RangeError::New(env, std::string(name) + ": expected " + std::to_string(length) + " bytes");
  return {array.Data(), array.ByteLength()};
}

// scalarmult(privateKey, publicKey): the X25519 shared secret, or null when libsodium refuses
// it (an all-zero result: a low-order public key).
Napi::Value Scalarmult(const Napi::CallbackInfo &info) {
  Bytes secret = BytesArg(info, 0, "privateKey", crypto_scalarmult_SCALARBYTES);
  Bytes point = BytesArg(info, 1, "publicKey", crypto_scalarmult_BYTES);
  auto out = Napi::Uint8Array::New(info.Env(), crypto_scalarmult_BYTES);
  if (crypto_scalarmult(out.Data(), secret.data, point.data) != 0) {
    sodium_memzero(out.Data(), out.ByteLength());
    return info.Env().Null();
  }
  return out;
}

// scalarmultBase(privateKey): the X25519 public key.
Napi::Value ScalarmultBase(const Napi::CallbackInfo &info) {
  Bytes secret = BytesArg(info, 0, "privateKey", crypto_scalarmult_SCALARBYTES);
  auto out = Napi::Uint8Array::New(info.Env(), crypto_scalarmult_BYTES);
  if (crypto_scalarmult_base(out.Data(), secret.data) != 0)
    throw Napi::Error::New(info.Env(), "crypto_scalarmult_base failed");
  return out;
}

using Seal = int (*)(unsigned char *, unsigned long long *, const unsigned char *, unsigned long long,
                     const unsigned char *, unsigned long long, const unsigned char *, const unsigned char *,
                     const unsigned char *);
using Open = int (*)(unsigned char *, unsigned long long *, unsigned char *, const unsigned char *, unsigned long long,
                     const unsigned char *, unsigned long long, const unsigned char *, const unsigned char *);

// (key, nonce, plaintext, authtext) -> ciphertext ‖ tag.
template <Seal seal, size_t NonceBytes>
Napi::Value AeadSeal(const Napi::CallbackInfo &info) {
  Bytes key = BytesArg(info, 0, "key", crypto_aead_chacha20poly1305_ietf_KEYBYTES);
  Bytes nonce = BytesArg(info, 1, "nonce", NonceBytes);
  Bytes plain = BytesArg(info, 2, "plaintext");
  Bytes ad = BytesArg(info, 3, "authtext");
  auto out = Napi::Uint8Array::New(info.Env(), plain.length + crypto_aead_chacha20poly1305_ietf_ABYTES);
  unsigned long long written = 0;
  seal(out.Data(), &written, plain.data, plain.length, ad.data, ad.length, nullptr, nonce.data, key.data);
  return out;
}

// (key, nonce, ciphertext ‖ tag, authtext) -> plaintext, or null when the tag does not verify.
template <Open open, size_t NonceBytes>
Napi::Value AeadOpen(const Napi::CallbackInfo &info) {
  Bytes key = BytesArg(info, 0, "key", crypto_aead_chacha20poly1305_ietf_KEYBYTES);
  Bytes nonce = BytesArg(info, 1, "nonce", NonceBytes);
  Bytes cipher = BytesArg(info, 2, "ciphertext");
  Bytes ad = BytesArg(info, 3, "authtext");
  if (cipher.length < crypto_aead_chacha20poly1305_ietf_ABYTES) return info.Env().Null();
  auto out = Napi::Uint8Array::New(info.Env(), cipher.length - crypto_aead_chacha20poly1305_ietf_ABYTES);
  unsigned long long written = 0;
  if (open(out.Data(), &written, nullptr, cipher.data, cipher.length, ad.data, ad.length, nonce.data, key.data) != 0)
    return info.Env().Null();
  return out;
}

// randomBytes(length): bytes from libsodium's CSPRNG.
Napi::Value RandomBytes(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "randomBytes(length)");
  int64_t length = info[0].As<Napi::Number>().Int64Value();
  if (length < 0 || length > (1 << 20)) throw Napi::RangeError::New(info.Env(), "randomBytes: 0 to 1 MiB");
  auto out = Napi::Uint8Array::New(info.Env(), static_cast<size_t>(length));
  randombytes_buf(out.Data(), out.ByteLength());
  return out;
}

// equal(a, b): constant-time comparison of two byte strings of the same length.
Napi::Value Equal(const Napi::CallbackInfo &info) {
  Bytes a = BytesArg(info, 0, "a");
  Bytes b = BytesArg(info, 1, "b", 0);
  if (a.length != b.length) throw Napi::RangeError::New(info.Env(), "equal: the lengths differ");
  return Napi::Boolean::New(info.Env(), sodium_memcmp(a.data, b.data, a.length) == 0);
}

}  // namespace

void InitSodium(Napi::Env env, Napi::Object exports) {
  if (sodium_init() < 0) throw Napi::Error::New(env, "sodium_init failed");
  Napi::Object s = Napi::Object::New(env);
  s.Set("scalarmult", Napi::Function::New(env, Scalarmult));
  s.Set("scalarmultBase", Napi::Function::New(env, ScalarmultBase));
  s.Set("aeadSeal",
        Napi::Function::New(
            env, AeadSeal<crypto_aead_chacha20poly1305_ietf_encrypt, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>));
  s.Set("aeadOpen",
        Napi::Function::New(
            env, AeadOpen<crypto_aead_chacha20poly1305_ietf_decrypt, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>));
  s.Set("xaeadSeal",
        Napi::Function::New(
            env, AeadSeal<crypto_aead_xchacha20poly1305_ietf_encrypt, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES>));
  s.Set("xaeadOpen",
        Napi::Function::New(
            env, AeadOpen<crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES>));
  s.Set("randomBytes", Napi::Function::New(env, RandomBytes));
  s.Set("equal", Napi::Function::New(env, Equal));
  exports.Set("sodium", s);
}
