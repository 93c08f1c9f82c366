/* Netlink plumbing shared by kernel WireGuard (generic netlink) and its link
 * management (rtnetlink); see genl.h. */
#include "genl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "netns.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* Replies of a dump come in skbs of up to 32 KiB (and more on big-page
 * machines); a reply that does not fit would be cut, so read with room. */
#define ZM_NL_RECV_SIZE (64 * 1024)

void zm_nl_begin(zm_nlmsg *m, uint8_t *buf, size_t cap, uint16_t type, uint16_t flags, int genl_cmd,
                 uint8_t genl_version) {
  m->buf = buf;
  m->cap = cap;
  memset(buf, 0, NLMSG_HDRLEN);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  h->nlmsg_type = type;
  h->nlmsg_flags = flags;
  m->len = NLMSG_HDRLEN;
  if (genl_cmd >= 0) {
    struct genlmsghdr g = {.cmd = (uint8_t)genl_cmd, .version = genl_version};
    zm_nl_put_raw(m, &g, sizeof g);
  }
}

int zm_nl_put_raw(zm_nlmsg *m, const void *data, size_t len) {
  size_t total = NLMSG_ALIGN(len);
  if (m->len + total > m->cap) return -EMSGSIZE;
  memcpy(m->buf + m->len, data, len);
  memset(m->buf + m->len + len, 0, total - len);
  m->len += total;
  return 0;
}

