// JavaScript bindings of kernel WireGuard (generic netlink family `wireguard`
// and links of kind wireguard): InitKernelWg adds them to the addon's exports.
#ifndef ZMESH_KERNEL_WG_ADDON_H
#define ZMESH_KERNEL_WG_ADDON_H

#include <napi.h>

void InitKernelWg(Napi::Env env, Napi::Object exports);

#endif
