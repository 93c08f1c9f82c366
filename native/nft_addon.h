// JavaScript binding of nft.c (nftables through libnftables in a namespace).
#ifndef ZMESH_NFT_ADDON_H
#define ZMESH_NFT_ADDON_H

#include <napi.h>

// Adds `nftRun` to the addon's exports.
void InitNft(Napi::Env env, Napi::Object exports);

#endif
