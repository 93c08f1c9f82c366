/* The inbound path: recvmmsg a batch (each message may be several datagrams
 * coalesced by UDP GRO, split here by their segment size) -> per datagram:
 * handshake messages to the event queue; transport: receiver index ->
 * keypair -> decrypt in place -> replay window -> source check -> queued for
 * the TUN. Everything else is dropped and counted by reason; nothing a peer
 * sends can crash this. Per-peer counters, timestamps and roaming are written
 * once per run of datagrams from one peer. On an offloading TUN, TCP
 * segments are queued and written after the batch, runs of same-flow
 * segments as one super-packet (wg_offload.c); every other packet is written
 * as soon as it is decrypted. As the kernel's own GRO passes up at once what
 * it cannot merge, nothing waits for a coalescing that cannot happen: a ping
 * (or DNS, QUIC, voice) sharing a batch with a TCP transfer would otherwise
 * wait for the decryption of up to WG_BATCH GRO messages, ~1 ms here.
 *
 * A responder's next keypair is promoted after the batch, under the write
 * lock, because promotion frees the old previous keypair, which a packet
 * thread must never do while it (or the other thread) holds the read lock. */
#include <errno.h>
#include <netinet/udp.h>
#include <sys/uio.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wg_aead.h"
#include "wg_constants.h"
#include "wg_offload.h"
#include "wg_device.h"

