/* The outbound path: TUN -> allowed-IPs -> peer -> keypair -> pad, encrypt
 * in place -> UDP, a batch at a time; plus the single sends used by commands
 * (handshake messages, keepalives, flushed staged packets).
 *
 * One batch = up to WG_TX_SLOTS inner packets, in buffers carved from one
 * arena to each packet's size (the TUN's MTU may be anything up to what one
 * datagram carries, and may change at any time): read from the TUN until it is
 * empty, the batch is full, or a read was a super-packet, where one read of
 * an offloading TUN (virtio header) is a TSO/USO super-packet of up to 64 KiB
 * split here into MTU-sized packets (wg_offload.c). A super-packet ends the
 * batch because it already amortises the per-batch costs (one GSO send for
 * ~45 datagrams): holding it while more super-packets are read and sealed
 * only delays whatever shares the batch (a ping under a TCP load waited
 * ~0.3 ms for the seal of ~240 packets). The batch is routed and encrypted
 * under one read lock, with per-peer counters written once per run of
 * packets, and sent as UDP GSO messages (runs of equal-sized datagrams to one
 * endpoint, from one sticky source) with one sendmmsg per socket. Encryption
 * stays on this thread (and decryption on the RX thread): on two cores,
 * shared with the TCP endpoints, one thread per direction already keeps both
 * cores busy; a worker pool is not built. */
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wg_aead.h"
#include "wg_constants.h"
#include "wg_offload.h"
#include "wg_device.h"

static inline void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v) {
  put_le32(p, (uint32_t)v);
  put_le32(p + 4, (uint32_t)(v >> 32));
}

static size_t padded_length(size_t len, int mtu) {
  if (mtu > WG_MAX_INNER_PACKET) mtu = WG_MAX_INNER_PACKET; /* the datagram must still fit in UDP over IPv4 */
  if (len >= (size_t)mtu) return len;                       /* padding never goes beyond the MTU */
  size_t padded = (len + WG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_PADDING_MULTIPLE - 1);
  return padded > (size_t)mtu ? (size_t)mtu : padded;
}

size_t wg_seal_transport(wg_device *d, wg_aead *aead, wg_keypair *kp, uint64_t counter, uint8_t *data, size_t len) {
  size_t padded = padded_length(len, atomic_load_explicit(&d->mtu, memory_order_relaxed));
  uint8_t *payload = data + WG_TRANSPORT_HEADER_SIZE;
  memset(payload + len, 0, padded - len);
  /* Sealed first: the header's room is part of the AEAD's scratch. */
  wg_aead_seal_headroom(aead, kp->send_key, counter, payload, padded, payload + padded);
  put_le32(data, WG_MSG_TRANSPORT);
  put_le32(data + 4, kp->remote_index);
  put_le64(data + 8, counter);
  return WG_TRANSPORT_HEADER_SIZE + padded + WG_AEAD_TAG_SIZE;
}

int wg_socket_for(wg_device *d, const wg_sockaddr *to) {
  if (to->sa.sa_family != AF_INET && to->sa.sa_family != AF_INET6) return -1;
  /* Port 0 is accepted in a configuration (as wireguard-go does) but is no destination: the
   * kernel refuses it, and an EINVAL from a GSO send would turn segmentation off for every peer. */
  if (to->in4.sin_port == 0) return -1; /* sin_port and sin6_port share their offset */
  return to->sa.sa_family == AF_INET ? d->udp4_fd : d->udp6_fd;
}

