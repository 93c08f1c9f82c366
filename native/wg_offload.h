/* TUN offloads of the data plane: the virtio-net header that precedes every
 * packet on a TUN opened with IFF_VNET_HDR, the splitting of the kernel's
 * TSO/USO super-packets into MTU-sized packets (TX), and the coalescing of
 * same-flow TCP segments into super-packets for the kernel (RX, "GRO"),
 * with the Internet checksums both need. Pure functions over buffers: no
 * I/O, no locks, no allocation. */
#ifndef ZMESH_WG_OFFLOAD_H
#define ZMESH_WG_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Newer than this system's headers (Linux 6.2). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#define WG_VNET_HDR_LEN ((size_t)sizeof(struct virtio_net_hdr))
/* The largest packet the kernel hands over or takes (IP total length is 16 bits). */
#define WG_SUPER_PACKET_MAX 65535

/* Ones' complement sum of buf (RFC 1071), in memory byte order, added to sum
 * (with AVX-512 where the CPU has it: wg_csum.h). */
uint64_t wg_csum_partial(const uint8_t *buf, size_t len, uint64_t sum);
/* The same without AVX-512 (what runs on other CPUs; exposed for tests). */
uint64_t wg_csum_portable(const uint8_t *buf, size_t len, uint64_t sum);
/* Folds a partial sum to 16 bits (not complemented), in memory byte order. */
uint16_t wg_csum_fold(uint64_t sum);
/* Partial sum of the TCP/UDP pseudo-header of the IP packet pkt for an L4
 * segment of l4_len bytes and protocol proto. */
uint64_t wg_pseudo_header_sum(const uint8_t *pkt, uint8_t proto, size_t l4_len);

/* How many packets the super-packet (hdr, pkt, len) becomes: 1 when it is
 * not one, 0 when it is malformed; *largest: the length of the longest. */
size_t wg_gso_segment_count(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, size_t *largest);

/* Splits the packet into outs[0..n) (each of out_capacity bytes), fixing IP
 * lengths/ids/header checksums, TCP sequence numbers and flags, and computing
 * full TCP/UDP checksums, as the kernel's segmentation would; a packet that is
 * not a super-packet gets its pending checksum completed and is copied as is.
 * Returns n, or 0 when it is malformed or a segment exceeds out_capacity.
 * pkt may be modified. */
size_t wg_gso_split(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len, uint8_t *const *outs, size_t *out_lens,
                    size_t max_out, size_t out_capacity);

/* ---- receive side: coalescing for the TUN ---- */

/* A segment payload appended to an item: the pool entries of one item form a
 * list, since items of different flows interleave in arrival order. */
typedef struct wg_gro_piece {
  struct iovec v;
  int32_t next;
} wg_gro_piece;

/* One packet to write, or a run of same-flow TCP segments written as one. */
typedef struct wg_gro_item {
  uint8_t *first; /* the first packet, whose headers become the super-packet's */
  size_t first_len;
  size_t header_len; /* IP + TCP header length; 0: not coalescable */
  size_t ip_len;     /* IP header length */
  size_t total_len;  /* headers + all payloads */
  size_t gso_size;   /* payload of the first segment */
  uint32_t next_seq; /* sequence number the next segment must carry */
  int32_t piece_head, piece_tail;
  uint16_t segments;
  uint8_t family;
  bool closed; /* a shorter or PSH segment ended the run */
  bool psh;
} wg_gro_item;

#define WG_GRO_MAX_SEGMENTS 64

typedef struct wg_gro {
  wg_gro_item *items;
  size_t item_count, item_capacity;
  wg_gro_piece *pieces;
  size_t piece_count, piece_capacity;
} wg_gro;

/* Adds one decrypted inner packet (an IPv4/IPv6 packet of exactly len
 * bytes); false when the pools are full (write out and reset first). */
bool wg_gro_add(wg_gro *g, uint8_t *pkt, size_t len);
/* Finalises item i for writing: patches its first packet's headers, fills
 * hdr, and puts hdr and the packet pieces into iov (room for
 * WG_GRO_MAX_SEGMENTS + 1 entries); returns how many. */
size_t wg_gro_finish(wg_gro *g, size_t i, struct virtio_net_hdr *hdr, struct iovec *iov);
static inline void wg_gro_reset(wg_gro *g) {
  g->item_count = g->piece_count = 0;
}

#endif
