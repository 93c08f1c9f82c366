/* The outbound path: TUN -> allowed-IPs -> peer -> keypair -> pad, encrypt
 * in place -> sendmmsg, a batch at a time; plus the single sends used by
 * commands (handshake messages, keepalives, flushed staged packets).
 *
 * One batch = up to WG_BATCH packets read from the TUN, classified and
 * encrypted under one read lock, then sent with one sendmmsg per socket.
 * This is the unit that offloads (TUN super-packets, UDP GSO) and parallel
 * crypto workers will later widen without changing the shape. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wg_constants.h"
#include "wg_device.h"

static inline void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v) {
  put_le32(p, (uint32_t)v);
  put_le32(p + 4, (uint32_t)(v >> 32));
}

static size_t padded_length(size_t len, int mtu) {
  if (len >= (size_t)mtu) return len; /* padding never goes beyond the MTU */
  size_t padded = (len + WG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_PADDING_MULTIPLE - 1);
  return padded > (size_t)mtu ? (size_t)mtu : padded;
}

size_t wg_seal_transport(wg_device *d, wg_keypair *kp, uint64_t counter, uint8_t *data, size_t len) {
  size_t padded = padded_length(len, d->mtu);
  uint8_t *payload = data + WG_TRANSPORT_HEADER_SIZE;
  memset(payload + len, 0, padded - len);
  put_le32(data, WG_MSG_TRANSPORT);
  put_le32(data + 4, kp->remote_index);
  put_le64(data + 8, counter);
  uint8_t nonce[12] = {0};
  put_le64(nonce + 4, counter);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(payload, payload + padded, NULL, payload, padded, NULL, 0,
                                                     NULL, nonce, kp->send_key);
  return WG_TRANSPORT_HEADER_SIZE + padded + WG_AEAD_TAG_SIZE;
}

int wg_socket_for(wg_device *d, const wg_sockaddr *to) {
  if (to->sa.sa_family == AF_INET) return d->udp4_fd;
  if (to->sa.sa_family == AF_INET6) return d->udp6_fd;
  return -1;
}

