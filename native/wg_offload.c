/* TSO/USO splitting and TCP coalescing for a TUN with a virtio-net header;
 * see wg_offload.h. The rules follow what the kernel's segmentation and GRO
 * do (and wireguard-go's tun/offload_linux.go): segments get the original
 * headers with their lengths, IPv4 ids, TCP sequence numbers and flags fixed;
 * only segments whose headers agree byte for byte (bar those fields) and whose
 * checksums verify are coalesced, so nothing the sender's stack would not
 * have produced reaches the receiver's. */
#include "wg_offload.h"
#include "wg_csum.h"

#include <string.h>

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static inline uint16_t get_be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* 32-bit words into eight 64-bit lanes, written so that GCC vectorises it
 * (O3 for this function only: 2x the scalar loop here, 30 ns per 1,408-byte
 * segment; it runs once per segment of every TX super-packet). No carry is
 * lost below 2^32 words per lane; folding later gives the 16-bit ones'
 * complement sum. */
__attribute__((optimize("O3"))) uint64_t wg_csum_portable(const uint8_t *p, size_t len, uint64_t sum) {
  uint64_t lane[8] = {0};
  for (; len >= 32; p += 32, len -= 32) {
    uint32_t w[8];
    memcpy(w, p, 32);
    for (int k = 0; k < 8; ++k) lane[k] += w[k];
  }
  uint64_t a0 = 0;
  for (int k = 0; k < 8; ++k) a0 += (lane[k] & 0xffffffff) + (lane[k] >> 32);
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    a0 += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    a0 += w;
    p += 2;
    len -= 2;
  }
  if (len) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    a0 += (uint32_t)p[0] << 8;
#else
    a0 += p[0];
#endif
  }
  /* Fold before adding, so the sum cannot overflow. */
  a0 = (a0 & 0xffffffff) + (a0 >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return sum + a0;
}

uint64_t wg_csum_partial(const uint8_t *p, size_t len, uint64_t sum) {
  /* Below 64 bytes (headers, pseudo-headers) the portable loop is as quick. */
  if (len < 64 || !wg_csum_avx512_available()) return wg_csum_portable(p, len, sum);
  return (sum & 0xffffffff) + (sum >> 32) + wg_csum_avx512(p, len);
}

/* Copies len bytes from src to dst and returns their sum (one pass with AVX-512). */
static uint64_t copy_csum(uint8_t *dst, const uint8_t *src, size_t len) {
  if (len >= 64 && wg_csum_avx512_available()) return wg_copy_csum_avx512(dst, src, len);
  memcpy(dst, src, len);
  return wg_csum_portable(dst, len, 0);
}

uint16_t wg_csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