static socklen_t sockaddr_length(const wg_sockaddr *a) {
  return a->sa.sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

void wg_peer_endpoint(wg_peer *p, wg_sockaddr *out, wg_source *source) {
  pthread_spin_lock(&p->endpoint_lock);
  *out = p->endpoint;
  if (source) *source = p->source;
  pthread_spin_unlock(&p->endpoint_lock);
}

void wg_peer_forget_source(wg_peer *p, const wg_source *stale) {
  pthread_spin_lock(&p->endpoint_lock);
  if (wg_same_source(&p->source, stale)) memset(&p->source, 0, sizeof p->source);
  pthread_spin_unlock(&p->endpoint_lock);
}

void wg_send_control(struct msghdr *m, void *buf, uint16_t segment, const wg_source *from) {
  m->msg_control = buf;
  m->msg_controllen = WG_SEND_CONTROL_SPACE;
  struct cmsghdr *c = CMSG_FIRSTHDR(m);
  size_t used = 0;
  if (segment) {
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof segment);
    memcpy(CMSG_DATA(c), &segment, sizeof segment);
    used += CMSG_SPACE(sizeof segment);
    c = CMSG_NXTHDR(m, c);
  }
  if (from && from->family == 4) {
    struct in_pktinfo info;
    memset(&info, 0, sizeof info);
    /* No ifindex: routing picks the interface, the source is what sticks (as the kernel's). */
    memcpy(&info.ipi_spec_dst, from->addr, 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    memcpy(CMSG_DATA(c), &info, sizeof info);
    used += CMSG_SPACE(sizeof info);
  } else if (from && from->family == 6) {
    struct in6_pktinfo info;
    memset(&info, 0, sizeof info);
    memcpy(&info.ipi6_addr, from->addr, 16);
    if (from->addr[0] == 0xfe && (from->addr[1] & 0xc0) == 0x80) info.ipi6_ifindex = from->ifindex; /* link-local */
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    memcpy(CMSG_DATA(c), &info, sizeof info);
    used += CMSG_SPACE(sizeof info);
  }
  m->msg_controllen = used;
  if (used == 0) m->msg_control = NULL;
}

int wg_send_one(wg_device *d, wg_peer *p, const wg_sockaddr *to, const wg_source *from, const uint8_t *bytes,
                size_t len) {
  int fd = wg_socket_for(d, to);
  if (fd < 0) {
    wg_count_drop(d, WG_DROP_NO_SOCKET);
    return -EAFNOSUPPORT;
  }
  union {
    char buf[WG_SEND_CONTROL_SPACE];
    struct cmsghdr align;
  } control;
  struct iovec iov = {(void *)bytes, len};
  struct msghdr m = {.msg_name = (void *)&to->sa, .msg_namelen = sockaddr_length(to), .msg_iov = &iov, .msg_iovlen = 1};
  if (from && from->family == (to->sa.sa_family == AF_INET ? 4 : 6)) wg_send_control(&m, control.buf, 0, from);
  /* Never block the caller (often the JS thread): a full socket buffer drops, as UDP would. */
  ssize_t sent = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0 && m.msg_controllen && wg_source_refused(errno, from)) {
    /* The source address is gone: forget it and let routing choose, at once. */
    if (p) wg_peer_forget_source(p, from);
    m.msg_control = NULL;
    m.msg_controllen = 0;
    sent = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (sent < 0) {
    int err = errno;
    wg_count_drop(d, WG_DROP_SEND_ERROR);
    return -err;
  }
  if (p) {
    wg_add(&p->tx_bytes, len);
    wg_stats_changed(d);
  }
  return 0;
}

/* Address family and destination of an inner packet, or 0. */
static int inner_destination(const uint8_t *pkt, size_t len, const uint8_t **dst) {
  if (len >= 20 && (pkt[0] >> 4) == 4) {
    *dst = pkt + 16;
    return 4;
  }
  if (len >= 40 && (pkt[0] >> 4) == 6) {
    *dst = pkt + 24;
    return 6;
  }
  return 0;
}

/* One TX batch: up to WG_TX_SLOTS inner packets (a TUN super-packet fills
 * several), each in a buffer carved from the batch's arena to its size, with
 * room for the transport header in front and padding + tag behind, encrypted
 * in place and sent as UDP GSO groups. Sizes are whatever the TUN hands over
 * (its MTU may change at any time), never a fixed 1,420. */
typedef struct tx_batch {
  uint8_t *memory;   /* WG_TX_ARENA bytes */
  size_t used;       /* bytes of memory this batch's packets take (a multiple of WG_PACKET_ALIGN) */
  uint8_t *read_buf; /* virtio header + one super-packet */
  wg_aead *aead;
  size_t count;
  uint8_t *plain[WG_TX_SLOTS]; /* where each slot's inner packet starts */
  size_t lens[WG_TX_SLOTS];
  int fd[WG_TX_SLOTS]; /* after prepare: the socket, or -1 (dropped or staged) */
  size_t wire_len[WG_TX_SLOTS];
  wg_sockaddr to[WG_TX_SLOTS];
  wg_source from[WG_TX_SLOTS]; /* the peer's sticky source */
  uint32_t peer_id[WG_TX_SLOTS];
  struct iovec iov[WG_TX_SLOTS];
  struct mmsghdr msgs[WG_TX_SLOTS];
  size_t msg_first[WG_TX_SLOTS];     /* a message's first slot */
  uint16_t msg_segment[WG_TX_SLOTS]; /* its UDP GSO segment size, 0: one datagram */
  union {
    char buf[WG_SEND_CONTROL_SPACE];
    struct cmsghdr align;
  } ctrl[WG_TX_SLOTS];
} tx_batch;

/* Arena bytes of a packet of up to `capacity` plaintext bytes. */
static size_t packet_space(size_t capacity) {
  return (WG_PACKET_OVERHEAD + capacity + WG_PACKET_ALIGN - 1) & ~(size_t)(WG_PACKET_ALIGN - 1);
}

/* Where the plaintext of the i-th next packet of up to `capacity` bytes goes. */
static uint8_t *next_plain(const tx_batch *b, size_t i, size_t capacity) {
  return b->memory + b->used + i * packet_space(capacity) + WG_SEAL_HEADROOM + WG_TRANSPORT_HEADER_SIZE;
}

/* Whether n more packets of up to `capacity` bytes fit in the batch. */
static bool batch_fits(const tx_batch *b, size_t n, size_t capacity) {
  return b->count + n <= WG_TX_SLOTS && b->used + n * packet_space(capacity) <= WG_TX_ARENA;
}

/* Per-peer bookkeeping is added up over a run of packets to the same peer
 * and written once per run, not once per packet. */
typedef struct peer_run {
  wg_peer *peer;
  uint64_t bytes;
} peer_run;

static void end_run(peer_run *r, uint64_t now) {
  if (!r->peer) return;
  wg_add(&r->peer->tx_bytes, r->bytes);
  wg_set(&r->peer->last_data_sent_ms, now);
  wg_set(&r->peer->last_auth_sent_ms, now);
  r->peer = NULL;
  r->bytes = 0;
}

/* Read lock held: route, pick the keypair and encrypt each packet. */
static void prepare_batch(wg_device *d, tx_batch *b) {
  uint64_t now = wg_monotonic_ms();
  peer_run run = {NULL, 0};
  bool touched = false; /* a peer's send counter, bytes, times or want moved */
  /* Consecutive packets mostly go to one destination: one trie lookup per change. */
  uint8_t last_dst[16];
  int last_family = 0;
  wg_peer *last_peer = NULL;
  for (size_t i = 0; i < b->count; ++i) {
    b->fd[i] = -1;
    uint8_t *pkt = b->plain[i];
    const uint8_t *dst;
    int family = inner_destination(pkt, b->lens[i], &dst);
    if (!family) {
      wg_count_drop(d, WG_DROP_INVALID_INNER);
      continue;
    }
    size_t alen = family == 4 ? 4 : 16;
    wg_peer *p;
    if (family == last_family && memcmp(dst, last_dst, alen) == 0) {
      p = last_peer;
    } else {
      p = wg_allowedips_lookup(d->allowedips, family, dst);
      last_family = family;
      memcpy(last_dst, dst, alen);
      last_peer = p;
    }
    if (!p) {
      wg_count_drop(d, WG_DROP_NO_ROUTE);
      continue;
    }
    touched = true;
    uint64_t counter;
    wg_keypair *kp = wg_peer_sending_keypair(p, now, &counter);
    if (!kp) {
      wg_staged_push(d, p, pkt, b->lens[i]);
      wg_peer_want_handshake(d, p, now);
      continue;
    }
    if (kp->initiator && (now - kp->created_ms >= WG_REKEY_AFTER_TIME_MS || counter >= WG_REKEY_AFTER_MESSAGES))
      wg_peer_want_handshake(d, p, now);
    if (run.peer != p) {
      end_run(&run, now);
      run.peer = p;
    }
    if (i > 0 && b->fd[i - 1] >= 0 && run.bytes > 0) { /* same peer as the last sent */
      b->to[i] = b->to[i - 1];
      b->from[i] = b->from[i - 1];
    } else {
      wg_peer_endpoint(p, &b->to[i], &b->from[i]);
    }
    b->peer_id[i] = p->id_node.key;
    int fd = wg_socket_for(d, &b->to[i]);
    if (fd < 0) {
      wg_count_drop(d, b->to[i].sa.sa_family == AF_UNSPEC ? WG_DROP_NO_ENDPOINT : WG_DROP_NO_SOCKET);
      continue;
    }
    b->wire_len[i] = wg_seal_transport(d, b->aead, kp, counter, pkt - WG_TRANSPORT_HEADER_SIZE, b->lens[i]);
    b->fd[i] = fd;
    run.bytes += b->wire_len[i];
  }
  end_run(&run, now);
  if (touched) wg_stats_changed(d);
}

/* Sends one message as separate datagrams: the fallback when UDP GSO is refused. */
static void send_unsegmented(wg_device *d, int fd, struct msghdr *m, const wg_source *from) {
  union {
    char buf[WG_SEND_CONTROL_SPACE];
    struct cmsghdr align;
  } control;
  for (size_t k = 0; k < m->msg_iovlen; ++k) {
    struct msghdr one = {
        .msg_name = m->msg_name, .msg_namelen = m->msg_namelen, .msg_iov = &m->msg_iov[k], .msg_iovlen = 1};
    wg_send_control(&one, control.buf, 0, from);
    if (sendmsg(fd, &one, MSG_NOSIGNAL) < 0) wg_count_drop(d, WG_DROP_SEND_ERROR);
  }
}

/* The peer's sticky source failed (the address is gone): forget it, so that
 * routing chooses from now on. */
static void forget_source(wg_device *d, uint32_t peer_id, const wg_source *stale) {
  pthread_rwlock_rdlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  if (p) wg_peer_forget_source(p, stale);
  pthread_rwlock_unlock(&d->lock);
}

/* Sends the prepared messages [first, first + n) on fd, waiting for buffer
 * space rather than dropping a batch the kernel briefly cannot take. */
static void send_messages(wg_device *d, tx_batch *b, int fd, size_t first, unsigned n) {
  struct mmsghdr *msgs = b->msgs + first;
  unsigned done = 0;
  while (done < n) {
    int r = sendmmsg(fd, msgs + done, n - done, MSG_NOSIGNAL);
    if (r > 0) {
      done += (unsigned)r;
      continue;
    }
    int err = r < 0 ? errno : EIO;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == ENOBUFS) {
      struct pollfd pfd[2] = {{.fd = fd, .events = POLLOUT}, {.fd = d->stop_fd, .events = POLLIN}};
      if (poll(pfd, 2, 100) > 0 && !pfd[1].revents) continue;
    }
    struct msghdr *m = &msgs[done].msg_hdr;
    size_t k = first + done;
    bool sourced = m->msg_controllen > (b->msg_segment[k] ? CMSG_SPACE(sizeof(uint16_t)) : 0);
    const wg_source *from = sourced ? &b->from[b->msg_first[k]] : NULL;
    if (wg_source_refused(err, from)) {
      /* Sent from an address that is no longer ours: forget it and send again from routing's choice. */
      forget_source(d, b->peer_id[b->msg_first[k]], from);
      wg_send_control(m, b->ctrl[k].buf, b->msg_segment[k], NULL);
      continue;
    }
    if (b->msg_segment[k] && (err == EMSGSIZE || err == EINVAL)) {
      /* Segments larger than the underlay's MTU (a tunnel MTU beyond it): datagram by datagram,
       * the kernel fragments them. Only this message: the MTU may be lowered again. */
      send_unsegmented(d, fd, m, from);
    } else if (b->msg_segment[k] && (err == EIO || err == EOPNOTSUPP || err == ENOPROTOOPT)) {
      /* This path cannot segment (e.g. a device without checksum offload):
       * send datagram by datagram from now on. */
      atomic_store(&d->udp_gso, false);
      send_unsegmented(d, fd, m, from);
    } else {
      /* This message cannot go (unreachable, too big, stopping): skip it. */
      wg_count_drop(d, WG_DROP_SEND_ERROR);
    }
    done++;
  }
}

