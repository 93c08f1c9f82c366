/* Parsing of a packed peer batch, in parallel ranges; see wgk_batch.h. */
#include "wgk_batch.h"

#include <errno.h>
#include <linux/wireguard.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wgk_text.h"

#define WGK_BATCH_THREADS_MAX 4

/* Where a range of peers starts in the batch's concatenated columns. */
typedef struct cursor {
  size_t endpoint_at, allowedip_index, allowedip_at, psk_index;
} cursor;

typedef struct range_job {
  const wgk_batch *b;
  wgk_device *d;
  size_t first, end;
  cursor at;
  wgk_batch_error err;
} range_job;

static int layout_error(wgk_batch_error *err, size_t peer, const char *reason) {
  memset(err, 0, sizeof *err);
  err->field = WGK_BATCH_FIELD_LAYOUT;
  err->peer = peer;
  err->reason = reason;
  return -EINVAL;
}

static int value_error(wgk_batch_error *err, enum wgk_batch_field field, size_t peer, size_t allowedip,
                       const uint16_t *text, size_t len, const char *reason) {
  err->field = field;
  err->peer = peer;
  err->allowedip = allowedip;
  err->text = text;
  err->text_len = len;
  err->reason = reason;
  return -EINVAL;
}

/* Parses peers [first, end); the cursor was checked against the columns by
 * plan_ranges, so every read below is in bounds. */
static void *parse_range(void *arg) {
  range_job *j = arg;
  const wgk_batch *b = j->b;
  cursor at = j->at;
  for (size_t i = j->first; i < j->end; i++) {
    wgk_peer *p = &j->d->peers[i];
    const char *reason = wgk_parse_key_b64(b->keys + i * WGK_KEY_B64_LEN, WGK_KEY_B64_LEN, p->public_key);
    if (reason) {
      value_error(&j->err, WGK_BATCH_FIELD_PUBLIC_KEY, i, 0, NULL, 0, reason);
      return NULL;
    }
    uint8_t f = b->flags[i];
    p->flags = f & (WGPEER_F_REMOVE_ME | WGPEER_F_REPLACE_ALLOWEDIPS | WGPEER_F_UPDATE_ONLY);
    if (f & WGK_BATCH_PRESHARED_KEY) {
      memcpy(p->preshared_key, b->preshared_keys + WGK_KEY_LEN * at.psk_index++, WGK_KEY_LEN);
      p->has |= WGK_PEER_HAS_PRESHARED_KEY;
    } else if (f & WGK_BATCH_PRESHARED_KEY_NONE) {
      p->has |= WGK_PEER_HAS_PRESHARED_KEY; /* all zeros: remove */
    }
    if (f & WGK_BATCH_ENDPOINT) {
      const uint16_t *text = b->endpoints + at.endpoint_at;
      size_t len = b->endpoint_lengths[i];
      at.endpoint_at += len;
      if ((reason = wgk_parse_endpoint(text, len, &p->endpoint))) {
        value_error(&j->err, WGK_BATCH_FIELD_ENDPOINT, i, 0, text, len, reason);
        return NULL;
      }
      p->has |= WGK_PEER_HAS_ENDPOINT;
    }
    if (f & WGK_BATCH_KEEPALIVE) {
      p->persistent_keepalive = b->keepalives[i];
      p->has |= WGK_PEER_HAS_KEEPALIVE;
    }
    size_t c = b->allowedip_counts[i];
    p->allowedips = c ? j->d->allowedip_pool + at.allowedip_index : NULL;
    p->n_allowedips = c;
    for (size_t k = 0; k < c; k++) {
      const uint16_t *text = b->allowedips + at.allowedip_at;
      size_t len = b->allowedip_lengths[at.allowedip_index++];
      at.allowedip_at += len;
      if ((reason = wgk_parse_allowedip(text, len, &p->allowedips[k]))) {
        value_error(&j->err, WGK_BATCH_FIELD_ALLOWEDIP, i, k, text, len, reason);
        return NULL;
      }
    }
  }
  return NULL;
}

/* One pass over the columns: checks that they agree (no read can leave them)
 * and records where each of the n ranges starts. */
static int plan_ranges(const wgk_batch *b, range_job *jobs, size_t n, wgk_batch_error *err) {
  cursor at = {0};
  size_t next = 0;
  for (size_t i = 0; i <= b->count; i++) {
    while (next < n && i == b->count * next / n) {
      jobs[next].first = i;
      jobs[next].at = at;
      if (next > 0) jobs[next - 1].end = i;
      next++;
    }
    if (i == b->count) break;
    uint8_t f = b->flags[i];
    if (f & WGK_BATCH_PRESHARED_KEY) {
      if (at.psk_index >= b->n_preshared_keys) return layout_error(err, i, "peer batch: presharedKeys is too short");
      at.psk_index++;
    }
    if (f & WGK_BATCH_ENDPOINT) {
      if (b->endpoint_lengths[i] > b->endpoints_len - at.endpoint_at)
        return layout_error(err, i, "peer batch: endpoints is too short");
      at.endpoint_at += b->endpoint_lengths[i];
    }
    size_t c = b->allowedip_counts[i];
    if (c > b->n_allowedips - at.allowedip_index)
      return layout_error(err, i, "peer batch: allowedIpLengths is too short");
    for (size_t k = 0; k < c; k++) {
      size_t len = b->allowedip_lengths[at.allowedip_index++];
      if (len > b->allowedips_len - at.allowedip_at) return layout_error(err, i, "peer batch: allowedIps is too short");
      at.allowedip_at += len;
    }
  }
  jobs[n - 1].end = b->count;
  return 0;
}

int wgk_batch_parse(const wgk_batch *b, wgk_device *d, unsigned threads, wgk_batch_error *err) {
  memset(err, 0, sizeof *err);
  size_t n = threads < 1 || b->count < WGK_BATCH_PARALLEL_MIN ? 1 : threads;
  if (n > WGK_BATCH_THREADS_MAX) n = WGK_BATCH_THREADS_MAX;
  range_job jobs[WGK_BATCH_THREADS_MAX];
  memset(jobs, 0, sizeof jobs);
  int rc = plan_ranges(b, jobs, n, err);
  if (rc < 0) return rc;
  d->peers = calloc(b->count ? b->count : 1, sizeof *d->peers);
  d->allowedip_pool = calloc(b->n_allowedips ? b->n_allowedips : 1, sizeof *d->allowedip_pool);
  if (!d->peers || !d->allowedip_pool) return -ENOMEM;
  d->cap_peers = d->n_peers = b->count; /* all of them, so that wgk_device_free zeroes every copied key */
  pthread_t tids[WGK_BATCH_THREADS_MAX];
  size_t started = 1;
  for (size_t t = 0; t < n; t++) {
    jobs[t].b = b;
    jobs[t].d = d;
  }
  for (size_t t = 1; t < n; t++) {
    /* A thread that cannot start leaves its range to the calling thread. */
    if (pthread_create(&tids[t], NULL, parse_range, &jobs[t]) != 0) break;
    started++;
  }
  parse_range(&jobs[0]);
  for (size_t t = started; t < n; t++) parse_range(&jobs[t]);
  for (size_t t = 1; t < started; t++) pthread_join(tids[t], NULL);
  for (size_t t = 0; t < n; t++) {
    if (jobs[t].err.reason) {
      *err = jobs[t].err; /* ranges are in peer order: the first is the lowest */
      return -EINVAL;
    }
  }
  return 0;
}
