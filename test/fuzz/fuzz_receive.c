/* The receive path (native/wg_receive.c, included: its static functions are the ones called)
 * on arbitrary batches of datagrams, against a device this harness made with two peers and
 * three keypairs of known keys:
 *   peer 1: allowed 10.0.1.0/24, fd00:1::/64; current keypair (index 11, initiator) and a
 *           responder's next keypair (index 12, promoted by its first data);
 *   peer 2: allowed 10.0.2.0/24;  current keypair (index 21).
 * Each input is a batch (process_batch, as the RX thread calls it): per message a kind byte
 *   raw:    bytes as received (type dispatch, handshake size/type filters, unknown index,
 *           failed authentication), optionally with a UDP GRO segment size (several datagrams
 *           in one message) and an IP_PKTINFO local address;
 *   sealed: a keypair, a counter and a plaintext, encrypted here with that keypair's key, so
 *           decryption succeeds and the counter/replay window, the inner-packet validation and
 *           the allowed-IPs source check see what the fuzzer chose.
 * What reaches the TUN (a socket pair here) is read back: each packet must be IPv4/IPv6 with
 * a source inside the allowed IPs of a peer. The device's threads never run: after creation
 * they are stopped and the harness drives the batch itself; there is no UDP socket, so
 * nothing leaves this process. */
#include "../../native/wg_receive.c"

#include <stdio.h>
#include <sys/socket.h>

#include "fuzz_input.h"

static wg_device *dev;
static rx_batch *batch;
static int tun_reader; /* the other end of the device's "TUN" */

static const struct {
  uint32_t peer, index;
  bool initiator;
} KEYPAIRS[] = {{1, 11, true}, {1, 12, false}, {2, 21, true}};
#define KEYPAIR_COUNT (sizeof KEYPAIRS / sizeof KEYPAIRS[0])

static void key_of(uint32_t index, uint8_t key[32]) {
  memset(key, (int)index, 32);
  key[0] = 0x5a;
}

static wg_cidr cidr4(uint8_t a, uint8_t b, uint8_t c, uint8_t prefix) {
  wg_cidr x = {4, prefix, {a, b, c, 0}};
  return x;
}