/* Groups the encrypted slots into messages: a run of datagrams to one
 * endpoint, all of one size but the last (which may be shorter), becomes one
 * UDP GSO send; then one sendmmsg per run of messages on the same socket. */
static void send_batch(wg_device *d, tx_batch *b) {
  bool gso = atomic_load_explicit(&d->udp_gso, memory_order_relaxed);
  size_t nmsg = 0, niov = 0;
  for (size_t i = 0; i < b->count;) {
    if (b->fd[i] < 0) {
      i++;
      continue;
    }
    size_t first_iov = niov, size = b->wire_len[i], bytes = 0;
    size_t j = i;
    while (j < b->count) {
      if (b->fd[j] < 0) {
        j++;
        continue;
      }
      if (niov > first_iov && (!gso || niov - first_iov >= WG_UDP_GSO_SEGMENTS || b->fd[j] != b->fd[i] ||
                               b->wire_len[j] > size || bytes + b->wire_len[j] > WG_UDP_GSO_BYTES ||
                               !wg_same_endpoint(&b->to[j], &b->to[i]) || !wg_same_source(&b->from[j], &b->from[i])))
        break;
      b->iov[niov].iov_base = b->plain[j] - WG_TRANSPORT_HEADER_SIZE;
      b->iov[niov].iov_len = b->wire_len[j];
      niov++;
      bytes += b->wire_len[j];
      j++;
      if (b->wire_len[j - 1] < size) break; /* a shorter datagram ends a GSO run */
    }
    struct msghdr *m = &b->msgs[nmsg].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &b->to[i];
    m->msg_namelen = b->to[i].sa.sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    m->msg_iov = &b->iov[first_iov];
    m->msg_iovlen = niov - first_iov;
    b->msg_segment[nmsg] = m->msg_iovlen > 1 ? (uint16_t)size : 0;
    b->msg_first[nmsg] = i;
    wg_send_control(m, b->ctrl[nmsg].buf, b->msg_segment[nmsg], &b->from[i]);
    b->fd[nmsg] = b->fd[i]; /* reused: the message's socket (nmsg <= i) */
    nmsg++;
    i = j;
  }
  for (size_t k = 0; k < nmsg;) {
    size_t e = k + 1;
    while (e < nmsg && b->fd[e] == b->fd[k]) e++;
    send_messages(d, b, b->fd[k], k, (unsigned)(e - k));
    k = e;
  }
}