static socklen_t sockaddr_length(const wg_sockaddr *a) {
  return a->sa.sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

void wg_peer_endpoint(wg_peer *p, wg_sockaddr *out) {
  pthread_spin_lock(&p->endpoint_lock);
  *out = p->endpoint;
  pthread_spin_unlock(&p->endpoint_lock);
}

int wg_send_one(wg_device *d, wg_peer *p, const wg_sockaddr *to, const uint8_t *bytes, size_t len) {
  int fd = wg_socket_for(d, to);
  if (fd < 0) {
    wg_count_drop(d, WG_DROP_NO_SOCKET);
    return -EAFNOSUPPORT;
  }
  /* Never block the caller (often the JS thread): a full socket buffer drops, as UDP would. */
  ssize_t sent = sendto(fd, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL, &to->sa, sockaddr_length(to));
  if (sent < 0) {
    int err = errno;
    wg_count_drop(d, WG_DROP_SEND_ERROR);
    return -err;
  }
  if (p) wg_add(&p->tx_bytes, len);
  return 0;
}

/* Sends n prepared messages on fd, waiting for buffer space rather than
 * dropping a batch the kernel briefly cannot take. */
static void send_batch(wg_device *d, int fd, struct mmsghdr *msgs, unsigned n) {
  unsigned done = 0;
  while (done < n) {
    int r = sendmmsg(fd, msgs + done, n - done, MSG_NOSIGNAL);
    if (r > 0) {
      done += (unsigned)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
      struct pollfd pfd[2] = {{.fd = fd, .events = POLLOUT}, {.fd = d->stop_fd, .events = POLLIN}};
      if (poll(pfd, 2, 100) > 0 && !pfd[1].revents) continue;
    }
    /* This message cannot go (unreachable, too big, stopping): skip it. */
    wg_count_drop(d, WG_DROP_SEND_ERROR);
    done++;
  }
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

typedef struct tx_batch {
  uint8_t *memory;
  size_t lens[WG_BATCH];
  struct mmsghdr msgs4[WG_BATCH], msgs6[WG_BATCH];
  struct iovec iov[WG_BATCH];
  wg_sockaddr to[WG_BATCH];
} tx_batch;

/* Read lock held: classify, encrypt and queue for sending each packet. */
static void prepare_batch(wg_device *d, tx_batch *b, size_t n, unsigned *n4, unsigned *n6) {
  uint64_t now = wg_monotonic_ms();
  for (size_t i = 0; i < n; ++i) {
    uint8_t *data = b->memory + i * d->slot_size;
    uint8_t *pkt = data + WG_TRANSPORT_HEADER_SIZE;
    const uint8_t *dst;
    int family = inner_destination(pkt, b->lens[i], &dst);
    if (!family) {
      wg_count_drop(d, WG_DROP_INVALID_INNER);
      continue;
    }
    wg_peer *p = wg_allowedips_lookup(d->allowedips, family, dst);
    if (!p) {
      wg_count_drop(d, WG_DROP_NO_ROUTE);
      continue;
    }
    uint64_t counter;
    wg_keypair *kp = wg_peer_sending_keypair(p, now, &counter);
    if (!kp) {
      wg_staged_push(d, p, pkt, b->lens[i]);
      wg_peer_want_handshake(d, p, now);
      continue;
    }
    if (kp->initiator && (now - kp->created_ms >= WG_REKEY_AFTER_TIME_MS || counter >= WG_REKEY_AFTER_MESSAGES))
      wg_peer_want_handshake(d, p, now);
    wg_peer_endpoint(p, &b->to[i]);
    int fd = wg_socket_for(d, &b->to[i]);
    if (fd < 0) {
      wg_count_drop(d, b->to[i].sa.sa_family == AF_UNSPEC ? WG_DROP_NO_ENDPOINT : WG_DROP_NO_SOCKET);
      continue;
    }
    size_t len = wg_seal_transport(d, kp, counter, data, b->lens[i]);
    b->iov[i].iov_base = data;
    b->iov[i].iov_len = len;
    struct mmsghdr *m = fd == d->udp4_fd ? &b->msgs4[(*n4)++] : &b->msgs6[(*n6)++];
    memset(m, 0, sizeof *m);
    m->msg_hdr.msg_name = &b->to[i];
    m->msg_hdr.msg_namelen = sockaddr_length(&b->to[i]);
    m->msg_hdr.msg_iov = &b->iov[i];
    m->msg_hdr.msg_iovlen = 1;
    wg_add(&p->tx_bytes, len);
    wg_set(&p->last_data_sent_ms, now);
    wg_set(&p->last_auth_sent_ms, now);
  }
}

void *wg_tx_thread(void *arg) {
  wg_device *d = arg;
  tx_batch *b = calloc(1, sizeof *b);
  if (b) b->memory = malloc(WG_BATCH * d->slot_size);
  if (!b || !b->memory) {
    wg_count_drop(d, WG_DROP_READ_ERROR);
    if (b) free(b);
    return NULL;
  }
  struct pollfd pfd[2] = {{.fd = d->stop_fd, .events = POLLIN}, {.fd = d->tun_fd, .events = POLLIN}};
  while (!atomic_load(&d->stopped)) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[0].revents) break;
    if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      wg_count_drop(d, WG_DROP_READ_ERROR); /* the TUN went away: nothing more to read */
      break;
    }
    size_t n = 0;
    while (n < WG_BATCH) {
      ssize_t got = read(d->tun_fd, b->memory + n * d->slot_size + WG_TRANSPORT_HEADER_SIZE, d->read_capacity);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) wg_count_drop(d, WG_DROP_READ_ERROR);
        break;
      }
      if (got == 0) break;
      if ((size_t)got > (size_t)d->mtu) {
        wg_count_drop(d, WG_DROP_OVERSIZE);
        continue;
      }
      b->lens[n++] = (size_t)got;
    }
    if (n == 0) continue;
    unsigned n4 = 0, n6 = 0;
    pthread_rwlock_rdlock(&d->lock);
    prepare_batch(d, b, n, &n4, &n6);
    pthread_rwlock_unlock(&d->lock);
    if (n4) send_batch(d, d->udp4_fd, b->msgs4, n4);
    if (n6) send_batch(d, d->udp6_fd, b->msgs6, n6);
  }
  sodium_memzero(b->memory, WG_BATCH * d->slot_size);
  free(b->memory);
  free(b);
  return NULL;
}
