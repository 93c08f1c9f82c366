/* Kernel WireGuard over generic netlink and rtnetlink; see wgk_device.h. */
#include "wgk_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>

#include "genl.h"
#include "wgk_message.h"

static void info_reset(wgk_error_info *info, const char *stage) {
  if (!info) return;
  memset(info, 0, sizeof *info);
  info->stage = stage;
}

static void info_stage(wgk_error_info *info, const char *stage) {
  if (info) info->stage = stage;
}

static void info_ext_ack(wgk_error_info *info, const zm_nlsock *s) {
  if (info) memcpy(info->ext_ack, s->ext_ack, sizeof info->ext_ack);
}

/* A generic netlink socket in the namespace with the wireguard family resolved. */
static int open_wireguard(zm_nlsock *s, const char *netns_path, wgk_error_info *info) {
  info_stage(info, "open generic netlink socket");
  int rc = zm_nl_open(s, netns_path, NETLINK_GENERIC);
  if (rc < 0) return rc;
  info_stage(info, "resolve generic netlink family " WG_GENL_NAME);
  rc = zm_genl_family_id(s, WG_GENL_NAME);
  if (rc < 0) {
    info_ext_ack(info, s);
    zm_nl_close(s);
  }
  return rc;
}

int wgk_family_available(const char *netns_path) {
  zm_nlsock s;
  int rc = zm_nl_open(&s, netns_path, NETLINK_GENERIC);
  if (rc < 0) return rc;
  rc = zm_genl_family_id(&s, WG_GENL_NAME);
  zm_nl_close(&s);
  if (rc == -ENOENT) return 0;
  return rc < 0 ? rc : 1;
}