static void flush_batch(wg_device *d, tx_batch *b) {
  if (b->count == 0) return;
  pthread_rwlock_rdlock(&d->lock);
  prepare_batch(d, b);
  pthread_rwlock_unlock(&d->lock);
  send_batch(d, b);
  b->count = 0;
  b->used = 0;
}

/* What one read from the TUN gave. */
enum tun_read { READ_NOTHING, READ_PACKET, READ_SUPER_PACKET, READ_FULL, READ_GONE };

/* A read error: EBADFD (or EIO) means the TUN's link was deleted. */
static enum tun_read read_failed(wg_device *d, int err) {
  if (err == EAGAIN) return READ_NOTHING;
  wg_count_drop(d, WG_DROP_READ_ERROR);
  return err == EBADFD || err == EIO || err == EBADF ? READ_GONE : READ_NOTHING;
}

/* Reads one packet (plain TUN) into the next buffer. READ_PACKET also when
 * the packet was dropped: the TUN may have more. READ_FULL: no room for the
 * largest packet the TUN may hand over, send the batch first. */
static enum tun_read read_plain(wg_device *d, tx_batch *b) {
  if (!batch_fits(b, 1, WG_SUPER_PACKET_MAX)) return READ_FULL;
  uint8_t *plain = next_plain(b, 0, WG_SUPER_PACKET_MAX);
  for (;;) {
    ssize_t got = read(d->tun_fd, plain, WG_SUPER_PACKET_MAX);
    if (got < 0) {
      if (errno == EINTR) continue;
      return read_failed(d, errno);
    }
    if (got == 0) return READ_NOTHING;
    if ((size_t)got > WG_MAX_INNER_PACKET) {
      wg_count_drop(d, WG_DROP_OVERSIZE); /* an MTU beyond what one UDP datagram can carry */
      return READ_PACKET;
    }
    b->plain[b->count] = plain;
    b->lens[b->count++] = (size_t)got;
    b->used += packet_space((size_t)got);
    return READ_PACKET;
  }
}

