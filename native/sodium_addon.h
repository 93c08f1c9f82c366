// JavaScript bindings of the few libsodium functions the WireGuard handshake needs.
#ifndef ZMESH_SODIUM_ADDON_H
#define ZMESH_SODIUM_ADDON_H

#include <napi.h>

// Adds `sodium` (X25519, (X)ChaCha20-Poly1305, random bytes, constant-time equality) to the exports.
void InitSodium(Napi::Env env, Napi::Object exports);

#endif
