/* A data-plane device: creation (buffers, tables, threads), stop and free,
 * and the commands that change it, each under the device write lock. See
 * wg_dataplane.h for the contract and wg_device.h for the locking rules. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <netinet/udp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "wg_constants.h"
#include "wg_device.h"
#include "wg_offload.h"

const char *const wg_drop_reason_names[WG_DROP_REASON_COUNT] = {
    [WG_DROP_SHORT] = "short",
    [WG_DROP_UNKNOWN_TYPE] = "unknownType",
    [WG_DROP_HANDSHAKE_SIZE] = "handshakeSize",
    [WG_DROP_UNKNOWN_INDEX] = "unknownIndex",
    [WG_DROP_EXPIRED_KEYPAIR] = "expiredKeypair",
    [WG_DROP_AUTH_FAILED] = "authFailed",
    [WG_DROP_REPLAY] = "replay",
    [WG_DROP_INVALID_INNER] = "invalidInner",
    [WG_DROP_SOURCE_NOT_ALLOWED] = "sourceNotAllowed",
    [WG_DROP_NO_ROUTE] = "noRoute",
    [WG_DROP_NO_ENDPOINT] = "noEndpoint",
    [WG_DROP_NO_SOCKET] = "noSocket",
    [WG_DROP_STAGED_OVERFLOW] = "stagedOverflow",
    [WG_DROP_HANDSHAKE_QUEUE_FULL] = "handshakeQueueFull",
    [WG_DROP_OVERSIZE] = "oversize",
    [WG_DROP_TUN_WRITE_ERROR] = "tunWriteError",
    [WG_DROP_SEND_ERROR] = "sendError",
    [WG_DROP_READ_ERROR] = "readError",
};

uint64_t wg_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_nonblocking(int fd, bool on) {
  if (fd < 0) return;
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

/* Several MB of socket buffer, and coalesced receives (UDP_GRO: the RX thread
 * splits them by their segment size) where the kernel has them. */
static void configure_socket(int fd) {
  if (fd < 0) return;
  int on = 1;
  setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);
  /* The local address each datagram arrived on: replies leave from it (sticky source). */
  int domain = 0;
  socklen_t domain_len = sizeof domain;
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &domain_len);
  if (domain == AF_INET) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  else setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
  /* Several MB absorb bursts between batches; FORCE works as root, else the sysctl cap applies. */
  int size = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/* Lets the kernel hand the TUN unchecksummed TCP/UDP and TSO (and, on Linux
 * >= 6.2, USO) super-packets. Without USO the kernel segments UDP itself. */
static int enable_tun_offloads(int tun_fd) {
  unsigned long base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (ioctl(tun_fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0) return 0;
  return ioctl(tun_fd, TUNSETOFFLOAD, base) == 0 ? 0 : -errno;
}

static void free_peer_cb(wg_index_node *n, void *ctx) {
  wg_peer_destroy(ctx, WG_CONTAINER_OF(n, wg_peer, id_node));
}

static void release(wg_device *d) {
  if (d->peers.buckets) wg_index_each(&d->peers, free_peer_cb, d);
  wg_index_destroy(&d->peers);
  wg_index_destroy(&d->keypairs);
  wg_allowedips_free(d->allowedips);
  if (d->staged) wg_staged_destroy(d);
  if (d->events) wg_events_destroy(d);
  if (d->stop_fd >= 0) close(d->stop_fd);
  zm_tun_probe_close(&d->mtu_probe);
  if (d->rebind_fd >= 0) close(d->rebind_fd);
  pthread_rwlock_destroy(&d->lock);
  free(d);
}

int wg_device_create(const wg_device_config *cfg, wg_device **out) {
  if (sodium_init() < 0) return -EIO;
  if (cfg->tun_fd < 0 || (cfg->udp4_fd < 0 && cfg->udp6_fd < 0) || cfg->mtu < 576 || cfg->mtu > 65535 - 80)
    return -EINVAL;
  wg_device *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->tun_fd = cfg->tun_fd;
  d->udp4_fd = cfg->udp4_fd;
  d->udp6_fd = cfg->udp6_fd;
  atomic_init(&d->mtu, cfg->mtu);
  d->mtu_probe = (zm_tun_probe)ZM_TUN_PROBE_INIT;
  d->tun_vnet_hdr = cfg->tun_vnet_hdr;
  atomic_init(&d->udp_gso, true);
  d->notify = cfg->notify;
  d->notify_ctx = cfg->notify_ctx;
  d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  d->rebind_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* The packet threads hold the read lock nearly all the time: without writer
   * preference a command could wait forever. */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&d->lock, &attr);
  pthread_rwlockattr_destroy(&attr);

  d->allowedips = wg_allowedips_new();
  if (d->stop_fd < 0 || d->rebind_fd < 0 || !d->allowedips || wg_index_init(&d->peers) < 0 ||
      wg_index_init(&d->keypairs) < 0 || wg_events_init(d) < 0 || wg_staged_init(d) < 0) {
    release(d);
    return -ENOMEM;
  }

  /* The TUN is read in batches until EAGAIN; UDP receives use MSG_DONTWAIT and
   * the TX thread's sendmmsg may wait for buffer space. */
  set_nonblocking(d->tun_fd, true);
  if (d->tun_vnet_hdr && enable_tun_offloads(d->tun_fd) < 0) {
    release(d);
    return -EINVAL;
  }
  set_nonblocking(d->udp4_fd, false);
  set_nonblocking(d->udp6_fd, false);
  configure_socket(d->udp4_fd);
  configure_socket(d->udp6_fd);

  /* Packet threads take no signals: they belong to the process's main thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&d->tx_thread, NULL, wg_tx_thread, d);
  if (rc == 0) {
    pthread_setname_np(d->tx_thread, "zmesh-wg-tx"); /* what top -H and perf show */
    rc = pthread_create(&d->rx_thread, NULL, wg_rx_thread, d);
    if (rc == 0) pthread_setname_np(d->rx_thread, "zmesh-wg-rx");
    if (rc != 0) {
      atomic_store(&d->stopped, true);
      uint64_t one = 1;
      (void)!write(d->stop_fd, &one, sizeof one);
      pthread_join(d->tx_thread, NULL);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    release(d);
    return -rc;
  }
  d->threads_started = true;
  *out = d;
  return 0;
}

