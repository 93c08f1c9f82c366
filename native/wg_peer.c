/* Peers of a device: their lifetime, their keypair slots (current, previous,
 * next, following the Linux module's noise.c), their want for a handshake and
 * the packets staged while they have no keypair to send with. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wg_constants.h"
#include "wg_device.h"

wg_peer *wg_peer_find(wg_device *d, uint32_t peer_id) {
  wg_index_node *n = wg_index_find(&d->peers, peer_id);
  return n ? WG_CONTAINER_OF(n, wg_peer, id_node) : NULL;
}

wg_peer *wg_peer_create(wg_device *d, uint32_t peer_id) {
  wg_peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->id_node.key = peer_id;
  p->endpoint.sa.sa_family = AF_UNSPEC;
  p->staged_head = p->staged_tail = -1;
  pthread_spin_init(&p->endpoint_lock, PTHREAD_PROCESS_PRIVATE);
  wg_index_add(&d->peers, &p->id_node);
  return p;
}

void wg_keypair_destroy(wg_device *d, wg_keypair *kp) {
  if (!kp) return;
  wg_index_remove(&d->keypairs, &kp->index_node);
  pthread_spin_destroy(&kp->replay_lock);
  sodium_memzero(kp, sizeof *kp); /* the keys above all */
  free(kp);
}

void wg_peer_destroy(wg_device *d, wg_peer *p) {
  for (size_t i = 0; i < p->cidr_count; ++i)
    wg_allowedips_remove_exact(d->allowedips, p->cidrs[i].family, p->cidrs[i].addr, p->cidrs[i].prefix, p);
  free(p->cidrs);
  wg_keypair_destroy(d, p->current);
  wg_keypair_destroy(d, p->previous);
  wg_keypair_destroy(d, p->next);
  wg_staged_drop(d, p);
  wg_index_remove(&d->peers, &p->id_node);
  pthread_spin_destroy(&p->endpoint_lock);
  free(p);
}

void wg_peer_promote_next(wg_device *d, wg_peer *p) {
  if (!p->next) return;
  wg_keypair_destroy(d, p->previous);
  p->previous = p->current;
  p->current = p->next;
  p->next = NULL;
}

wg_keypair *wg_peer_sending_keypair(wg_peer *p, uint64_t now, uint64_t *counter_out) {
  wg_keypair *kp = p->current;
  if (!kp || !atomic_load_explicit(&kp->can_send, memory_order_relaxed)) return NULL;
  if (now - kp->created_ms >= WG_REJECT_AFTER_TIME_MS) return NULL;
  uint64_t counter = atomic_fetch_add_explicit(&kp->send_counter, 1, memory_order_relaxed);
  if (counter >= WG_REJECT_AFTER_MESSAGES) return NULL;
  *counter_out = counter;
  return kp;
}

void wg_peer_want_handshake(wg_device *d, wg_peer *p, uint64_t now) {
  atomic_store_explicit(&p->wants_handshake, true, memory_order_relaxed);
  wg_stats_changed(d);
  uint_fast64_t last = atomic_load_explicit(&p->last_wants_report_ms, memory_order_relaxed);
  if (last != 0 && now - last < WG_WANTS_REPORT_INTERVAL_MS) return;
  /* Only the thread that wins the exchange reports, so two threads never both do. */
  if (!atomic_compare_exchange_strong(&p->last_wants_report_ms, &last, now ? now : 1)) return;
  wg_event e;
  memset(&e, 0, sizeof e);
  e.type = WG_EVENT_WANTS_HANDSHAKE;
  e.peer_id = p->id_node.key;
  wg_events_push(d, &e); /* a full queue loses it; the next packet reports again after the interval */
}

/* ---- staged packets ---- */

int wg_staged_init(wg_device *d) {
  pthread_mutex_init(&d->staged_lock, NULL);
  d->staged = wg_pages_alloc(WG_STAGED_POOL * sizeof *d->staged);
  if (!d->staged) return -ENOMEM;
  /* No free list written up front (that would make the whole pool resident): slots are taken in
   * order from staged_fresh, and only given-back ones are listed. */
  d->staged_free = -1;
  d->staged_fresh = 0;
  return 0;
}

/* Frees a slot's buffer, zeroed first: staged plaintext is user traffic. */
static void free_buffer(wg_packet_slot *slot) {
  if (!slot->buffer) return;
  sodium_memzero(slot->buffer,
                 WG_SEAL_HEADROOM + WG_TRANSPORT_HEADER_SIZE + slot->len + WG_PADDING_MULTIPLE + WG_AEAD_TAG_SIZE);
  free(slot->buffer);
  slot->buffer = slot->data = NULL;
}

