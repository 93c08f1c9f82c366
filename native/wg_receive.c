/* The inbound path: recvmmsg a batch -> per message: handshake messages to
 * the event queue; transport: receiver index -> keypair -> decrypt in place
 * -> replay window -> roam -> source check -> TUN. Everything else is
 * dropped and counted by reason; nothing a peer sends can crash this.
 *
 * A responder's next keypair is promoted after the batch, under the write
 * lock, because promotion frees the old previous keypair, which a packet
 * thread must never do while it (or the other thread) holds the read lock. */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wg_constants.h"
#include "wg_device.h"

static inline uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p) { return get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }

typedef struct rx_batch {
  uint8_t *memory; /* WG_BATCH buffers of WG_MAX_MESSAGE_SIZE */
  struct mmsghdr msgs[WG_BATCH];
  struct iovec iov[WG_BATCH];
  wg_sockaddr from[WG_BATCH];
  uint32_t promote[WG_BATCH]; /* local indices of next keypairs that received data */
  size_t promote_count;
} rx_batch;

static bool same_endpoint(const wg_sockaddr *a, const wg_sockaddr *b) {
  if (a->sa.sa_family != b->sa.sa_family) return false;
  if (a->sa.sa_family == AF_INET)
    return a->in4.sin_port == b->in4.sin_port && a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
  if (a->sa.sa_family == AF_INET6)
    return a->in6.sin6_port == b->in6.sin6_port && a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
           memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
  return false;
}

static void roam(wg_peer *p, const wg_sockaddr *from) {
  pthread_spin_lock(&p->endpoint_lock);
  if (!same_endpoint(&p->endpoint, from)) p->endpoint = *from;
  pthread_spin_unlock(&p->endpoint_lock);
}

static void handshake_message(wg_device *d, const uint8_t *msg, size_t len, const wg_sockaddr *from) {
  wg_event e;
  memset(&e, 0, sizeof e);
  e.type = WG_EVENT_HANDSHAKE_MESSAGE;
  e.len = (uint16_t)len;
  e.from = *from;
  memcpy(e.bytes, msg, len);
  if (!wg_events_push(d, &e)) wg_count_drop(d, WG_DROP_HANDSHAKE_QUEUE_FULL);
}

/* Length of the IP packet at the start of a decrypted payload (its padding
 * cut off) and where its source address is, or 0 when it is not one. */
static size_t inner_packet(const uint8_t *pkt, size_t len, int *family, const uint8_t **src) {
  if (len >= 20 && (pkt[0] >> 4) == 4) {
    size_t total = (size_t)pkt[2] << 8 | pkt[3];
    if (total < 20 || total > len) return 0;
    *family = 4;
    *src = pkt + 12;
    return total;
  }
  if (len >= 40 && (pkt[0] >> 4) == 6) {
    size_t total = 40 + ((size_t)pkt[4] << 8 | pkt[5]);
    if (total > len) return 0;
    *family = 6;
    *src = pkt + 8;
    return total;
  }
  return 0;
}

static void transport_message(wg_device *d, rx_batch *b, uint8_t *msg, size_t len, const wg_sockaddr *from,
                              uint64_t now) {
  if (len < WG_KEEPALIVE_SIZE) {
    wg_count_drop(d, WG_DROP_SHORT);
    return;
  }
  wg_index_node *n = wg_index_find(&d->keypairs, get_le32(msg + 4));
  if (!n) {
    wg_count_drop(d, WG_DROP_UNKNOWN_INDEX);
    return;
  }
  wg_keypair *kp = WG_CONTAINER_OF(n, wg_keypair, index_node);
  if (now - kp->created_ms >= WG_REJECT_AFTER_TIME_MS) {
    wg_count_drop(d, WG_DROP_EXPIRED_KEYPAIR);
    return;
  }
  uint64_t counter = get_le64(msg + 8);
  uint8_t nonce[12] = {0};
  memcpy(nonce + 4, msg + 8, 8);
  uint8_t *payload = msg + WG_TRANSPORT_HEADER_SIZE;
  size_t payload_len = len - WG_KEEPALIVE_SIZE;
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(payload, NULL, payload, payload_len,
                                                         payload + payload_len, NULL, 0, nonce,
                                                         kp->receive_key) != 0) {
    wg_count_drop(d, WG_DROP_AUTH_FAILED);
    return;
  }
  pthread_spin_lock(&kp->replay_lock);
  bool fresh = wg_replay_check_and_update(&kp->replay, counter);
  pthread_spin_unlock(&kp->replay_lock);
  if (!fresh) {
    wg_count_drop(d, WG_DROP_REPLAY);
    return;
  }

  /* Authenticated and fresh: this is the peer speaking, from `from`. */
  wg_peer *p = kp->peer;
  wg_add(&p->rx_bytes, len);
  wg_set(&p->last_auth_received_ms, now);
  roam(p, from);
  if (kp == p->next) {
    bool queued = false;
    for (size_t i = 0; i < b->promote_count; ++i) queued |= b->promote[i] == kp->index_node.key;
    if (!queued) b->promote[b->promote_count++] = kp->index_node.key;
  } else if (kp == p->current && kp->initiator && now - kp->created_ms >= WG_REKEY_ON_RECEIVE_AFTER_MS) {
    wg_peer_want_handshake(d, p, now);
  }
  if (payload_len == 0) return; /* keepalive */

  int family;
  const uint8_t *src;
  size_t inner_len = inner_packet(payload, payload_len, &family, &src);
  if (inner_len == 0) {
    wg_count_drop(d, WG_DROP_INVALID_INNER);
    return;
  }
  if (wg_allowedips_lookup(d->allowedips, family, src) != p) {
    wg_count_drop(d, WG_DROP_SOURCE_NOT_ALLOWED);
    return;
  }
  for (;;) {
    ssize_t w = write(d->tun_fd, payload, inner_len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) wg_count_drop(d, WG_DROP_TUN_WRITE_ERROR);
    break;
  }
  wg_set(&p->last_data_received_ms, now);
}