void wg_device_signal_stop(wg_device *d) {
  if (!d->threads_started || atomic_exchange(&d->stop_signalled, true)) return;
  atomic_store(&d->stopped, true);
  uint64_t one = 1;
  (void)!write(d->stop_fd, &one, sizeof one);
}

void wg_device_stop(wg_device *d) {
  if (!d->threads_started) return;
  wg_device_signal_stop(d);
  pthread_join(d->tx_thread, NULL);
  pthread_join(d->rx_thread, NULL);
  d->threads_started = false;
  pthread_rwlock_wrlock(&d->lock);
  close(d->tun_fd);
  if (d->udp4_fd >= 0) close(d->udp4_fd);
  if (d->udp6_fd >= 0) close(d->udp6_fd);
  d->tun_fd = -1;
  d->udp4_fd = -1; /* _Atomic: clang refuses them in one chained assignment */
  d->udp6_fd = -1;
  pthread_rwlock_unlock(&d->lock);
}

int wg_device_leave_link(wg_device *d) {
  pthread_rwlock_rdlock(&d->lock);
  int rc = d->tun_fd < 0 ? -EBADF : ioctl(d->tun_fd, TUNSETPERSIST, 1) < 0 ? -errno : 0;
  if (rc == 0) {
    rc = fcntl(d->tun_fd, F_DUPFD_CLOEXEC, 0);
    if (rc < 0) {
      rc = -errno;
      (void)ioctl(d->tun_fd, TUNSETPERSIST, 0); /* not held: closing the device unregisters it as before */
    }
  }
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int wg_device_set_sockets(wg_device *d, int udp4_fd, int udp6_fd) {
  if (udp4_fd < 0 && udp6_fd < 0) return -EINVAL;
  if (!d->threads_started) return -EBADF;
  set_nonblocking(udp4_fd, false);
  set_nonblocking(udp6_fd, false);
  configure_socket(udp4_fd);
  configure_socket(udp6_fd);

  pthread_rwlock_wrlock(&d->lock);
  int old4 = d->udp4_fd, old6 = d->udp6_fd;
  d->udp4_fd = udp4_fd;
  d->udp6_fd = udp6_fd;
  unsigned generation = atomic_fetch_add(&d->sockets_generation, 1) + 1;
  pthread_rwlock_unlock(&d->lock);

  /* Wake the RX thread and wait (bounded) until it polls the new sockets, so
   * that closing the old ones cannot race with a recvmmsg on their numbers. */
  uint64_t one = 1;
  (void)!write(d->rebind_fd, &one, sizeof one);
  for (int i = 0; i < 2000 && atomic_load(&d->rx_generation) != generation && !atomic_load(&d->stopped); ++i)
    usleep(500);
  if (atomic_load(&d->rx_generation) != generation) {
    /* The RX thread did not answer within a second: leak the old fds rather
     * than risk closing a number it may still use. */
    return 0;
  }
  if (old4 >= 0) close(old4);
  if (old6 >= 0) close(old6);
  return 0;
}

int wg_device_refresh_mtu(wg_device *d) {
  /* The read lock keeps the fd open (stop closes it under the write lock); the probe is the JS
   * thread's alone, the one caller. */
  pthread_rwlock_rdlock(&d->lock);
  int mtu = d->tun_fd < 0 ? -EBADF : zm_tun_link_mtu(d->tun_fd, &d->mtu_probe);
  if (mtu > 0) atomic_store_explicit(&d->mtu, mtu, memory_order_relaxed);
  pthread_rwlock_unlock(&d->lock);
  return mtu;
}

void wg_device_free(wg_device *d) {
  if (!d) return;
  wg_device_stop(d);
  release(d);
}

/* ---- commands ---- */

static int set_cidrs(wg_device *d, wg_peer *p, const wg_cidr *cidrs, size_t count) {
  wg_cidr *copy = NULL;
  if (count) {
    copy = malloc(count * sizeof *copy);
    if (!copy) return -ENOMEM;
    memcpy(copy, cidrs, count * sizeof *copy);
  }
  for (size_t i = 0; i < p->cidr_count; ++i)
    wg_allowedips_remove_exact(d->allowedips, p->cidrs[i].family, p->cidrs[i].addr, p->cidrs[i].prefix, p);
  free(p->cidrs);
  p->cidrs = copy;
  p->cidr_count = count;
  int rc = 0;
  for (size_t i = 0; i < count; ++i) {
    int r = wg_allowedips_insert(d->allowedips, copy[i].family, copy[i].addr, copy[i].prefix, p);
    if (r < 0) rc = r;
  }
  return rc;
}

int wg_device_set_peer(wg_device *d, uint32_t peer_id, const wg_sockaddr *endpoint, const wg_source *source,
                       const wg_cidr *cidrs, size_t cidr_count) {
  for (size_t i = 0; cidrs && i < cidr_count; ++i)
    if ((cidrs[i].family != 4 && cidrs[i].family != 6) || cidrs[i].prefix > (cidrs[i].family == 4 ? 32 : 128))
      return -EINVAL;
  if (endpoint && endpoint->sa.sa_family != AF_UNSPEC && endpoint->sa.sa_family != AF_INET &&
      endpoint->sa.sa_family != AF_INET6)
    return -EINVAL;
  pthread_rwlock_wrlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  if (!p) p = wg_peer_create(d, peer_id);
  int rc = p ? 0 : -ENOMEM;
  if (p && endpoint) {
    pthread_spin_lock(&p->endpoint_lock);
    p->endpoint = *endpoint;
    if (source) p->source = *source;
    else memset(&p->source, 0, sizeof p->source); /* a configured endpoint: routing chooses the source */
    pthread_spin_unlock(&p->endpoint_lock);
  }
  if (p && cidrs) rc = set_cidrs(d, p, cidrs, cidr_count);
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int wg_device_remove_peer(wg_device *d, uint32_t peer_id) {
  pthread_rwlock_wrlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  if (p) wg_peer_destroy(d, p);
  pthread_rwlock_unlock(&d->lock);
  return p ? 0 : -ENOENT;
}

int wg_device_install_keypair(wg_device *d, uint32_t peer_id, uint32_t local_index, uint32_t remote_index,
                              const uint8_t send_key[32], const uint8_t receive_key[32], bool initiator) {
  wg_keypair *kp = calloc(1, sizeof *kp);
  if (!kp) return -ENOMEM;
  kp->index_node.key = local_index;
  kp->remote_index = remote_index;
  kp->initiator = initiator;
  kp->created_ms = wg_monotonic_ms();
  atomic_init(&kp->can_send, true);
  atomic_init(&kp->send_counter, 0);
  pthread_spin_init(&kp->replay_lock, PTHREAD_PROCESS_PRIVATE);
  wg_replay_init(&kp->replay);
  memcpy(kp->send_key, send_key, 32);
  memcpy(kp->receive_key, receive_key, 32);

  pthread_rwlock_wrlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  int rc = !p ? -ENOENT : wg_index_find(&d->keypairs, local_index) ? -EEXIST : 0;
  if (rc < 0) {
    pthread_rwlock_unlock(&d->lock);
    pthread_spin_destroy(&kp->replay_lock);
    sodium_memzero(kp, sizeof *kp);
    free(kp);
    return rc;
  }
  kp->peer = p;
  wg_index_add(&d->keypairs, &kp->index_node);
  if (initiator) {
    /* As noise.c: a pending next is demoted to previous and the current goes;
     * otherwise the current becomes previous. */
    if (p->next) {
      wg_keypair_destroy(d, p->previous);
      p->previous = p->next;
      p->next = NULL;
      wg_keypair_destroy(d, p->current);
    } else {
      wg_keypair_destroy(d, p->previous);
      p->previous = p->current;
    }
    p->current = kp;
    atomic_store(&p->wants_handshake, false);
    wg_set(&p->last_wants_report_ms, 0);
    wg_staged_flush(d, p, wg_monotonic_ms());
  } else {
    /* A responder may not send before the initiator has proven it has the keys. */
    wg_keypair_destroy(d, p->next);
    p->next = kp;
    wg_keypair_destroy(d, p->previous);
    p->previous = NULL;
  }
  wg_stats_changed(d);
  pthread_rwlock_unlock(&d->lock);
  return 0;
}

int wg_device_remove_keypair(wg_device *d, uint32_t peer_id, uint32_t local_index) {
  pthread_rwlock_wrlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  wg_index_node *n = p ? wg_index_find(&d->keypairs, local_index) : NULL;
  wg_keypair *kp = n ? WG_CONTAINER_OF(n, wg_keypair, index_node) : NULL;
  int rc = -ENOENT;
  if (kp && kp->peer == p) {
    if (p->current == kp) p->current = NULL;
    if (p->previous == kp) p->previous = NULL;
    if (p->next == kp) p->next = NULL;
    wg_keypair_destroy(d, kp);
    rc = 0;
  }
  wg_stats_changed(d);
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int wg_device_expire_keypairs(wg_device *d, uint32_t peer_id) {
  pthread_rwlock_wrlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  if (p) {
    /* As wireguard-go: no more sending on them; receiving still works until they are removed. */
    wg_keypair *slots[3] = {p->current, p->previous, p->next};
    for (int i = 0; i < 3; ++i)
      if (slots[i]) atomic_store(&slots[i]->can_send, false);
  }
  wg_stats_changed(d);
  pthread_rwlock_unlock(&d->lock);
  return p ? 0 : -ENOENT;
}

int wg_device_drop_queued(wg_device *d, uint32_t peer_id) {
  pthread_rwlock_wrlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  if (p) wg_staged_drop(d, p);
  pthread_rwlock_unlock(&d->lock);
  return p ? 0 : -ENOENT;
}

int wg_device_send_raw(wg_device *d, uint32_t peer_id, const uint8_t *bytes, size_t len) {
  pthread_rwlock_rdlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  int rc = -ENOENT;
  if (p) {
    wg_sockaddr to;
    wg_source from;
    wg_peer_endpoint(p, &to, &from);
    if (to.sa.sa_family == AF_UNSPEC) {
      rc = -EDESTADDRREQ;
    } else {
      rc = wg_send_one(d, p, &to, &from, bytes, len);
      if (rc == 0) wg_set(&p->last_auth_sent_ms, wg_monotonic_ms());
    }
  }
  wg_stats_changed(d);
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int wg_device_send_raw_to(wg_device *d, const wg_sockaddr *to, const wg_source *from, const uint8_t *bytes,
                          size_t len) {
  pthread_rwlock_rdlock(&d->lock);
  int rc = wg_send_one(d, NULL, to, from, bytes, len);
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int wg_device_send_keepalive(wg_device *d, uint32_t peer_id) {
  uint8_t buf[WG_SEAL_HEADROOM + WG_KEEPALIVE_SIZE + WG_PADDING_MULTIPLE];
  uint8_t *msg = buf + WG_SEAL_HEADROOM;
  pthread_rwlock_rdlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  int rc = -ENOENT;
  if (p) {
    uint64_t now = wg_monotonic_ms(), counter;
    wg_sockaddr to;
    wg_source from;
    wg_peer_endpoint(p, &to, &from);
    wg_keypair *kp = to.sa.sa_family == AF_UNSPEC ? NULL : wg_peer_sending_keypair(p, now, &counter);
    if (to.sa.sa_family == AF_UNSPEC) {
      rc = -EDESTADDRREQ;
    } else if (!kp) {
      rc = -ENOKEY;
    } else {
      wg_aead *aead = wg_aead_new();
      if (!aead) {
        rc = -ENOMEM;
      } else {
        size_t len = wg_seal_transport(d, aead, kp, counter, msg, 0);
        wg_aead_free(aead);
        rc = wg_send_one(d, p, &to, &from, msg, len);
      }
      if (rc == 0) wg_set(&p->last_auth_sent_ms, now);
    }
  }
  wg_stats_changed(d);
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int wg_device_credit_rx(wg_device *d, uint32_t peer_id, uint64_t bytes) {
  pthread_rwlock_rdlock(&d->lock);
  wg_peer *p = wg_peer_find(d, peer_id);
  if (p) wg_add(&p->rx_bytes, bytes);
  wg_stats_changed(d);
  pthread_rwlock_unlock(&d->lock);
  return p ? 0 : -ENOENT;
}

int wg_device_lookup(wg_device *d, int family, const uint8_t *addr, uint32_t *peer_id) {
  pthread_rwlock_rdlock(&d->lock);
  wg_peer *p = wg_allowedips_lookup(d->allowedips, family, addr);
  if (p) *peer_id = p->id_node.key;
  pthread_rwlock_unlock(&d->lock);
  return p ? 0 : -ENOENT;
}

typedef struct stats_ctx {
  wg_device *d;
  wg_peer_stats *out;
  size_t n;
  bool changed_only;
} stats_ctx;

static void stats_cb(wg_index_node *n, void *arg) {
  stats_ctx *c = arg;
  wg_peer *p = WG_CONTAINER_OF(n, wg_peer, id_node);
  /* Read into a local first: an idle peer in a changed-only call then touches none of the
   * output array (10,000 idle peers must not cost a megabyte of page faults per tick). */
  wg_peer_stats s;
  memset(&s, 0, sizeof s);
  s.peer_id = n->key;
  s.tx_bytes = atomic_load(&p->tx_bytes);
  s.rx_bytes = atomic_load(&p->rx_bytes);
  s.last_data_sent_ms = atomic_load(&p->last_data_sent_ms);
  s.last_data_received_ms = atomic_load(&p->last_data_received_ms);
  s.last_auth_sent_ms = atomic_load(&p->last_auth_sent_ms);
  s.last_auth_received_ms = atomic_load(&p->last_auth_received_ms);
  s.has_current_keypair = p->current != NULL;
  s.send_counter = p->current ? atomic_load(&p->current->send_counter) : 0;
  s.wants_handshake = atomic_load(&p->wants_handshake);
  if (c->changed_only) {
    bool same = s.tx_bytes == p->reported.tx_bytes && s.rx_bytes == p->reported.rx_bytes &&
                s.send_counter == p->reported.send_counter && s.last_data_sent_ms == p->reported.last_data_sent_ms &&
                s.last_data_received_ms == p->reported.last_data_received_ms &&
                s.last_auth_sent_ms == p->reported.last_auth_sent_ms &&
                s.last_auth_received_ms == p->reported.last_auth_received_ms &&
                s.has_current_keypair == p->reported.has_current_keypair &&
                s.wants_handshake == p->reported.wants_handshake;
    if (same) return;
    p->reported.tx_bytes = s.tx_bytes;
    p->reported.rx_bytes = s.rx_bytes;
    p->reported.send_counter = s.send_counter;
    p->reported.last_data_sent_ms = s.last_data_sent_ms;
    p->reported.last_data_received_ms = s.last_data_received_ms;
    p->reported.last_auth_sent_ms = s.last_auth_sent_ms;
    p->reported.last_auth_received_ms = s.last_auth_received_ms;
    p->reported.has_current_keypair = s.has_current_keypair;
    p->reported.wants_handshake = s.wants_handshake;
  }
  pthread_mutex_lock(&c->d->staged_lock);
  s.staged = p->staged_count;
  pthread_mutex_unlock(&c->d->staged_lock);
  wg_peer_endpoint(p, &s.endpoint, NULL);
  c->out[c->n++] = s;
}

size_t wg_device_peer_stats(wg_device *d, bool changed_only, wg_peer_stats **out) {
  if (changed_only && !atomic_exchange_explicit(&d->stats_changed, false, memory_order_acq_rel)) {
    *out = NULL;
    return 0;
  }
  pthread_rwlock_rdlock(&d->lock);
  stats_ctx c = {d, malloc((d->peers.count ? d->peers.count : 1) * sizeof(wg_peer_stats)), 0, changed_only};
  if (c.out) wg_index_each(&d->peers, stats_cb, &c);
  pthread_rwlock_unlock(&d->lock);
  *out = c.out;
  return c.n;
}

void wg_device_drop_counters(wg_device *d, uint64_t out[WG_DROP_REASON_COUNT]) {
  for (int i = 0; i < WG_DROP_REASON_COUNT; ++i) out[i] = atomic_load(&d->drops[i]);
}