int zm_nl_put(zm_nlmsg *m, uint16_t type, const void *data, size_t len) {
  size_t total = NLA_ALIGN(NLA_HDRLEN + len);
  if (NLA_HDRLEN + len > 0xffff || m->len + total > m->cap) return -EMSGSIZE;
  struct nlattr *a = (struct nlattr *)(m->buf + m->len);
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  if (len) memcpy(m->buf + m->len + NLA_HDRLEN, data, len);
  memset(m->buf + m->len + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
  m->len += total;
  return 0;
}

int zm_nl_put_u8(zm_nlmsg *m, uint16_t type, uint8_t v) {
  return zm_nl_put(m, type, &v, sizeof v);
}
int zm_nl_put_u16(zm_nlmsg *m, uint16_t type, uint16_t v) {
  return zm_nl_put(m, type, &v, sizeof v);
}
int zm_nl_put_u32(zm_nlmsg *m, uint16_t type, uint32_t v) {
  return zm_nl_put(m, type, &v, sizeof v);
}
int zm_nl_put_str(zm_nlmsg *m, uint16_t type, const char *s) {
  return zm_nl_put(m, type, s, strlen(s) + 1);
}

long zm_nl_nest_start(zm_nlmsg *m, uint16_t type) {
  long offset = (long)m->len;
  int rc = zm_nl_put(m, type | NLA_F_NESTED, NULL, 0);
  return rc < 0 ? rc : offset;
}

void zm_nl_nest_end(zm_nlmsg *m, long offset) {
  struct nlattr *a = (struct nlattr *)(m->buf + offset);
  a->nla_len = (uint16_t)(m->len - (size_t)offset);
}

void zm_nl_nest_cancel(zm_nlmsg *m, long offset) {
  m->len = (size_t)offset;
}

void zm_nl_finish(zm_nlmsg *m) {
  ((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
}

int zm_nl_attr_next(const uint8_t **pos, const uint8_t *end, zm_nlattr_view *out) {
  const uint8_t *p = *pos;
  if (p >= end) return 0;
  if ((size_t)(end - p) < NLA_HDRLEN) return -EBADMSG;
  const struct nlattr *a = (const struct nlattr *)p;
  if (a->nla_len < NLA_HDRLEN || a->nla_len > (size_t)(end - p)) return -EBADMSG;
  out->type = a->nla_type & NLA_TYPE_MASK;
  out->data = p + NLA_HDRLEN;
  out->len = a->nla_len - NLA_HDRLEN;
  size_t step = NLA_ALIGN(a->nla_len);
  *pos = step > (size_t)(end - p) ? end : p + step;
  return 1;
}

int zm_nl_open(zm_nlsock *s, const char *netns_path, int protocol) {
  memset(s, 0, sizeof *s);
  s->fd = zm_socket_in_netns(netns_path, AF_NETLINK, SOCK_RAW, protocol);
  if (s->fd < 0) return s->fd;
  int one = 1;
  /* Best effort: the kernel's reason text and short acks; older kernels lack them. */
  setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  socklen_t alen = sizeof local;
  if (bind(s->fd, (struct sockaddr *)&local, sizeof local) < 0 ||
      getsockname(s->fd, (struct sockaddr *)&local, &alen) < 0) {
    int err = errno;
    close(s->fd);
    s->fd = -1;
    return -err;
  }
  s->port_id = local.nl_pid;
  s->seq = (uint32_t)getpid() ^ 0x5a5a0000u;
  return 0;
}

void zm_nl_close(zm_nlsock *s) {
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

static int send_message(zm_nlsock *s, zm_nlmsg *m) {
  struct nlmsghdr *h = (struct nlmsghdr *)m->buf;
  h->nlmsg_seq = ++s->seq;
  h->nlmsg_pid = 0;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do {
    n = sendto(s->fd, m->buf, m->len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if ((size_t)n != m->len) return -EIO;
  return 0;
}

/* Keeps the kernel's extended-ack text (NLMSGERR_ATTR_MSG) of an error. */
static void take_ext_ack(zm_nlsock *s, const struct nlmsghdr *h) {
  s->ext_ack[0] = '\0';
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  const struct nlmsgerr *e = (const struct nlmsgerr *)NLMSG_DATA(h);
  size_t skip = sizeof *e;
  /* Without NLM_F_CAPPED the whole request follows the header. */
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) skip += e->msg.nlmsg_len - NLMSG_HDRLEN;
  size_t body = h->nlmsg_len - NLMSG_HDRLEN;
  if (skip > body) return;
  const uint8_t *pos = (const uint8_t *)NLMSG_DATA(h) + skip;
  const uint8_t *end = (const uint8_t *)h + h->nlmsg_len;
  zm_nlattr_view a;
  while (zm_nl_attr_next(&pos, end, &a) == 1) {
    if (a.type == NLMSGERR_ATTR_MSG && a.len > 0) {
      size_t n = strnlen((const char *)a.data, a.len);
      if (n >= sizeof s->ext_ack) n = sizeof s->ext_ack - 1;
      memcpy(s->ext_ack, a.data, n);
      s->ext_ack[n] = '\0';
    }
  }
}

/* Reads replies to sequence number `seq`: data messages go to on_message
 * (when given); returns at the ack (NLMSG_ERROR) or NLMSG_DONE. */
static int receive_replies(zm_nlsock *s, uint32_t seq, zm_nl_message_fn on_message, void *ctx) {
  uint8_t *buf = malloc(ZM_NL_RECV_SIZE);
  if (!buf) return -ENOMEM;
  int result = 0, callback_rc = 0, done = 0;
  while (!done) {
    ssize_t n;
    do {
      n = recv(s->fd, buf, ZM_NL_RECV_SIZE, MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      result = -errno;
      break;
    }
    if (n > ZM_NL_RECV_SIZE) {
      result = -EMSGSIZE;
      break;
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq || h->nlmsg_pid != s->port_id) continue; /* stale reply */
      if (h->nlmsg_type == NLMSG_DONE) {
        /* A dump that failed midway puts its errno in DONE's payload. */
        if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
          int err = *(const int *)NLMSG_DATA(h);
          if (err < 0 && result == 0) result = err;
        }
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
          result = -EBADMSG;
        } else {
          const struct nlmsgerr *e = (const struct nlmsgerr *)NLMSG_DATA(h);
          if (e->error < 0) take_ext_ack(s, h);
          if (result == 0) result = e->error;
        }
        done = 1;
        break;
      }
      if (on_message && callback_rc == 0) {
        callback_rc = on_message((const uint8_t *)NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN, h->nlmsg_type, ctx);
      }
    }
  }
  free(buf);
  if (result == 0 && callback_rc != 0) result = callback_rc;
  return result;
}

int zm_nl_request(zm_nlsock *s, zm_nlmsg *m) {
  s->ext_ack[0] = '\0';
  int rc = send_message(s, m);
  if (rc < 0) return rc;
  return receive_replies(s, s->seq, NULL, NULL);
}

int zm_nl_send(zm_nlsock *s, zm_nlmsg *m, uint32_t *seq) {
  int rc = send_message(s, m);
  if (rc == 0) *seq = s->seq;
  return rc;
}

int zm_nl_wait_ack(zm_nlsock *s, uint32_t seq) {
  s->ext_ack[0] = '\0';
  return receive_replies(s, seq, NULL, NULL);
}

int zm_nl_dump(zm_nlsock *s, zm_nlmsg *m, zm_nl_message_fn on_message, void *ctx) {
  s->ext_ack[0] = '\0';
  int rc = send_message(s, m);
  if (rc < 0) return rc;
  return receive_replies(s, s->seq, on_message, ctx);
}

struct family_lookup {
  int id;
};

static int on_family(const uint8_t *payload, size_t len, uint16_t type, void *ctx) {
  struct family_lookup *f = ctx;
  if (len < GENL_HDRLEN) return 0;
  const uint8_t *pos = payload + GENL_HDRLEN, *end = payload + len;
  zm_nlattr_view a;
  while (zm_nl_attr_next(&pos, end, &a) == 1) {
    if (a.type == CTRL_ATTR_FAMILY_ID && a.len >= 2) {
      uint16_t id;
      memcpy(&id, a.data, sizeof id);
      f->id = id;
    }
  }
  return 0;
}

int zm_genl_family_id(zm_nlsock *s, const char *name) {
  uint8_t buf[256];
  zm_nlmsg m;
  zm_nl_begin(&m, buf, sizeof buf, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
  if (zm_nl_put_str(&m, CTRL_ATTR_FAMILY_NAME, name) < 0) return -ENAMETOOLONG;
  zm_nl_finish(&m);
  struct family_lookup f = {.id = 0};
  s->ext_ack[0] = '\0';
  int rc = send_message(s, &m);
  if (rc < 0) return rc;
  rc = receive_replies(s, s->seq, on_family, &f);
  if (rc < 0) return rc;
  return f.id > 0 ? f.id : -ENOENT;
}