static inline uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p) {
  return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

typedef struct rx_batch {
  uint8_t *memory; /* WG_BATCH buffers of WG_MAX_MESSAGE_SIZE */
  struct mmsghdr msgs[WG_BATCH];
  struct iovec iov[WG_BATCH];
  wg_sockaddr from[WG_BATCH];
  wg_source local[WG_BATCH]; /* the local address each message arrived on */
  union {
    char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
  } ctrl[WG_BATCH];
  uint32_t promote[WG_BATCH]; /* local indices of next keypairs that received data */
  size_t promote_count;
  wg_aead *aead;
  wg_gro gro; /* decrypted TCP segments waiting for the TUN (offloading TUN) */
  /* The run of datagrams from one peer being accounted. */
  wg_peer *run_peer;
  bool stats_touched; /* some run was accounted: the device's stats_changed is due */
  uint64_t run_bytes;
  bool run_data;
  const wg_sockaddr *run_from;
  const wg_source *run_local;
  /* The last source-address check of this batch: consecutive packets mostly
   * come from one address (valid only under one read lock hold). */
  uint8_t src_family;
  uint8_t src_addr[16];
  wg_peer *src_owner;
} rx_batch;

/* The peer is at `from` and reached us on `local`: replies go there, from there. */
static void roam(wg_peer *p, const wg_sockaddr *from, const wg_source *local) {
  pthread_spin_lock(&p->endpoint_lock);
  if (!wg_same_endpoint(&p->endpoint, from)) p->endpoint = *from;
  if (!wg_same_source(&p->source, local)) p->source = *local;
  pthread_spin_unlock(&p->endpoint_lock);
}

static void end_run(rx_batch *b, uint64_t now) {
  wg_peer *p = b->run_peer;
  if (!p) return;
  b->stats_touched = true;
  wg_add(&p->rx_bytes, b->run_bytes);
  wg_set(&p->last_auth_received_ms, now);
  if (b->run_data) wg_set(&p->last_data_received_ms, now);
  roam(p, b->run_from, b->run_local); /* to the source of its last authenticated datagram */
  b->run_peer = NULL;
  b->run_bytes = 0;
  b->run_data = false;
}

static void write_tun(wg_device *d, const struct iovec *iov, int n) {
  for (;;) {
    ssize_t w = writev(d->tun_fd, iov, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) wg_count_drop(d, WG_DROP_TUN_WRITE_ERROR);
    return;
  }
}

/* Writes the queued TCP segments into the TUN and empties the queue. */
static void write_out(wg_device *d, rx_batch *b) {
  struct iovec iov[WG_GRO_MAX_SEGMENTS + 1];
  struct virtio_net_hdr hdr;
  for (size_t i = 0; i < b->gro.item_count; ++i) {
    size_t n = wg_gro_finish(&b->gro, i, &hdr, iov);
    write_tun(d, iov, (int)n);
  }
  wg_gro_reset(&b->gro);
}

/* Only TCP segments can be coalesced (IPv6: TCP right after the fixed header). */
static bool is_tcp(const uint8_t *pkt) {
  return (pkt[0] >> 4) == 4 ? pkt[9] == IPPROTO_TCP : pkt[6] == IPPROTO_TCP;
}

/* pkt is an IPv4/IPv6 packet of exactly len bytes (inner_packet checked). */
static void deliver(wg_device *d, rx_batch *b, uint8_t *pkt, size_t len) {
  if (d->tun_vnet_hdr && is_tcp(pkt)) {
    if (!wg_gro_add(&b->gro, pkt, len)) {
      write_out(d, b);
      wg_gro_add(&b->gro, pkt, len);
    }
    return;
  }
  /* Authenticated by the AEAD: the kernel need not verify its checksums
   * (the kernel's WireGuard marks decrypted packets CHECKSUM_UNNECESSARY). */
  struct virtio_net_hdr valid;
  memset(&valid, 0, sizeof valid);
  valid.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  struct iovec iov[2] = {{&valid, sizeof valid}, {pkt, len}};
  write_tun(d, d->tun_vnet_hdr ? iov : iov + 1, d->tun_vnet_hdr ? 2 : 1);
}

static void handshake_message(wg_device *d, const uint8_t *msg, size_t len, const wg_sockaddr *from,
                              const wg_source *local) {
  wg_event e;
  memset(&e, 0, sizeof e);
  e.type = WG_EVENT_HANDSHAKE_MESSAGE;
  e.len = (uint16_t)len;
  e.from = *from;
  e.local = *local;
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
                              const wg_source *local, uint64_t now) {
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
  uint8_t *payload = msg + WG_TRANSPORT_HEADER_SIZE;
  size_t payload_len = len - WG_KEEPALIVE_SIZE;
  if (!wg_aead_open(b->aead, kp->receive_key, counter, payload, payload_len, payload + payload_len)) {
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
  if (b->run_peer != p) {
    end_run(b, now);
    b->run_peer = p;
  }
  b->run_bytes += len;
  b->run_from = from;
  b->run_local = local;
  if (kp == p->next) {
    bool queued = false;
    for (size_t i = 0; i < b->promote_count; ++i) queued |= b->promote[i] == kp->index_node.key;
    /* A full list only delays a promotion to a later batch. */
    if (!queued && b->promote_count < WG_BATCH) b->promote[b->promote_count++] = kp->index_node.key;
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
  size_t alen = family == 4 ? 4 : 16;
  if (b->src_family != family || memcmp(b->src_addr, src, alen) != 0) {
    b->src_family = (uint8_t)family;
    memcpy(b->src_addr, src, alen);
    b->src_owner = wg_allowedips_lookup(d->allowedips, family, src);
  }
  if (b->src_owner != p) {
    wg_count_drop(d, WG_DROP_SOURCE_NOT_ALLOWED);
    return;
  }
  deliver(d, b, payload, inner_len);
  b->run_data = true;
}

/* From a message's control data: the segment size of a UDP GRO message (its
 * length when it is one datagram), and the local address it arrived on. */
static size_t read_control(struct msghdr *m, size_t len, wg_source *local) {
  size_t segment = len ? len : 1;
  memset(local, 0, sizeof *local);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      if (size > 0 && (size_t)size < len) segment = (size_t)size;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      local->family = 4;
      local->ifindex = (uint32_t)info.ipi_ifindex;
      memcpy(local->addr, &info.ipi_spec_dst, 4); /* the local address a reply would come from */
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      local->family = 6;
      local->ifindex = info.ipi6_ifindex;
      memcpy(local->addr, &info.ipi6_addr, 16);
    }
  }
  return segment;
}

static void datagram(wg_device *d, rx_batch *b, uint8_t *msg, size_t len, const wg_sockaddr *from,
                     const wg_source *local, uint64_t now) {
  if (len < 4) {
    wg_count_drop(d, WG_DROP_SHORT);
    return;
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
      else handshake_message(d, msg, len, from, local);
      break;
    }
    case WG_MSG_TRANSPORT:
      transport_message(d, b, msg, len, from, local, now);
      break;
    default:
      wg_count_drop(d, WG_DROP_UNKNOWN_TYPE);
  }
}

