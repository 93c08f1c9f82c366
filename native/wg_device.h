/* Internal state of a data-plane device, shared by the C files of the data
 * plane (wg_device.c: commands and lifecycle; wg_peer.c: keypair slots and
 * staged packets; wg_send.c: TUN -> UDP; wg_receive.c: UDP -> TUN;
 * wg_events.c: the queue towards JS). Not for the N-API layer.
 *
 * Locking: `lock` is a writer-preferring rwlock. Commands take it for
 * writing; the packet threads take it for reading once per batch. So
 * anything that can be freed (peers, keypairs, table entries) is freed only
 * under the write lock, and a packet thread holding the read lock can use the
 * pointers it finds without reference counts. What the packet threads change
 * themselves is atomic (counters, timestamps, send counters) or has its own
 * small lock (endpoint: roaming; replay window; staged queues; events). */
#ifndef ZMESH_WG_DEVICE_H
#define ZMESH_WG_DEVICE_H

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "wg_aead.h"
#include "wg_allowedips.h"
#include "wg_dataplane.h"
#include "wg_index.h"
#include "wg_replay.h"
#include "tun.h"

/* Scratch before a transport message's 16-byte header for wg_aead_seal_headroom. */
#define WG_SEAL_HEADROOM (WG_AEAD_HEADROOM - WG_TRANSPORT_HEADER_SIZE)
#define WG_BATCH 64     /* datagrams (each up to 64 KiB with UDP GRO) per recvmmsg */
#define WG_TX_SLOTS 256 /* inner packets per TX batch (a TUN super-packet fills up to ~48) */
/* Bytes of packet buffers per TX batch, carved packet by packet (any size up to the largest
 * datagram, whatever the MTU): ~7 TUN super-packets of 64 KiB, or 256 packets of 1,420 bytes. */
#define WG_TX_ARENA (512 * 1024)
/* Room a packet needs around its plaintext: AEAD scratch + header in front, padding + tag
 * behind, rounded so that each packet starts on a cache line. */
#define WG_PACKET_OVERHEAD (WG_SEAL_HEADROOM + WG_TRANSPORT_HEADER_SIZE + WG_PADDING_MULTIPLE + WG_AEAD_TAG_SIZE)
#define WG_PACKET_ALIGN 64
/* The largest inner packet: what one UDP datagram can carry (IPv4: 65,535 - 20 - 8) less the
 * transport message's header and tag. */
#define WG_MAX_INNER_PACKET (65535 - 20 - 8 - WG_TRANSPORT_HEADER_SIZE - WG_AEAD_TAG_SIZE)
#define WG_UDP_GSO_SEGMENTS 64        /* datagrams per UDP GSO send (the kernel's UDP_MAX_SEGMENTS is >= 64) */
#define WG_UDP_GSO_BYTES 65000        /* payload bytes per UDP GSO send (below the 64 KiB IP limit) */
#define WG_RX_PACKETS (WG_BATCH * 64) /* decrypted packets held for one batch of TUN writes */
#define WG_STAGED_PER_PEER 128        /* packets kept per peer while it has no keypair (wireguard-go's) */
#define WG_STAGED_POOL 1024           /* staged packets per device, all peers together */
#define WG_EVENT_QUEUE 1024           /* events waiting for JS */
#define WG_EVENT_RESERVED 64          /* of which handshake messages may not take the last ones */
#define WG_WANTS_REPORT_INTERVAL_MS 1000

/* The device's large buffers (packet batches, the staged pool, the event queue) come straight
 * from the kernel: zero pages that become resident only where first written, so a device holds
 * memory in proportion to the traffic it has seen, not to its pools' sizes (calloc from malloc's
 * heap writes all of it, and which sizes malloc serves from its heap moves at run time). Freed
 * with munmap, which gives the pages back to the kernel: the traffic they held leaves the
 * process with them, so they need no wiping. NULL when the kernel refuses. */
