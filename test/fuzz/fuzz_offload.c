/* The TUN offloads (native/wg_offload.c) on arbitrary virtio-net headers and packets.
 * Mode 0, the TSO/USO splitter (TX): a header and a packet as the kernel could hand them over;
 * the segment count and the split must agree, no segment may exceed the room given, and every
 * segment cut from a super-packet must carry a TCP/UDP checksum that verifies (recomputed from
 * scratch by the portable sum: the split's own is AVX-512 and in parts).
 * Mode 1, the GRO coalescer (RX): a run of decrypted packets, validated as the receive path
 * validates them (inner_packet, is_tcp: wg_receive.c's own functions), coalesced, each
 * super-packet finished and then split again with the header finish wrote: it must give back
 * as many segments and as many payload bytes as went in. */
#include "../../native/wg_receive.c" /* the receive path's validation, not a copy */

#include <stdio.h>

#include "fuzz_input.h"

#define MAX_PACKETS 256
#define OUTS 64

static uint8_t *outs[OUTS];
static size_t out_lens[OUTS];

static void setup(void) {
  if (outs[0]) return;
  for (int i = 0; i < OUTS; ++i) outs[i] = malloc(WG_SUPER_PACKET_MAX);
}

/* The L4 header's end in a packet the split accepted (its layout checked), or 0. */
static size_t header_end(const uint8_t *pkt, size_t len) {
  if (len < 40) return 0;
  bool v4 = (pkt[0] >> 4) == 4;
  size_t ip_len = v4 ? (size_t)(pkt[0] & 0x0f) * 4 : 40;
  uint8_t proto = v4 ? pkt[9] : pkt[6];
  if (ip_len + 20 > len) return 0;
  return ip_len + (proto == IPPROTO_TCP ? (size_t)(pkt[ip_len + 12] >> 4) * 4 : 8);
}

/* A segment cut from a super-packet with payload (the split loop, which checksums it in full). */
static void check_segment_checksum(const uint8_t *o, size_t len) {
  bool v4 = (o[0] >> 4) == 4;
  size_t ip_len = v4 ? (size_t)(o[0] & 0x0f) * 4 : 40;
  uint8_t proto = v4 ? o[9] : o[6];
  size_t l4_total = len - ip_len;
  uint16_t sum = wg_csum_fold(wg_csum_portable(o + ip_len, l4_total, wg_pseudo_header_sum(o, proto, l4_total)));
  if (sum != 0xffff) {
    fprintf(stderr, "offload: segment of %zu bytes (protocol %u) has a bad checksum (sum %04x)\n", len, proto, sum);
    abort();
  }
}

static void split_mode(fuzz_input *in) {
  struct virtio_net_hdr h;
  size_t got;
  memset(&h, 0, sizeof h);
  memcpy(&h, fuzz_bytes(in, sizeof h, &got), got);
  size_t capacity = 576 + fuzz_u16(in) % (WG_SUPER_PACKET_MAX - 576 + 1);
  const uint8_t *bytes = fuzz_bytes(in, WG_SUPER_PACKET_MAX, &got);
  uint8_t *pkt = malloc(got ? got : 1); /* exactly its length: ASan sees any read beyond */
  memcpy(pkt, bytes, got);
  size_t largest;
  size_t count = wg_gso_segment_count(&h, pkt, got, &largest);
  size_t n = wg_gso_split(&h, pkt, got, outs, out_lens, OUTS, capacity);
  if (n > 0 && count != n) {
    fprintf(stderr, "offload: segment count %zu, split gave %zu\n", count, n);
    abort();
  }
  for (size_t i = 0; i < n; ++i)
    if (out_lens[i] > capacity || out_lens[i] > largest) {
      fprintf(stderr, "offload: segment %zu of %zu bytes (room %zu, largest %zu)\n", i, out_lens[i], capacity, largest);
      abort();
    }
  /* Only a super-packet with payload is split (one without is only finished, as the header says). */
  size_t end = header_end(bytes, got);
  if ((h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE && end > 0 && got > end)
    for (size_t i = 0; i < n; ++i) check_segment_checksum(outs[i], out_lens[i]);
  free(pkt);
}

static void gro_mode(fuzz_input *in) {
  static wg_gro_item items[MAX_PACKETS];
  static wg_gro_piece pieces[MAX_PACKETS];
  uint8_t *packets[MAX_PACKETS];
  size_t count = 0;
  wg_gro g = {items, 0, 1 + fuzz_u8(in) % MAX_PACKETS, pieces, 0, 1 + fuzz_u8(in) % MAX_PACKETS};
  size_t in_payload = 0; /* payload bytes of the TCP packets handed to the coalescer */
  while (fuzz_left(in) > 0 && count < MAX_PACKETS) {
    size_t got;
    const uint8_t *bytes = fuzz_bytes(in, fuzz_u16(in) % 2048, &got);
    uint8_t *pkt = malloc(got ? got : 1);
    memcpy(pkt, bytes, got);
    packets[count++] = pkt;
    int family;
    const uint8_t *src;
    size_t len = inner_packet(pkt, got, &family, &src);
    if (len == 0 || !is_tcp(pkt)) continue;
    if (!wg_gro_add(&g, pkt, len)) break; /* pools full: the receive path writes out here */
  }
  static uint8_t super[WG_SUPER_PACKET_MAX + 64];
  for (size_t i = 0; i < g.item_count; ++i) {
    struct iovec iov[WG_GRO_MAX_SEGMENTS + 1];
    struct virtio_net_hdr hdr;
    uint16_t segments = g.items[i].segments;
    size_t header_len = g.items[i].header_len, expected_total = g.items[i].total_len;
    size_t n = wg_gro_finish(&g, i, &hdr, iov);
    if (n < 2 || n > WG_GRO_MAX_SEGMENTS + 1) abort();
    size_t total = 0;
    for (size_t k = 1; k < n; ++k) {
      if (total + iov[k].iov_len > WG_SUPER_PACKET_MAX) {
        fprintf(stderr, "gro: super-packet beyond %d bytes\n", WG_SUPER_PACKET_MAX);
        abort();
      }
      memcpy(super + total, iov[k].iov_base, iov[k].iov_len);
      total += iov[k].iov_len;
    }
    if (segments <= 1) continue;
    if (total != expected_total) {
      fprintf(stderr, "gro: item of %zu bytes written as %zu\n", expected_total, total);
      abort();
    }
    size_t back = wg_gso_split(&hdr, super, total, outs, out_lens, OUTS, WG_SUPER_PACKET_MAX);
    size_t payload = 0;
    for (size_t k = 0; k < back; ++k) payload += out_lens[k] - header_len;
    if (back != segments || payload != total - header_len) {
      fprintf(stderr, "gro: %u segments of %zu payload bytes split back into %zu of %zu\n", segments,
              total - header_len, back, payload);
      abort();
    }
    in_payload += payload;
  }
  (void)in_payload;
  for (size_t i = 0; i < count; ++i) free(packets[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  setup();
  fuzz_input in = {data, len, 0};
  if (fuzz_u8(&in) & 1) gro_mode(&in);
  else split_mode(&in);
  return 0;
}
