/* The userspace WireGuard data plane of one device: the public C interface
 * that the N-API binding (dataplane_addon.cc) drives.
 *
 * A device owns a TUN fd (in the NR namespace), up to two UDP sockets (IPv4,
 * IPv6, in the node's namespace), its peers, the allowed-IPs table, the
 * receiver-index table and two threads: TUN -> encrypt -> UDP and
 * UDP -> decrypt -> TUN. Handshakes are not done here: handshake messages go
 * out as events, and session keys come back through install_keypair.
 *
 * Ownership: wg_device_create takes the fds only when it succeeds; from then
 * on wg_device_stop closes them. Keys are copied into device memory and
 * zeroed when their keypair goes.
 *
 * Every function may be called from any thread; commands serialise on the
 * device's write lock, the packet threads hold its read lock per batch. */
#ifndef ZMESH_WG_DATAPLANE_H
#define ZMESH_WG_DATAPLANE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_device wg_device;

/* An UDP endpoint; sa.sa_family == AF_UNSPEC means "none". */
typedef union wg_sockaddr {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
} wg_sockaddr;

/* The local address a peer's packets arrived on: replies to the peer leave
 * from it ("sticky" source, IP_PKTINFO / IPV6_PKTINFO), as the kernel's
 * WireGuard does. family 0: none, routing chooses. ifindex: the interface
 * they arrived on (used for IPv6 link-local sources, which need it). */
typedef struct wg_source {
  uint8_t family; /* 0, 4 or 6 */
  uint32_t ifindex;
  uint8_t addr[16];
} wg_source;

static inline bool wg_same_source(const wg_source *a, const wg_source *b) {
  return a->family == b->family &&
         (a->family == 0 || (a->ifindex == b->ifindex && memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0));
}

typedef struct wg_cidr {
  uint8_t family; /* 4 or 6 */
  uint8_t prefix;
  uint8_t addr[16];
} wg_cidr;

typedef struct wg_device_config {
  int tun_fd;
  int udp4_fd; /* -1: none */
  int udp6_fd; /* -1: none */
  int mtu;     /* the TUN's MTU now (padding never goes beyond it); wg_device_refresh_mtu follows changes.
                * Packets of any size the kernel hands over are carried, whatever this says. */
  /* The TUN was opened with IFF_VNET_HDR: the device turns on its offloads
   * (TUNSETOFFLOAD: checksum, TSO4/6, USO4/6 where the kernel has them), splits
   * super-packets on read and coalesces TCP segments on write. */
  bool tun_vnet_hdr;
  /* Called (from a packet thread, or the caller's thread) when events become
   * available after the queue was drained empty. Must not block. */
  void (*notify)(void *ctx);
  void *notify_ctx;
} wg_device_config;

enum wg_event_type {
  WG_EVENT_HANDSHAKE_MESSAGE = 1, /* bytes/len/from: a type 1/2/3 message of the exact size */
  WG_EVENT_WANTS_HANDSHAKE = 2,   /* peer_id: a packet waits for a keypair, or the current one is old */
  WG_EVENT_KEYPAIR_CONFIRMED = 3, /* peer_id/local_index: a responder's next keypair received data and became current */
  WG_EVENT_TUN_GONE = 4           /* the TUN's link was deleted (wherever it was): the device can do no more */
};

typedef struct wg_event {
  uint8_t type;
  uint16_t len;
  uint32_t peer_id;
  uint32_t local_index;
  wg_sockaddr from;
  wg_source local; /* the local address the message arrived on */
  uint8_t bytes[148];
} wg_event;

/* Why packets were dropped; names in wg_drop_reason_names. */
enum wg_drop_reason {
  WG_DROP_SHORT,                /* shorter than a message header */
  WG_DROP_UNKNOWN_TYPE,         /* not a type 1-4 message */
  WG_DROP_HANDSHAKE_SIZE,       /* type 1/2/3 of the wrong size */
  WG_DROP_UNKNOWN_INDEX,        /* transport for a receiver index we do not have */
  WG_DROP_EXPIRED_KEYPAIR,      /* transport on a keypair older than REJECT_AFTER_TIME */
  WG_DROP_AUTH_FAILED,          /* ChaCha20-Poly1305 tag did not verify */
  WG_DROP_REPLAY,               /* authenticated, but the counter was seen or is too old */
  WG_DROP_INVALID_INNER,        /* decrypted payload is not an IPv4/IPv6 packet */
  WG_DROP_SOURCE_NOT_ALLOWED,   /* inner source not in the sending peer's allowed IPs */
  WG_DROP_NO_ROUTE,             /* outgoing packet's destination matches no peer */
  WG_DROP_NO_ENDPOINT,          /* the peer has no endpoint to send to */
  WG_DROP_NO_SOCKET,            /* no UDP socket of the endpoint's family */
  WG_DROP_STAGED_OVERFLOW,      /* oldest packet waiting for a keypair pushed out */
  WG_DROP_HANDSHAKE_QUEUE_FULL, /* handshake message not handed to JS: queue full */
  WG_DROP_OVERSIZE,             /* truncated datagram or TUN packet beyond the buffer */
  WG_DROP_TUN_WRITE_ERROR,
  WG_DROP_SEND_ERROR,
  WG_DROP_READ_ERROR,
  WG_DROP_REASON_COUNT
};
extern const char *const wg_drop_reason_names[WG_DROP_REASON_COUNT];