void wg_staged_destroy(wg_device *d) {
  for (int32_t i = 0; d->staged && i < d->staged_fresh; ++i) free_buffer(&d->staged[i]);
  wg_pages_free(d->staged, WG_STAGED_POOL * sizeof *d->staged);
  d->staged = NULL;
  pthread_mutex_destroy(&d->staged_lock);
}

/* staged_lock held. Removes the peer's oldest packet and returns its slot. */
static int32_t pop_oldest(wg_device *d, wg_peer *p) {
  int32_t s = p->staged_head;
  if (s < 0) return -1;
  p->staged_head = d->staged[s].next;
  if (p->staged_head < 0) p->staged_tail = -1;
  p->staged_count--;
  d->staged[s].next = -1;
  return s;
}

static void release_slot(wg_device *d, int32_t s) {
  free_buffer(&d->staged[s]);
  d->staged[s].next = d->staged_free;
  d->staged_free = s;
}

void wg_staged_push(wg_device *d, wg_peer *p, const uint8_t *packet, size_t len) {
  if (len > WG_MAX_INNER_PACKET) return;
  /* Sized to the packet: a device whose MTU is 64 KiB must not keep 1,024 such buffers. */
  uint8_t *buffer = malloc(WG_SEAL_HEADROOM + WG_TRANSPORT_HEADER_SIZE + len + WG_PADDING_MULTIPLE + WG_AEAD_TAG_SIZE);
  if (!buffer) {
    wg_count_drop(d, WG_DROP_STAGED_OVERFLOW);
    return;
  }
  pthread_mutex_lock(&d->staged_lock);
  int32_t s = -1;
  if (p->staged_count >= WG_STAGED_PER_PEER || (d->staged_free < 0 && d->staged_fresh >= WG_STAGED_POOL)) {
    s = pop_oldest(d, p); /* drop oldest: newer packets are likelier to matter */
    wg_count_drop(d, WG_DROP_STAGED_OVERFLOW);
  } else if (d->staged_free >= 0) {
    s = d->staged_free;
    d->staged_free = d->staged[s].next;
  } else {
    s = d->staged_fresh++;
  }
  if (s < 0) { /* pool exhausted by other peers and this one has nothing to give back: drop the new one */
    pthread_mutex_unlock(&d->staged_lock);
    free(buffer);
    return;
  }
  free_buffer(&d->staged[s]); /* the oldest packet pushed out, if any */
  d->staged[s].buffer = buffer;
  d->staged[s].data = buffer + WG_SEAL_HEADROOM;
  memcpy(d->staged[s].data + WG_TRANSPORT_HEADER_SIZE, packet, len);
  d->staged[s].len = (uint32_t)len;
  d->staged[s].next = -1;
  if (p->staged_tail >= 0) d->staged[p->staged_tail].next = s;
  else p->staged_head = s;
  p->staged_tail = s;
  p->staged_count++;
  pthread_mutex_unlock(&d->staged_lock);
}

void wg_staged_drop(wg_device *d, wg_peer *p) {
  pthread_mutex_lock(&d->staged_lock);
  for (int32_t s; (s = pop_oldest(d, p)) >= 0;) release_slot(d, s);
  pthread_mutex_unlock(&d->staged_lock);
}

void wg_staged_flush(wg_device *d, wg_peer *p, uint64_t now) {
  wg_sockaddr to;
  wg_source from;
  wg_aead *aead = NULL;
  for (;;) {
    pthread_mutex_lock(&d->staged_lock);
    int32_t s = pop_oldest(d, p);
    pthread_mutex_unlock(&d->staged_lock);
    if (s < 0) break;
    if (!aead) aead = wg_aead_new();
    /* The slot is ours alone until released. */
    uint64_t counter;
    wg_keypair *kp = wg_peer_sending_keypair(p, now, &counter);
    wg_peer_endpoint(p, &to, &from);
    if (kp && to.sa.sa_family != AF_UNSPEC && aead) {
      size_t len = wg_seal_transport(d, aead, kp, counter, d->staged[s].data, d->staged[s].len);
      if (wg_send_one(d, p, &to, &from, d->staged[s].data, len) == 0) {
        wg_set(&p->last_data_sent_ms, now);
        wg_set(&p->last_auth_sent_ms, now);
      }
    } else {
      wg_count_drop(d, kp ? WG_DROP_NO_ENDPOINT : WG_DROP_STAGED_OVERFLOW);
    }
    if (kp) wg_stats_changed(d); /* its send counter moved, sent or not */
    pthread_mutex_lock(&d->staged_lock);
    release_slot(d, s);
    pthread_mutex_unlock(&d->staged_lock);
  }
  wg_aead_free(aead);
}
