// JavaScript bindings of the userspace WireGuard data plane (wg_*.c).
#ifndef ZMESH_DATAPLANE_ADDON_H
#define ZMESH_DATAPLANE_ADDON_H

#include <napi.h>

// Adds `Dataplane`, `monotonicMs` and `dataplaneTest` to the addon's exports.
void InitDataplane(Napi::Env env, Napi::Object exports);

#endif