typedef struct wg_peer_stats {
  uint32_t peer_id;
  uint64_t tx_bytes, rx_bytes;
  uint64_t last_data_sent_ms, last_data_received_ms; /* 0: never */
  uint64_t last_auth_sent_ms, last_auth_received_ms; /* 0: never */
  uint64_t send_counter;                             /* next counter of the current keypair; 0 without one */
  bool has_current_keypair;
  bool wants_handshake;
  uint32_t staged;
  wg_sockaddr endpoint;
} wg_peer_stats;

/* CLOCK_MONOTONIC in milliseconds: the one clock of the data plane and of TS. */
uint64_t wg_monotonic_ms(void);

/* 0 on success (threads running, fds owned by the device) or a negative errno. */
int wg_device_create(const wg_device_config *cfg, wg_device **out);
/* Stops the threads and closes the fds; idempotent. Events stay drainable. */
void wg_device_stop(wg_device *d);
/* Tells the threads to stop without waiting for them (wg_device_stop then joins them): a caller
 * stopping many devices lets all their threads wind down at once. Idempotent. */
void wg_device_signal_stop(wg_device *d);
/* Marks the TUN link persistent, so that closing the fd (wg_device_stop) leaves the link where it
 * is: for a device whose namespace has been deleted, whose cleanup then unregisters the link with
 * the namespace's others in one batch, instead of one RCU barrier per link at close. Returns a
 * second fd of the TUN (close-on-exec), which the caller closes when it chooses: that close lets
 * the namespace go, so a caller removing many devices can let all their namespaces go at once
 * (one cleanup by the kernel); or -errno, the link then not persistent. */
int wg_device_leave_link(wg_device *d);
/* Stops if needed and frees everything (keys zeroed). */
void wg_device_free(wg_device *d);

/* Replaces the UDP sockets (a new listen port) while traffic flows; the
 * device takes the new fds (-1: none, not both) and closes the old ones once
 * the RX thread no longer polls them. 0 or a negative errno. */
int wg_device_set_sockets(wg_device *d, int udp4_fd, int udp6_fd);

/* Creates the peer if needed. endpoint: NULL keeps it, AF_UNSPEC clears it;
 * a new endpoint comes with the local source to send to it from (NULL: none).
 * cidrs: NULL keeps the set, otherwise replaces it (count may be 0). */
int wg_device_set_peer(wg_device *d, uint32_t peer_id, const wg_sockaddr *endpoint, const wg_source *source,
                       const wg_cidr *cidrs, size_t cidr_count);
int wg_device_remove_peer(wg_device *d, uint32_t peer_id); /* -ENOENT */
/* -ENOENT (peer), -EEXIST (local index in use), -ENOMEM. */
int wg_device_install_keypair(wg_device *d, uint32_t peer_id, uint32_t local_index, uint32_t remote_index,
                              const uint8_t send_key[32], const uint8_t receive_key[32], bool initiator);
int wg_device_remove_keypair(wg_device *d, uint32_t peer_id, uint32_t local_index); /* -ENOENT */
int wg_device_expire_keypairs(wg_device *d, uint32_t peer_id);
int wg_device_drop_queued(wg_device *d, uint32_t peer_id);
/* Sends bytes to the peer's endpoint, counted in its tx. -ENOENT, -EDESTADDRREQ
 * (no endpoint), -EAFNOSUPPORT (no socket for that family), or the send errno. */
int wg_device_send_raw(wg_device *d, uint32_t peer_id, const uint8_t *bytes, size_t len);
/* from: the local source to send from (NULL: routing chooses; a source no longer local is dropped). */
int wg_device_send_raw_to(wg_device *d, const wg_sockaddr *to, const wg_source *from, const uint8_t *bytes, size_t len);
/* An encrypted empty packet on the current keypair; -ENOKEY without a usable one. */
int wg_device_send_keepalive(wg_device *d, uint32_t peer_id);
/* Adds bytes (a handshake message the protocol core attributed to this peer) to rx. */
int wg_device_credit_rx(wg_device *d, uint32_t peer_id, uint64_t bytes);
/* Longest-prefix match: 0 and *peer_id, or -ENOENT. */
int wg_device_lookup(wg_device *d, int family, const uint8_t *addr, uint32_t *peer_id);

/* Reads the TUN link's MTU now (wherever the link is: it may have moved to
 * another namespace) and pads to it from now on. The MTU, -EBADFD when the
 * link was deleted, or another negative errno. */
int wg_device_refresh_mtu(wg_device *d);

/* Moves up to max queued events to out; returns how many. */
size_t wg_device_drain_events(wg_device *d, wg_event *out, size_t max);
/* malloc'd array; caller frees. changed_only: just the peers whose counters, times, send counter,
 * current keypair or handshake want differ from what the previous changed_only call reported
 * (a new peer counts as all zeros), so an idle device yields none. */
size_t wg_device_peer_stats(wg_device *d, bool changed_only, wg_peer_stats **out);
void wg_device_drop_counters(wg_device *d, uint64_t out[WG_DROP_REASON_COUNT]);

#ifdef __cplusplus
}
#endif
#endif