/* Which message (and its peers) a failure belongs to. */
static void info_message(wgk_error_info *info, size_t index, size_t first_peer, size_t end_peer) {
  if (!info) return;
  info->message_index = index;
  info->first_peer = first_peer;
  info->end_peer = end_peer;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One message sent and not yet acknowledged: its sequence number and, for an
 * error, which peers it carried. */
struct in_flight {
  uint32_t seq;
  size_t index, first_peer, end_peer;
};

int wgk_set_device(const char *netns_path, const wgk_device *d, const wgk_set_options *options, wgk_error_info *info,
                   wgk_set_stats *stats) {
  info_reset(info, "");
  wgk_set_stats unused;
  if (!stats) stats = &unused;
  memset(stats, 0, sizeof *stats);
  unsigned window = options && options->window ? options->window : WGK_SET_WINDOW_DEFAULT;
  if (window > WGK_SET_WINDOW_MAX) window = WGK_SET_WINDOW_MAX;
  size_t max_message = options && options->max_message ? options->max_message : WGK_SET_MESSAGE_DEFAULT;
  if (max_message > WGK_SET_MESSAGE_LARGEST) max_message = WGK_SET_MESSAGE_LARGEST;
  if (max_message < WGK_SET_MESSAGE_MIN) max_message = WGK_SET_MESSAGE_MIN;
  zm_nlsock s;
  int family = open_wireguard(&s, netns_path, info);
  if (family < 0) return family;
  uint8_t *buf = malloc(max_message);
  if (!buf) {
    zm_nl_close(&s);
    return -ENOMEM;
  }
  wgk_encoder e;
  wgk_encoder_init(&e, d, (uint16_t)family, max_message);
  struct in_flight flight[WGK_SET_WINDOW_MAX];
  size_t head = 0, count = 0; /* ring of unacknowledged messages, oldest at head */
  int rc = 0, encoded_all = 0;
  info_stage(info, "SET_DEVICE");
  for (size_t index = 1; !encoded_all || count > 0;) {
    /* Collect the oldest ack when the window is full or nothing is left to send. */
    if (count == window || (encoded_all && count > 0)) {
      struct in_flight *f = &flight[head];
      uint64_t t0 = now_ns();
      int ack = zm_nl_wait_ack(&s, f->seq);
      stats->ack_ns += now_ns() - t0;
      head = (head + 1) % WGK_SET_WINDOW_MAX;
      count--;
      if (ack < 0 && rc == 0) {
        rc = ack;
        info_message(info, f->index, f->first_peer, f->end_peer);
        info_ext_ack(info, &s);
        encoded_all = 1; /* send nothing more; still drain what is in flight */
      }
      continue;
    }
    uint64_t t0 = now_ns();
    long len = wgk_encode_next(&e, buf);
    stats->encode_ns += now_ns() - t0;
    if (len == 0) {
      encoded_all = 1;
      continue;
    }
    if (len < 0) {
      rc = (int)len;
      info_message(info, index, e.first_peer, e.end_peer);
      encoded_all = 1;
      continue;
    }
    zm_nlmsg m = {.buf = buf, .len = (size_t)len, .cap = max_message};
    struct in_flight *f = &flight[(head + count) % WGK_SET_WINDOW_MAX];
    t0 = now_ns();
    int sent = zm_nl_send(&s, &m, &f->seq);
    uint64_t took = now_ns() - t0;
    stats->send_ns += took;
    if (took > stats->max_send_ns) stats->max_send_ns = took;
    if (sent < 0) {
      if (rc == 0) {
        rc = sent;
        info_message(info, index, e.first_peer, e.end_peer);
      }
      encoded_all = 1;
      continue;
    }
    f->index = index++;
    f->first_peer = e.first_peer;
    f->end_peer = e.end_peer;
    count++;
    stats->messages++;
    stats->bytes += (size_t)len;
  }
  /* The messages carried the private and preshared keys. */
  explicit_bzero(buf, max_message);
  free(buf);
  zm_nl_close(&s);
  return rc;
}

static int on_device_message(const uint8_t *payload, size_t len, uint16_t type, void *ctx) {
  return wgk_decode_device_message((wgk_device *)ctx, payload, len);
}

int wgk_get_device(const char *netns_path, const char *ifname, wgk_device *out, wgk_error_info *info) {
  info_reset(info, "");
  zm_nlsock s;
  int family = open_wireguard(&s, netns_path, info);
  if (family < 0) return family;
  info_stage(info, "GET_DEVICE");
  uint8_t buf[128];
  long len = wgk_encode_get((uint16_t)family, ifname, buf, sizeof buf);
  if (len < 0) {
    zm_nl_close(&s);
    return (int)len;
  }
  zm_nlmsg m = {.buf = buf, .len = (size_t)len, .cap = sizeof buf};
  int rc = zm_nl_dump(&s, &m, on_device_message, out);
  if (rc < 0) info_ext_ack(info, &s);
  zm_nl_close(&s);
  return rc;
}

/* Opens an rtnetlink socket in netns_path and starts `m` (in buf) as a link request: the
 * ifinfomsg header, then IFLA_IFNAME unless name is NULL. The caller adds attributes, finishes
 * the message and closes `s`; on failure nothing is left open. */
static int link_request(zm_nlsock *s, zm_nlmsg *m, uint8_t *buf, size_t cap, const char *netns_path, uint16_t type,
                        uint16_t flags, const struct ifinfomsg *ifi, const char *name) {
  int rc = zm_nl_open(s, netns_path, NETLINK_ROUTE);
  if (rc < 0) return rc;
  zm_nl_begin(m, buf, cap, type, flags, -1, 0);
  zm_nl_put_raw(m, ifi, sizeof *ifi);
  if (name != NULL) zm_nl_put_str(m, IFLA_IFNAME, name);
  return 0;
}

int wgk_link_create(const char *netns_path, const char *name, const char *move_to_path, int mtu, wgk_error_info *info) {
  info_reset(info, "open rtnetlink socket");
  int target = -1;
  if (move_to_path && move_to_path[0]) {
    info_stage(info, "open target network namespace");
    target = open(move_to_path, O_RDONLY | O_CLOEXEC);
    if (target < 0) return -errno;
  }
  zm_nlsock s;
  uint8_t buf[512];
  zm_nlmsg m;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  int rc = link_request(&s, &m, buf, sizeof buf, netns_path, RTM_NEWLINK,
                        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, name);
  if (rc < 0) {
    if (target >= 0) close(target);
    return rc;
  }
  if (mtu > 0) zm_nl_put_u32(&m, IFLA_MTU, (uint32_t)mtu);
  /* Created through a socket of netns_path, the device's UDP socket stays
   * there even though the link itself is made in the target namespace. */
  if (target >= 0) zm_nl_put_u32(&m, IFLA_NET_NS_FD, (uint32_t)target);
  long linkinfo = zm_nl_nest_start(&m, IFLA_LINKINFO);
  zm_nl_put_str(&m, IFLA_INFO_KIND, "wireguard");
  zm_nl_nest_end(&m, linkinfo);
  zm_nl_finish(&m);
  info_stage(info, "RTM_NEWLINK");
  rc = zm_nl_request(&s, &m);
  if (rc < 0) info_ext_ack(info, &s);
  zm_nl_close(&s);
  if (target >= 0) close(target);
  return rc;
}

int wgk_link_delete(const char *netns_path, const char *name, wgk_error_info *info) {
  info_reset(info, "open rtnetlink socket");
  zm_nlsock s;
  uint8_t buf[128];
  zm_nlmsg m;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  int rc = link_request(&s, &m, buf, sizeof buf, netns_path, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, name);
  if (rc < 0) return rc;
  zm_nl_finish(&m);
  info_stage(info, "RTM_DELLINK");
  rc = zm_nl_request(&s, &m);
  if (rc < 0) info_ext_ack(info, &s);
  zm_nl_close(&s);
  return rc;
}

struct link_list_ctx {
  wgk_name_fn on_name;
  void *ctx;
};

static int on_link(const uint8_t *payload, size_t len, uint16_t type, void *ctx) {
  struct link_list_ctx *l = ctx;
  if (type != RTM_NEWLINK || len < NLMSG_ALIGN(sizeof(struct ifinfomsg))) return 0;
  const uint8_t *pos = payload + NLMSG_ALIGN(sizeof(struct ifinfomsg)), *end = payload + len;
  zm_nlattr_view a;
  char name[IFNAMSIZ] = {0};
  int is_wireguard = 0;
  while (zm_nl_attr_next(&pos, end, &a) == 1) {
    if (a.type == IFLA_IFNAME) {
      size_t n = strnlen((const char *)a.data, a.len);
      if (n < IFNAMSIZ) memcpy(name, a.data, n);
    } else if (a.type == IFLA_LINKINFO) {
      const uint8_t *ipos = a.data, *iend = a.data + a.len;
      zm_nlattr_view i;
      while (zm_nl_attr_next(&ipos, iend, &i) == 1)
        if (i.type == IFLA_INFO_KIND && strncmp((const char *)i.data, "wireguard", i.len) == 0 && i.len >= 9)
          is_wireguard = 1;
    }
  }
  if (is_wireguard && name[0]) l->on_name(name, l->ctx);
  return 0;
}

int wgk_link_list(const char *netns_path, wgk_name_fn on_name, void *ctx, wgk_error_info *info) {
  info_reset(info, "open rtnetlink socket");
  zm_nlsock s;
  uint8_t buf[128];
  zm_nlmsg m;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  int rc = link_request(&s, &m, buf, sizeof buf, netns_path, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, NULL);
  if (rc < 0) return rc;
  zm_nl_finish(&m);
  struct link_list_ctx l = {.on_name = on_name, .ctx = ctx};
  info_stage(info, "RTM_GETLINK");
  rc = zm_nl_dump(&s, &m, on_link, &l);
  zm_nl_close(&s);
  return rc;
}
