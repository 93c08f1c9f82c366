/* The configuration of a kernel WireGuard device as the generic netlink
 * family `wireguard` carries it: what a SET_DEVICE request changes (each field
 * present or absent) and what a GET_DEVICE dump reports. Plain data, owned by
 * whoever fills it; wgk_device_free releases it (zeroing the keys). */
#ifndef ZMESH_WGK_CONFIG_H
#define ZMESH_WGK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <net/if.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WGK_KEY_LEN 32

typedef struct wgk_allowedip {
  uint16_t family; /* AF_INET or AF_INET6 */
  uint8_t cidr;
  uint8_t addr[16];
} wgk_allowedip;

typedef union wgk_endpoint {
  struct sockaddr addr;
  struct sockaddr_in addr4;
  struct sockaddr_in6 addr6;
} wgk_endpoint;

enum {
  WGK_PEER_HAS_PRESHARED_KEY = 1 << 0,
  WGK_PEER_HAS_ENDPOINT = 1 << 1,
  WGK_PEER_HAS_KEEPALIVE = 1 << 2,
};

typedef struct wgk_peer {
  uint8_t public_key[WGK_KEY_LEN];
  uint8_t preshared_key[WGK_KEY_LEN]; /* all zeros removes it */
  uint32_t has;                       /* WGK_PEER_HAS_* */
  uint32_t flags;                     /* WGPEER_F_* (set only) */
  wgk_endpoint endpoint;              /* sa_family 0: none */
  uint16_t persistent_keepalive;
  /* Reported by GET only. */
  int64_t last_handshake_sec, last_handshake_nsec;
  uint64_t rx_bytes, tx_bytes;
  uint32_t protocol_version;
  /* cap_allowedips 0 with allowedips set: a slice of the device's
   * allowedip_pool (grown by copying out, never freed on its own). */
  wgk_allowedip *allowedips;
  size_t n_allowedips, cap_allowedips;
} wgk_peer;

enum {
  WGK_DEVICE_HAS_PRIVATE_KEY = 1 << 0,
  WGK_DEVICE_HAS_PUBLIC_KEY = 1 << 1, /* GET only */
  WGK_DEVICE_HAS_LISTEN_PORT = 1 << 2,
  WGK_DEVICE_HAS_FWMARK = 1 << 3,
};

typedef struct wgk_device {
  char ifname[IFNAMSIZ];
  uint32_t ifindex; /* GET only */
  uint32_t has;     /* WGK_DEVICE_HAS_* */
  uint32_t flags;   /* WGDEVICE_F_* (set only) */
  uint8_t private_key[WGK_KEY_LEN];
  uint8_t public_key[WGK_KEY_LEN];
  uint16_t listen_port;
  uint32_t fwmark;
  wgk_peer *peers;
  size_t n_peers, cap_peers;
  /* One allocation for every peer's allowed IPs when their number is known
   * up front (a SET_DEVICE built from a packed batch), instead of one per peer. */
  wgk_allowedip *allowedip_pool;
} wgk_device;

/* Appends a zeroed peer / allowed IP; NULL when out of memory. */
wgk_peer *wgk_device_add_peer(wgk_device *d);
wgk_allowedip *wgk_peer_add_allowedip(wgk_peer *p);
/* Frees the peers and allowed IPs and zeroes every key (the struct itself is
 * the caller's). */
void wgk_device_free(wgk_device *d);

#ifdef __cplusplus
}
#endif
#endif