/* Reads one virtio-header packet, possibly a TSO/USO super-packet, and splits
 * it into buffers of the size of its segments, whatever the MTU (flushing the
 * batch first if they would not fit). */
static enum tun_read read_offloaded(wg_device *d, tx_batch *b) {
  ssize_t got;
  for (;;) {
    got = read(d->tun_fd, b->read_buf, WG_VNET_HDR_LEN + WG_SUPER_PACKET_MAX);
    if (got >= 0 || errno != EINTR) break;
  }
  if (got < 0) return read_failed(d, errno);
  if (got == 0) return READ_NOTHING;
  if ((size_t)got <= WG_VNET_HDR_LEN) {
    wg_count_drop(d, WG_DROP_INVALID_INNER);
    return READ_PACKET;
  }
  struct virtio_net_hdr h;
  memcpy(&h, b->read_buf, sizeof h);
  uint8_t *pkt = b->read_buf + WG_VNET_HDR_LEN;
  size_t len = (size_t)got - WG_VNET_HDR_LEN, largest;
  size_t n = wg_gso_segment_count(&h, pkt, len, &largest);
  if (n == 0) {
    wg_count_drop(d, WG_DROP_INVALID_INNER);
    return READ_PACKET;
  }
  if (largest > WG_MAX_INNER_PACKET || n > WG_TX_SLOTS || n * packet_space(largest) > WG_TX_ARENA) {
    wg_count_drop(d, WG_DROP_OVERSIZE);
    return READ_PACKET;
  }
  if (!batch_fits(b, n, largest)) flush_batch(d, b);
  uint8_t *outs[WG_TX_SLOTS];
  for (size_t i = 0; i < n; ++i) outs[i] = next_plain(b, i, largest);
  size_t k = wg_gso_split(&h, pkt, len, outs, &b->lens[b->count], n, largest);
  if (k == 0) wg_count_drop(d, WG_DROP_INVALID_INNER);
  for (size_t i = 0; i < k; ++i) b->plain[b->count + i] = outs[i];
  b->count += k;
  b->used += k * packet_space(largest);
  return n > 1 ? READ_SUPER_PACKET : READ_PACKET;
}