uint64_t wg_pseudo_header_sum(const uint8_t *pkt, uint8_t proto, size_t l4_len) {
  if ((pkt[0] >> 4) == 4) {
    uint8_t tail[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
    return wg_csum_partial(tail, 4, wg_csum_partial(pkt + 12, 8, 0));
  }
  uint8_t tail[8] = {
      (uint8_t)(l4_len >> 24), (uint8_t)(l4_len >> 16), (uint8_t)(l4_len >> 8), (uint8_t)l4_len, 0, 0, 0, proto};
  return wg_csum_partial(tail, 8, wg_csum_partial(pkt + 8, 32, 0));
}

static void store_csum(uint8_t *at, uint16_t folded_not_complemented) {
  uint16_t c = (uint16_t)~folded_not_complemented;
  memcpy(at, &c, 2);
}

static void ipv4_header_checksum(uint8_t *pkt, size_t ihl) {
  pkt[10] = pkt[11] = 0;
  store_csum(pkt + 10, wg_csum_fold(wg_csum_partial(pkt, ihl, 0)));
}

/* Where a super-packet's layers are. */
typedef struct layout {
  int family;
  size_t ip_len, l4_len, header_len; /* l4_len: the TCP/UDP header's */
  uint8_t proto;
} layout;

static bool parse_layout(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, layout *l) {
  uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (len < 20) return false;
  l->family = pkt[0] >> 4;
  if (l->family == 4) {
    l->ip_len = (size_t)(pkt[0] & 0x0f) * 4;
    l->proto = pkt[9];
    if (l->ip_len < 20) return false;
  } else if (l->family == 6) {
    l->ip_len = 40;
    l->proto = pkt[6]; /* the kernel's own segments carry no extension headers */
    if (len < 40) return false;
  } else {
    return false;
  }
  if (type == VIRTIO_NET_HDR_GSO_TCPV4 || type == VIRTIO_NET_HDR_GSO_TCPV6) {
    if (l->proto != IPPROTO_TCP_ || (type == VIRTIO_NET_HDR_GSO_TCPV4) != (l->family == 4)) return false;
    if (len < l->ip_len + 20) return false;
    l->l4_len = (size_t)(pkt[l->ip_len + 12] >> 4) * 4;
    if (l->l4_len < 20) return false;
  } else if (type == VIRTIO_NET_HDR_GSO_UDP_L4) {
    if (l->proto != IPPROTO_UDP_) return false;
    l->l4_len = 8;
  } else {
    return false;
  }
  l->header_len = l->ip_len + l->l4_len;
  return l->header_len <= len && h->gso_size > 0;
}

size_t wg_gso_segment_count(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, size_t *largest) {
  *largest = len;
  if ((h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE) return 1;
  layout l;
  if (!parse_layout(h, pkt, len, &l)) return 0;
  size_t payload = len - l.header_len;
  if (payload > h->gso_size) *largest = l.header_len + h->gso_size;
  return payload == 0 ? 1 : (payload + h->gso_size - 1) / h->gso_size;
}

/* A packet that is not a super-packet: complete the checksum the kernel left
 * to us (CHECKSUM_PARTIAL: the field holds the pseudo-header sum). */
static bool finish_checksum(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len) {
  if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return true;
  size_t start = h->csum_start, at = (size_t)h->csum_start + h->csum_offset;
  if (start >= len || at + 2 > len) return false;
  uint16_t c = (uint16_t)~wg_csum_fold(wg_csum_partial(pkt + start, len - start, 0));
  if (c == 0 && h->csum_offset == 6) c = 0xffff; /* UDP: 0 means "no checksum" */
  memcpy(pkt + at, &c, 2);
  return true;
}

size_t wg_gso_split(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len, uint8_t *const *outs, size_t *out_lens,
                    size_t max_out, size_t out_capacity) {
  layout l;
  bool gso = (h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
  if (gso && !parse_layout(h, pkt, len, &l)) return 0;
  if (!gso || len == l.header_len) {
    /* Not a super-packet (or one without payload): its checksum is the only work left. */
    if (max_out < 1 || len > out_capacity || !finish_checksum(h, pkt, len)) return 0;
    memcpy(outs[0], pkt, len);
    out_lens[0] = len;
    return 1;
  }
  size_t payload = len - l.header_len, gso_size = h->gso_size;
  size_t count = (payload + gso_size - 1) / gso_size;
  if (count > max_out || l.header_len + (payload < gso_size ? payload : gso_size) > out_capacity) return 0;
  uint16_t id = l.family == 4 ? get_be16(pkt + 4) : 0;
  uint32_t seq = l.proto == IPPROTO_TCP_ ? get_be32(pkt + l.ip_len + 4) : 0;
  uint8_t flags = l.proto == IPPROTO_TCP_ ? pkt[l.ip_len + 13] : 0;
  size_t off = 0;
  for (size_t i = 0; i < count; ++i, off += gso_size) {
    size_t seg = payload - off < gso_size ? payload - off : gso_size;
    size_t total = l.header_len + seg;
    uint8_t *o = outs[i];
    memcpy(o, pkt, l.header_len);
    /* The payload's sum as it is copied; the L4 header's (an even length) is added below. */
    uint64_t payload_sum = copy_csum(o + l.header_len, pkt + l.header_len + off, seg);
    if (l.family == 4) {
      put_be16(o + 2, (uint16_t)total);
      put_be16(o + 4, (uint16_t)(id + i));
      ipv4_header_checksum(o, l.ip_len);
    } else {
      put_be16(o + 4, (uint16_t)(total - 40));
    }
    uint8_t *l4 = o + l.ip_len;
    size_t l4_total = total - l.ip_len;
    if (l.proto == IPPROTO_TCP_) {
      put_be32(l4 + 4, seq + (uint32_t)off);
      uint8_t f = flags;
      if (i + 1 < count) f &= (uint8_t) ~(TCP_FIN | TCP_PSH); /* only the last segment ends a push */
      if (i > 0) f &= (uint8_t)~TCP_CWR;                      /* only the first signals CWR */
      l4[13] = f;
      l4[16] = l4[17] = 0;
      store_csum(l4 + 16, wg_csum_fold(wg_csum_partial(l4, l.l4_len,
                                                       payload_sum + wg_pseudo_header_sum(o, IPPROTO_TCP_, l4_total))));
    } else {
      put_be16(l4 + 4, (uint16_t)l4_total);
      l4[6] = l4[7] = 0;
      uint16_t c = (uint16_t)~wg_csum_fold(
          wg_csum_partial(l4, l.l4_len, payload_sum + wg_pseudo_header_sum(o, IPPROTO_UDP_, l4_total)));
      if (c == 0) c = 0xffff;
      memcpy(l4 + 6, &c, 2);
    }
    out_lens[i] = total;
  }
  return count;
}

/* ---- coalescing ---- */

/* A TCP segment that may join or start a run: the layout, or false. */
static bool coalescable(const uint8_t *pkt, size_t len, wg_gro_item *it) {
  if (len < 40) return false;
  int family = pkt[0] >> 4;
  size_t ip_len;
  if (family == 4) {
    /* No IP options, not a fragment (MF clear, offset 0). */
    if ((pkt[0] & 0x0f) != 5 || pkt[9] != IPPROTO_TCP_ || (get_be16(pkt + 6) & 0x3fff) != 0) return false;
    ip_len = 20;
  } else if (family == 6) {
    if (len < 60 || pkt[6] != IPPROTO_TCP_) return false;
    ip_len = 40;
  } else {
    return false;
  }
  const uint8_t *tcp = pkt + ip_len;
  size_t tcp_len = (size_t)(tcp[12] >> 4) * 4;
  if (tcp_len < 20 || ip_len + tcp_len >= len) return false; /* no payload: nothing to coalesce */
  uint8_t flags = tcp[13];
  if (!(flags & TCP_ACK) || (flags & (uint8_t) ~(TCP_ACK | TCP_PSH))) return false;
  /* The TCP checksum is not verified: as in the kernel's WireGuard (which
   * marks every decrypted packet CHECKSUM_UNNECESSARY before its GRO), the
   * AEAD has authenticated the packet the peer checksummed. */
  it->family = (uint8_t)family;
  it->ip_len = ip_len;
  it->header_len = ip_len + tcp_len;
  it->psh = (flags & TCP_PSH) != 0;
  return true;
}

static bool same_flow(const wg_gro_item *a, const uint8_t *pkt) {
  const uint8_t *f = a->first;
  if (a->family == 4) return memcmp(f + 12, pkt + 12, 8) == 0 && memcmp(f + 20, pkt + 20, 4) == 0;
  return memcmp(f + 8, pkt + 8, 32) == 0 && memcmp(f + 40, pkt + 40, 4) == 0;
}

/* Headers equal except the fields that differ between segments of one send:
 * IPv4 total length, id and checksum; IPv6 payload length; TCP sequence
 * number, checksum and PSH. */
static bool headers_match(const wg_gro_item *it, const uint8_t *pkt) {
  const uint8_t *f = it->first;
  if (it->family == 4) {
    if (f[1] != pkt[1] || memcmp(f + 6, pkt + 6, 4) != 0) return false; /* tos; flags, ttl, proto */
  } else {
    if (memcmp(f, pkt, 4) != 0 || f[7] != pkt[7]) return false; /* class, flow label; hop limit */
  }
  const uint8_t *a = f + it->ip_len, *b = pkt + it->ip_len;
  size_t tcp_len = it->header_len - it->ip_len;
  return memcmp(a + 8, b + 8, 5) == 0 && (a[13] & ~TCP_PSH) == (b[13] & ~TCP_PSH) && memcmp(a + 14, b + 14, 2) == 0 &&
         memcmp(a + 18, b + 18, tcp_len - 18) == 0;
}

bool wg_gro_add(wg_gro *g, uint8_t *pkt, size_t len) {
  if (g->item_count == g->item_capacity) return false;
  wg_gro_item cand;
  memset(&cand, 0, sizeof cand);
  if (coalescable(pkt, len, &cand)) {
    cand.first = pkt;
    /* The latest run of this flow, looking back over a few items (flows interleave little within a batch). */
    size_t lookback = g->item_count < 8 ? g->item_count : 8;
    for (size_t k = 1; k <= lookback; ++k) {
      wg_gro_item *it = &g->items[g->item_count - k];
      if (it->header_len == 0 || it->family != cand.family || !same_flow(it, pkt)) continue;
      size_t payload = len - cand.header_len;
      uint32_t seq = get_be32(pkt + cand.ip_len + 4);
      if (!it->closed && it->header_len == cand.header_len && seq == it->next_seq && payload <= it->gso_size &&
          it->total_len + payload <= WG_SUPER_PACKET_MAX && it->segments < WG_GRO_MAX_SEGMENTS &&
          g->piece_count < g->piece_capacity && headers_match(it, pkt)) {
        int32_t p = (int32_t)g->piece_count++;
        g->pieces[p].v.iov_base = pkt + cand.header_len;
        g->pieces[p].v.iov_len = payload;
        g->pieces[p].next = -1;
        if (it->piece_tail >= 0) g->pieces[it->piece_tail].next = p;
        else it->piece_head = p;
        it->piece_tail = p;
        it->total_len += payload;
        it->next_seq += (uint32_t)payload;
        it->segments++;
        if (cand.psh) it->psh = true;
        if (payload < it->gso_size || cand.psh) it->closed = true;
        return true;
      }
      it->closed = true; /* this flow continues in a new run, after this one */
      break;
    }
    size_t payload = len - cand.header_len;
    cand.first_len = len;
    cand.total_len = len;
    cand.gso_size = payload;
    cand.next_seq = get_be32(pkt + cand.ip_len + 4) + (uint32_t)payload;
    cand.segments = 1;
    cand.piece_head = cand.piece_tail = -1;
    cand.closed = cand.psh;
    g->items[g->item_count++] = cand;
    return true;
  }
  wg_gro_item *it = &g->items[g->item_count++];
  memset(it, 0, sizeof *it);
  it->first = pkt;
  it->first_len = len;
  it->total_len = len;
  it->segments = 1;
  it->piece_head = it->piece_tail = -1;
  return true;
}

size_t wg_gro_finish(wg_gro *g, size_t i, struct virtio_net_hdr *hdr, struct iovec *iov) {
  wg_gro_item *it = &g->items[i];
  memset(hdr, 0, sizeof *hdr);
  iov[0].iov_base = hdr;
  iov[0].iov_len = sizeof *hdr;
  iov[1].iov_base = it->first;
  iov[1].iov_len = it->first_len;
  if (it->segments == 1) {
    hdr->flags = VIRTIO_NET_HDR_F_DATA_VALID; /* authenticated: see coalescable() */
    return 2;
  }
  uint8_t *f = it->first;
  if (it->family == 4) {
    put_be16(f + 2, (uint16_t)it->total_len);
    ipv4_header_checksum(f, it->ip_len);
  } else {
    put_be16(f + 4, (uint16_t)(it->total_len - 40));
  }
  uint8_t *tcp = f + it->ip_len;
  if (it->psh) tcp[13] |= TCP_PSH;
  /* CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the kernel adds the rest. */
  uint16_t pseudo = wg_csum_fold(wg_pseudo_header_sum(f, IPPROTO_TCP_, it->total_len - it->ip_len));
  memcpy(tcp + 16, &pseudo, 2);
  hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr->gso_type = it->family == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  hdr->hdr_len = (uint16_t)it->header_len;
  hdr->gso_size = (uint16_t)it->gso_size;
  hdr->csum_start = (uint16_t)it->ip_len;
  hdr->csum_offset = 16;
  size_t n = 2;
  for (int32_t p = it->piece_head; p >= 0; p = g->pieces[p].next) iov[n++] = g->pieces[p].v;
  return n;
}