static inline void *wg_pages_alloc(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static inline void wg_pages_free(void *p, size_t size) {
  if (p) munmap(p, size);
}

typedef struct wg_keypair {
  wg_index_node index_node; /* key: our (receiver) index */
  struct wg_peer *peer;
  uint32_t remote_index;
  uint64_t created_ms;
  bool initiator;
  atomic_bool can_send; /* cleared by expire_keypairs */
  atomic_uint_fast64_t send_counter;
  pthread_spinlock_t replay_lock;
  wg_replay replay;
  uint8_t send_key[32];
  uint8_t receive_key[32];
} wg_keypair;

typedef struct wg_peer {
  wg_index_node id_node; /* key: peer id */
  /* Slots, changed only under the write lock (rules of the Linux module's noise.c). */
  wg_keypair *current, *previous, *next;
  pthread_spinlock_t endpoint_lock;
  wg_sockaddr endpoint;
  wg_source source; /* where its packets last arrived (sticky source); under endpoint_lock */
  wg_cidr *cidrs;   /* what this peer inserted, to remove exactly that */
  size_t cidr_count;
  /* Staged packets: a FIFO of pool slots, under the device's staged_lock. */
  int32_t staged_head, staged_tail;
  uint32_t staged_count;
  atomic_uint_fast64_t tx_bytes, rx_bytes;
  atomic_uint_fast64_t last_data_sent_ms, last_data_received_ms;
  atomic_uint_fast64_t last_auth_sent_ms, last_auth_received_ms;
  atomic_uint_fast64_t last_wants_report_ms; /* 0: report the next want at once */
  atomic_bool wants_handshake;
  /* What the last changed-only stats call reported (JS thread only, under the read lock): an idle
   * peer is then left out, so a tick over 10,000 idle peers crosses into JS with nothing. */
  struct {
    uint64_t tx_bytes, rx_bytes, send_counter;
    uint64_t last_data_sent_ms, last_data_received_ms, last_auth_sent_ms, last_auth_received_ms;
    bool has_current_keypair, wants_handshake;
  } reported;
} wg_peer;

/* A staged packet: its buffer (allocated to its size, WG_SEAL_HEADROOM before data) has room for
 * the transport header before the payload and for padding and the tag after it, so encryption
 * happens in place. */
typedef struct wg_packet_slot {
  int32_t next;    /* FIFO / free list link */
  uint32_t len;    /* plaintext length */
  uint8_t *buffer; /* malloc'd; NULL when the slot is free */
  uint8_t *data;   /* buffer + WG_SEAL_HEADROOM: WG_TRANSPORT_HEADER_SIZE + len + 16 + tag */
} wg_packet_slot;

struct wg_device {
  int tun_fd, stop_fd;
  /* The UDP sockets can be replaced while the threads run (listen_port
   * changes): written under the write lock, then sockets_generation is bumped
   * and rebind_fd wakes the RX thread, which acknowledges the generation it
   * polls with in rx_generation; only then are the old sockets closed. */
  _Atomic int udp4_fd, udp6_fd;
  int rebind_fd;
  atomic_uint sockets_generation, rx_generation;
  atomic_int mtu;         /* the TUN link's MTU as last read (padding); see wg_device_refresh_mtu */
  zm_tun_probe mtu_probe; /* JS thread only (refresh), under the write lock */
  bool tun_vnet_hdr;      /* the TUN carries a virtio-net header: offloads on (wg_offload.h) */
  atomic_bool udp_gso;    /* UDP_SEGMENT sends; cleared when the kernel refuses one */
  pthread_rwlock_t lock;
  wg_index peers;    /* by peer id */
  wg_index keypairs; /* by local index */
  wg_allowedips *allowedips;
  /* Set (release) after any peer's counters, times, send counter, keypairs or handshake want
   * changed; a changed-only stats call clears it (acquire) and, when it was clear, returns at
   * once without walking the peers: an idle device's tick is O(1). */
  atomic_bool stats_changed;

  pthread_mutex_t staged_lock;
  wg_packet_slot *staged; /* WG_STAGED_POOL slots (wg_pages_alloc) */
  int32_t staged_free;    /* a list of slots used and given back; -1: empty */
  int32_t staged_fresh;   /* slots from here on were never used (not yet resident) */

  pthread_mutex_t events_lock;
  wg_event *events; /* WG_EVENT_QUEUE of them (wg_pages_alloc) */
  size_t events_head, events_count;
  bool events_notified; /* notify was called and the queue not yet drained empty */
  void (*notify)(void *ctx);
  void *notify_ctx;

  atomic_uint_fast64_t drops[WG_DROP_REASON_COUNT];

  pthread_t tx_thread, rx_thread;
  bool threads_started;
  atomic_bool stopped;
  atomic_bool stop_signalled; /* wg_device_signal_stop ran (the stop eventfd is written once) */
};

static inline bool wg_same_endpoint(const wg_sockaddr *a, const wg_sockaddr *b) {
  if (a->sa.sa_family != b->sa.sa_family) return false;
  if (a->sa.sa_family == AF_INET)
    return a->in4.sin_port == b->in4.sin_port && a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
  if (a->sa.sa_family == AF_INET6)
    return a->in6.sin6_port == b->in6.sin6_port && a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
           memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
  return false;
}

static inline void wg_count_drop(wg_device *d, enum wg_drop_reason r) {
  atomic_fetch_add_explicit(&d->drops[r], 1, memory_order_relaxed);
}
static inline void wg_add(atomic_uint_fast64_t *c, uint64_t v) {
  atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}
static inline void wg_set(atomic_uint_fast64_t *c, uint64_t v) {
  atomic_store_explicit(c, v, memory_order_relaxed);
}

/* After the per-peer stores it covers (see stats_changed). */
static inline void wg_stats_changed(wg_device *d) {
  atomic_store_explicit(&d->stats_changed, true, memory_order_release);
}

/* wg_events.c */
int wg_events_init(wg_device *d);
void wg_events_destroy(wg_device *d);
/* Queues an event; false if the queue is full (handshake messages may not use
 * the last WG_EVENT_RESERVED entries). Calls notify when needed. */
bool wg_events_push(wg_device *d, const wg_event *e);

/* wg_peer.c (write lock held unless said otherwise) */
wg_peer *wg_peer_find(wg_device *d, uint32_t peer_id);
wg_peer *wg_peer_create(wg_device *d, uint32_t peer_id);
void wg_peer_destroy(wg_device *d, wg_peer *p);
void wg_keypair_destroy(wg_device *d, wg_keypair *kp);
/* next -> current, current -> previous, old previous freed. */
void wg_peer_promote_next(wg_device *d, wg_peer *p);
/* The keypair to encrypt with and its counter, or NULL (read lock held). */
wg_keypair *wg_peer_sending_keypair(wg_peer *p, uint64_t now, uint64_t *counter_out);
/* Marks that the peer wants a handshake and reports it, at most once a second (any lock). */
void wg_peer_want_handshake(wg_device *d, wg_peer *p, uint64_t now);
/* Staged queue (read or write lock held). */
int wg_staged_init(wg_device *d);
void wg_staged_destroy(wg_device *d);
void wg_staged_push(wg_device *d, wg_peer *p, const uint8_t *packet, size_t len);
void wg_staged_drop(wg_device *d, wg_peer *p);
/* Encrypts and sends the peer's staged packets on its current keypair. */
void wg_staged_flush(wg_device *d, wg_peer *p, uint64_t now);

/* wg_send.c */
void *wg_tx_thread(void *arg);
/* Encrypts slot data (plaintext of len at data + 16) in place on kp with
 * counter; returns the message length. The WG_SEAL_HEADROOM bytes before
 * data are scratch: every slot, staged buffer and keepalive has them. */
size_t wg_seal_transport(wg_device *d, wg_aead *aead, wg_keypair *kp, uint64_t counter, uint8_t *data, size_t len);
/* The UDP fd for an endpoint, or -1. */
int wg_socket_for(wg_device *d, const wg_sockaddr *to);
/* One datagram from source `from` (NULL or family 0: routing chooses); counts tx bytes for p (may
 * be NULL). A source that is no longer local is forgotten (p's, if p has it) and the datagram
 * sent from routing's choice. 0 or negative errno. */
int wg_send_one(wg_device *d, wg_peer *p, const wg_sockaddr *to, const wg_source *from, const uint8_t *bytes,
                size_t len);
/* The peer's endpoint and the source to send to it from (source may be NULL). */
void wg_peer_endpoint(wg_peer *p, wg_sockaddr *out, wg_source *source);
/* Forgets the peer's source if it is still `stale` (sending from it failed): routing chooses. */
void wg_peer_forget_source(wg_peer *p, const wg_source *stale);
/* Control messages for a UDP send: a segment size (0: none) and a source (NULL / family 0: none),
 * written into buf (WG_SEND_CONTROL_SPACE bytes); sets msg_control/msg_controllen of m. */
#define WG_SEND_CONTROL_SPACE (CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)))
void wg_send_control(struct msghdr *m, void *buf, uint16_t segment, const wg_source *from);
/* True when a send with a source may have failed because the source is no longer local: IPv4
 * routing answers ENETUNREACH for a source that is not a local address, IPv6 EINVAL (a tentative
 * one too), a bind EADDRNOTAVAIL. Sending again without it costs one syscall when the network was
 * in fact unreachable (the source is learnt again from the next packet the peer sends). */
static inline bool wg_source_refused(int err, const wg_source *from) {
  return from && from->family && (err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH);
}

/* wg_receive.c */
void *wg_rx_thread(void *arg);

#endif