/* The buffers held user traffic: wg_pages_free returns them to the kernel, nothing to wipe. */
static void free_batch(wg_device *d, tx_batch *b) {
  if (!b) return;
  wg_pages_free(b->memory, WG_TX_ARENA);
  wg_pages_free(b->read_buf, WG_VNET_HDR_LEN + WG_SUPER_PACKET_MAX);
  wg_aead_free(b->aead);
  wg_pages_free(b, sizeof *b);
}

void *wg_tx_thread(void *arg) {
  wg_device *d = arg;
  /* ~66 KB of per-slot arrays and ~580 KB of buffers, resident only as far as traffic fills them. */
  tx_batch *b = wg_pages_alloc(sizeof *b);
  if (b) {
    b->memory = wg_pages_alloc(WG_TX_ARENA);
    b->read_buf = d->tun_vnet_hdr ? wg_pages_alloc(WG_VNET_HDR_LEN + WG_SUPER_PACKET_MAX) : NULL;
    b->aead = wg_aead_new();
  }
  if (!b || !b->memory || !b->aead || (d->tun_vnet_hdr && !b->read_buf)) {
    wg_count_drop(d, WG_DROP_READ_ERROR);
    free_batch(d, b);
    return NULL;
  }
  /* A plain read fills one slot; a super-packet at most this many (64 KiB at
   * an MSS of ~1 KiB): stop reading when fewer are left, and send. */
  size_t reserve = d->tun_vnet_hdr ? 64 : 1;
  struct pollfd pfd[2] = {{.fd = d->stop_fd, .events = POLLIN}, {.fd = d->tun_fd, .events = POLLIN}};
  while (!atomic_load(&d->stopped)) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[0].revents) break;
    /* A TUN whose link was deleted polls as an error (and reads EBADFD), in whatever namespace the
     * link was by then; a link moved to another namespace keeps its fd working. */
    bool gone = (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    while (!gone && b->count + reserve <= WG_TX_SLOTS) {
      enum tun_read r = d->tun_vnet_hdr ? read_offloaded(d, b) : read_plain(d, b);
      gone = r == READ_GONE;
      if (r != READ_PACKET) break; /* empty, full, or a super-packet: send what we have */
    }
    flush_batch(d, b);
    if (gone) {
      wg_event e;
      memset(&e, 0, sizeof e);
      e.type = WG_EVENT_TUN_GONE;
      wg_events_push(d, &e); /* lost only to a full queue: the device's periodic MTU read finds it too */
      break;
    }
  }
  free_batch(d, b);
  return NULL;
}