static void process_batch(wg_device *d, rx_batch *b, int count) {
  uint64_t now = wg_monotonic_ms();
  b->promote_count = 0;
  b->src_family = 0;
  pthread_rwlock_rdlock(&d->lock);
  for (int i = 0; i < count; ++i) {
    uint8_t *buf = b->memory + (size_t)i * WG_MAX_MESSAGE_SIZE;
    size_t len = b->msgs[i].msg_len;
    if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      wg_count_drop(d, WG_DROP_OVERSIZE);
      continue;
    }
    size_t segment = read_control(&b->msgs[i].msg_hdr, len, &b->local[i]);
    for (size_t off = 0; off < len; off += segment)
      datagram(d, b, buf + off, len - off < segment ? len - off : segment, &b->from[i], &b->local[i], now);
  }
  end_run(b, now);
  if (b->stats_touched) {
    b->stats_touched = false;
    wg_stats_changed(d);
  }
  pthread_rwlock_unlock(&d->lock);
  if (d->tun_vnet_hdr) write_out(d, b); /* outside the lock: the packets are this thread's own buffers */
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
    wg_stats_changed(d);
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

/* The buffers held decrypted user traffic: wg_pages_free returns them to the kernel, nothing to wipe. */
static void free_batch(rx_batch *b) {
  if (!b) return;
  wg_pages_free(b->memory, (size_t)WG_BATCH * WG_MAX_MESSAGE_SIZE);
  wg_aead_free(b->aead);
  wg_pages_free(b->gro.items, WG_RX_PACKETS * sizeof *b->gro.items);
  wg_pages_free(b->gro.pieces, WG_RX_PACKETS * sizeof *b->gro.pieces);
  wg_pages_free(b, sizeof *b);
}

void *wg_rx_thread(void *arg) {
  wg_device *d = arg;
  /* 4 MiB of receive buffers and the batch's arrays, resident only as far as traffic fills them. */
  rx_batch *b = wg_pages_alloc(sizeof *b);
  if (b) {
    b->memory = wg_pages_alloc((size_t)WG_BATCH * WG_MAX_MESSAGE_SIZE);
    b->aead = wg_aead_new();
    b->gro.items = wg_pages_alloc(WG_RX_PACKETS * sizeof *b->gro.items);
    b->gro.pieces = wg_pages_alloc(WG_RX_PACKETS * sizeof *b->gro.pieces);
    b->gro.item_capacity = b->gro.piece_capacity = WG_RX_PACKETS;
  }
  if (!b || !b->memory || !b->aead || !b->gro.items || !b->gro.pieces) {
    wg_count_drop(d, WG_DROP_READ_ERROR);
    free_batch(b);
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
        b->msgs[i].msg_hdr.msg_control = b->ctrl[i].buf;
        b->msgs[i].msg_hdr.msg_controllen = sizeof b->ctrl[i].buf;
      }
      int count = recvmmsg(pfd[s].fd, b->msgs, WG_BATCH, MSG_DONTWAIT, NULL);
      if (count < 0) {
        if (errno != EAGAIN && errno != EINTR) wg_count_drop(d, WG_DROP_READ_ERROR);
        continue;
      }
      process_batch(d, b, count);
    }
  }
  free_batch(b);
  return NULL;
}