/* Peers and keypairs afresh: replay windows, slots and counters as after a handshake. */
static void reset_peers(void) {
  wg_device_remove_peer(dev, 1);
  wg_device_remove_peer(dev, 2);
  wg_cidr p1[2] = {cidr4(10, 0, 1, 24), {6, 64, {0xfd, 0, 0, 1}}};
  wg_cidr p2[1] = {cidr4(10, 0, 2, 24)};
  wg_sockaddr ep;
  memset(&ep, 0, sizeof ep);
  ep.in4.sin_family = AF_INET;
  ep.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ep.in4.sin_port = htons(9);
  if (wg_device_set_peer(dev, 1, &ep, NULL, p1, 2) != 0 || wg_device_set_peer(dev, 2, &ep, NULL, p2, 1) != 0) abort();
  for (size_t i = 0; i < KEYPAIR_COUNT; ++i) {
    uint8_t key[32];
    key_of(KEYPAIRS[i].index, key);
    if (wg_device_install_keypair(dev, KEYPAIRS[i].peer, KEYPAIRS[i].index, 1000 + KEYPAIRS[i].index, key, key,
                                  KEYPAIRS[i].initiator) != 0)
      abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0) abort();
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* never bound: receives nothing */
  int spare_tun = dup(pair[0]);
  wg_device_config cfg = {.tun_fd = spare_tun, .udp4_fd = udp, .udp6_fd = -1, .mtu = 1420};
  if (wg_device_create(&cfg, &dev) != 0) abort();
  wg_device_stop(dev); /* threads joined, their fds closed: the harness is the RX thread now */
  dev->tun_fd = pair[0];
  int size = 4 << 20;
  setsockopt(pair[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  setsockopt(pair[1], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  tun_reader = pair[1];
  batch = calloc(1, sizeof *batch);
  batch->memory = malloc((size_t)WG_BATCH * WG_MAX_MESSAGE_SIZE);
  batch->aead = wg_aead_new();
  batch->gro.items = malloc(WG_RX_PACKETS * sizeof *batch->gro.items);
  batch->gro.pieces = malloc(WG_RX_PACKETS * sizeof *batch->gro.pieces);
  batch->gro.item_capacity = batch->gro.piece_capacity = WG_RX_PACKETS;
  if (!batch->memory || !batch->aead || !batch->gro.items || !batch->gro.pieces) abort();
  for (int i = 0; i < WG_BATCH; ++i) {
    batch->iov[i].iov_base = batch->memory + (size_t)i * WG_MAX_MESSAGE_SIZE;
    batch->iov[i].iov_len = WG_MAX_MESSAGE_SIZE;
  }
  return 0;
}

static void put_cmsg_gro(struct msghdr *m, int size) {
  m->msg_controllen = sizeof batch->ctrl[0].buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(m);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_GRO;
  c->cmsg_len = CMSG_LEN(sizeof size);
  memcpy(CMSG_DATA(c), &size, sizeof size);
  m->msg_controllen = CMSG_SPACE(sizeof size);
}

/* One message of the batch from the input: its length. */
static size_t message(fuzz_input *in, int i) {
  uint8_t *buf = batch->memory + (size_t)i * WG_MAX_MESSAGE_SIZE;
  struct msghdr *m = &batch->msgs[i].msg_hdr;
  memset(m, 0, sizeof *m);
  m->msg_control = batch->ctrl[i].buf;
  m->msg_controllen = 0;
  memset(&batch->from[i], 0, sizeof batch->from[i]);
  batch->from[i].in4.sin_family = AF_INET;
  batch->from[i].in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  batch->from[i].in4.sin_port = htons(40000 + (i & 7));
  uint8_t kind = fuzz_u8(in);
  size_t len = fuzz_u16(in);
  if (kind & 1) { /* sealed */
    uint8_t which = fuzz_u8(in);
    uint32_t index = which < 3 * 80 ? KEYPAIRS[which % KEYPAIR_COUNT].index : which; /* mostly known */
    uint64_t counter = fuzz_u64(in);
    if (kind & 2) counter &= 0x3f; /* small counters: replays and reordering within the window */
    size_t got;
    size_t room = WG_MAX_MESSAGE_SIZE - WG_KEEPALIVE_SIZE;
    const uint8_t *plain = fuzz_bytes(in, len < room ? len : room, &got);
    uint8_t *payload = buf + WG_TRANSPORT_HEADER_SIZE;
    memcpy(payload, plain, got);
    uint8_t key[32];
    key_of(index, key);
    wg_aead_seal(batch->aead, key, counter, payload, got, payload + got);
    uint32_t type = WG_MSG_TRANSPORT;
    memcpy(buf, &type, 4);
    memcpy(buf + 4, &index, 4);
    memcpy(buf + 8, &counter, 8);
    return WG_KEEPALIVE_SIZE + got;
  }
  size_t got;
  const uint8_t *bytes = fuzz_bytes(in, len, &got);
  memcpy(buf, bytes, got);
  if (kind & 2) put_cmsg_gro(m, (int)(int16_t)fuzz_u16(in)); /* any size, negative ones too */
  if (kind & 4) m->msg_flags = MSG_TRUNC;
  return got;
}

/* Everything the device wrote to its TUN is an IP packet from an allowed source. */
static void check_tun(void) {
  static uint8_t pkt[WG_VNET_HDR_LEN + WG_SUPER_PACKET_MAX];
  for (;;) {
    ssize_t n = recv(tun_reader, pkt, sizeof pkt, MSG_DONTWAIT);
    if (n < 0) return;
    size_t off = dev->tun_vnet_hdr ? WG_VNET_HDR_LEN : 0;
    if ((size_t)n < off + 20) abort();
    const uint8_t *ip = pkt + off;
    bool ok = (ip[0] >> 4 == 4 && ip[12] == 10 && ip[13] == 0 && (ip[14] == 1 || ip[14] == 2)) ||
              (ip[0] >> 4 == 6 && (size_t)n >= off + 40 && ip[8] == 0xfd && ip[9] == 0 && ip[10] == 0 &&
               ip[11] == 1 && memcmp(ip + 12, "\0\0\0\0", 4) == 0);
    if (!ok) {
      fprintf(stderr, "receive: a packet from a source no peer is allowed reached the TUN\n");
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  fuzz_input in = {data, len, 0};
  reset_peers();
  dev->tun_vnet_hdr = fuzz_u8(&in) & 1;
  int count = 0;
  while (fuzz_left(&in) > 0 && count < WG_BATCH) {
    size_t n = message(&in, count);
    batch->msgs[count].msg_len = (unsigned)n;
    ++count;
  }
  process_batch(dev, batch, count);
  check_tun();
  wg_event events[64];
  while (wg_device_drain_events(dev, events, 64) > 0) {
  }
  return 0;
}