static void process_batch(wg_device *d, rx_batch *b, int count) {
  uint64_t now = wg_monotonic_ms();
  b->promote_count = 0;
  pthread_rwlock_rdlock(&d->lock);
  for (int i = 0; i < count; ++i) {
    uint8_t *msg = b->memory + (size_t)i * WG_MAX_MESSAGE_SIZE;
    size_t len = b->msgs[i].msg_len;
    const wg_sockaddr *from = &b->from[i];
    if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      wg_count_drop(d, WG_DROP_OVERSIZE);
      continue;
    }
    if (len < 4) {
      wg_count_drop(d, WG_DROP_SHORT);
      continue;
    }
    uint32_t type = get_le32(msg);
    switch (type) {
      case WG_MSG_INITIATION:
      case WG_MSG_RESPONSE:
      case WG_MSG_COOKIE_REPLY: {
        size_t want = type == WG_MSG_INITIATION ? WG_MSG_INITIATION_SIZE
                      : type == WG_MSG_RESPONSE ? WG_MSG_RESPONSE_SIZE
                                                : WG_MSG_COOKIE_REPLY_SIZE;
        if (len != want) wg_count_drop(d, WG_DROP_HANDSHAKE_SIZE);
        else handshake_message(d, msg, len, from);
        break;
      }
      case WG_MSG_TRANSPORT:
        transport_message(d, b, msg, len, from, now);
        break;
      default:
        wg_count_drop(d, WG_DROP_UNKNOWN_TYPE);
    }
  }
  pthread_rwlock_unlock(&d->lock);
  if (b->promote_count == 0) return;

  pthread_rwlock_wrlock(&d->lock);
  for (size_t i = 0; i < b->promote_count; ++i) {
    /* Look it up again: a command may have removed it between the locks. */
    wg_index_node *n = wg_index_find(&d->keypairs, b->promote[i]);
    if (!n) continue;
    wg_keypair *kp = WG_CONTAINER_OF(n, wg_keypair, index_node);
    wg_peer *p = kp->peer;
    if (kp != p->next) continue;
    wg_peer_promote_next(d, p);
    atomic_store(&p->wants_handshake, false);
    wg_set(&p->last_wants_report_ms, 0);
    wg_event e;
    memset(&e, 0, sizeof e);
    e.type = WG_EVENT_KEYPAIR_CONFIRMED;
    e.peer_id = p->id_node.key;
    e.local_index = kp->index_node.key;
    wg_events_push(d, &e);
    wg_staged_flush(d, p, now);
  }
  pthread_rwlock_unlock(&d->lock);
}

void *wg_rx_thread(void *arg) {
  wg_device *d = arg;
  rx_batch *b = calloc(1, sizeof *b);
  if (b) b->memory = malloc((size_t)WG_BATCH * WG_MAX_MESSAGE_SIZE);
  if (!b || !b->memory) {
    wg_count_drop(d, WG_DROP_READ_ERROR);
    free(b);
    return NULL;
  }
  for (int i = 0; i < WG_BATCH; ++i) {
    b->iov[i].iov_base = b->memory + (size_t)i * WG_MAX_MESSAGE_SIZE;
    b->iov[i].iov_len = WG_MAX_MESSAGE_SIZE;
  }
  struct pollfd pfd[4] = {{.fd = d->stop_fd, .events = POLLIN},
                          {.fd = -1, .events = POLLIN},
                          {.fd = -1, .events = POLLIN}, /* fd -1 is ignored by poll */
                          {.fd = d->rebind_fd, .events = POLLIN}};
  while (!atomic_load(&d->stopped)) {
    /* The generation is read before the fds: seeing generation g here means
     * the fds of g (or newer) are the ones polled below. */
    unsigned generation = atomic_load(&d->sockets_generation);
    pfd[1].fd = atomic_load(&d->udp4_fd);
    pfd[2].fd = atomic_load(&d->udp6_fd);
    atomic_store(&d->rx_generation, generation);
    if (poll(pfd, 4, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[0].revents) break;
    if (pfd[3].revents) {
      uint64_t drained;
      (void)!read(d->rebind_fd, &drained, sizeof drained);
      continue;
    }
    for (int s = 1; s <= 2; ++s) {
      if (pfd[s].revents & POLLERR) {
        /* A pending socket error (e.g. ICMP) would make poll return at once forever: consume it. */
        int err = 0;
        socklen_t err_len = sizeof err;
        getsockopt(pfd[s].fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
      }
      if (!(pfd[s].revents & POLLIN)) continue;
      for (int i = 0; i < WG_BATCH; ++i) {
        memset(&b->msgs[i].msg_hdr, 0, sizeof b->msgs[i].msg_hdr);
        b->msgs[i].msg_hdr.msg_name = &b->from[i];
        b->msgs[i].msg_hdr.msg_namelen = sizeof b->from[i];
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int count = recvmmsg(pfd[s].fd, b->msgs, WG_BATCH, MSG_DONTWAIT, NULL);
      if (count < 0) {
        if (errno != EAGAIN && errno != EINTR) wg_count_drop(d, WG_DROP_READ_ERROR);
        continue;
      }
      process_batch(d, b, count);
    }
  }
  sodium_memzero(b->memory, (size_t)WG_BATCH * WG_MAX_MESSAGE_SIZE); /* decrypted user traffic */
  free(b->memory);
  free(b);
  return NULL;
}
