/* A packed batch of SET_DEVICE peers (built by src/nr/wireguard/kernel/peer-batch.ts:
 * per-peer columns and the concatenated UTF-16 text of keys, endpoints and
 * allowed IPs) parsed into a wgk_device's peers. Every value is checked; the
 * whole batch is parsed before the caller sends anything. A large batch is
 * cut into contiguous ranges parsed on parallel threads (the guest this is
 * measured in has two CPUs, and the kernel's half of a SET_DEVICE cannot
 * start before the whole set is known to be valid). */
#ifndef ZMESH_WGK_BATCH_H
#define ZMESH_WGK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "wgk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-peer flag bits beyond the kernel's WGPEER_F_* (bits 0..2); mirrored by
 * RAW_PEER in src/nr/wireguard/kernel/native.ts. */
enum {
  WGK_BATCH_PRESHARED_KEY = 1 << 3,      /* the next 32 bytes of preshared_keys */
  WGK_BATCH_PRESHARED_KEY_NONE = 1 << 4, /* remove it (all zeros) */
  WGK_BATCH_ENDPOINT = 1 << 5,           /* the next endpoint_lengths[i] units of endpoints */
  WGK_BATCH_KEEPALIVE = 1 << 6,          /* keepalives[i] */
};

typedef struct wgk_batch {
  size_t count;
  const uint16_t *keys; /* count * WGK_KEY_B64_LEN units */
  const uint8_t *flags;
  const uint16_t *keepalives;
  const uint32_t *endpoint_lengths;
  const uint16_t *endpoints;
  size_t endpoints_len;
  const uint32_t *allowedip_counts;
  const uint32_t *allowedip_lengths;
  size_t n_allowedips;
  const uint16_t *allowedips;
  size_t allowedips_len;
  const uint8_t *preshared_keys;
  size_t n_preshared_keys;
} wgk_batch;

enum wgk_batch_field {
  WGK_BATCH_FIELD_LAYOUT, /* the columns disagree with each other: a bug of the packer */
  WGK_BATCH_FIELD_PUBLIC_KEY,
  WGK_BATCH_FIELD_ENDPOINT,
  WGK_BATCH_FIELD_ALLOWEDIP,
};

/* The first bad value (lowest peer index): which, why, and its text (none
 * for a key, which is never quoted). */
typedef struct wgk_batch_error {
  const char *reason;
  enum wgk_batch_field field;
  size_t peer, allowedip;
  const uint16_t *text;
  size_t text_len;
} wgk_batch_error;

/* Below this many peers one thread parses everything (a thread costs more
 * than it saves). */
#define WGK_BATCH_PARALLEL_MIN 1024

/* Allocates and fills d->peers and d->allowedip_pool from the batch with up
 * to `threads` threads (0 or 1: the calling thread only). 0, -ENOMEM, or
 * -EINVAL with *err set. d is left for wgk_device_free in every case. */
int wgk_batch_parse(const wgk_batch *b, wgk_device *d, unsigned threads, wgk_batch_error *err);

#ifdef __cplusplus
}
#endif
#endif
