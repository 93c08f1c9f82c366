/* A small netlink client for generic netlink and rtnetlink: a message
 * builder with a hard size limit (so a caller can split a large request where
 * an attribute no longer fits), a socket created in a given network namespace,
 * request/acknowledge with sequence numbers and the errno of NLMSG_ERROR
 * (plus the kernel's extended-ack text when it gives one), dumps, and the
 * resolution of a generic netlink family id by name through nlctrl. */
#ifndef ZMESH_GENL_H
#define ZMESH_GENL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Message builder ---- */

typedef struct zm_nlmsg {
  uint8_t *buf;
  size_t len; /* bytes used (the nlmsghdr's nlmsg_len once finished) */
  size_t cap; /* never grown beyond: an attribute that does not fit fails */
} zm_nlmsg;

/* Starts a message in `buf` of `cap` bytes: nlmsghdr(type, flags) and, when
 * genl_cmd >= 0, a genlmsghdr(cmd, version); when genl_cmd < 0 the caller
 * appends its own fixed header with zm_nl_put_raw. */
void zm_nl_begin(zm_nlmsg *m, uint8_t *buf, size_t cap, uint16_t type, uint16_t flags, int genl_cmd,
                 uint8_t genl_version);
/* Appends raw bytes (a fixed header such as ifinfomsg), aligned. 0 or -EMSGSIZE. */
int zm_nl_put_raw(zm_nlmsg *m, const void *data, size_t len);
/* Appends an attribute; 0, or -EMSGSIZE with the message unchanged. */
int zm_nl_put(zm_nlmsg *m, uint16_t type, const void *data, size_t len);
int zm_nl_put_u8(zm_nlmsg *m, uint16_t type, uint8_t v);
int zm_nl_put_u16(zm_nlmsg *m, uint16_t type, uint16_t v);
int zm_nl_put_u32(zm_nlmsg *m, uint16_t type, uint32_t v);
int zm_nl_put_str(zm_nlmsg *m, uint16_t type, const char *s);
/* Opens a nested attribute (NLA_F_NESTED set). Returns its offset (> 0) or
 * -EMSGSIZE; close it with zm_nl_nest_end or drop it with zm_nl_nest_cancel. */
long zm_nl_nest_start(zm_nlmsg *m, uint16_t type);
void zm_nl_nest_end(zm_nlmsg *m, long offset);
void zm_nl_nest_cancel(zm_nlmsg *m, long offset);
/* Writes the final length into the header. */
void zm_nl_finish(zm_nlmsg *m);

/* ---- Attribute walking (for parsing replies) ---- */

typedef struct zm_nlattr_view {
  uint16_t type; /* without NLA_F_NESTED / NLA_F_NET_BYTEORDER */
  const uint8_t *data;
  size_t len;
} zm_nlattr_view;

/* Iterates attributes in [*pos, end): returns 1 and fills `out`, 0 at the
 * end, -EBADMSG on a malformed attribute. */
int zm_nl_attr_next(const uint8_t **pos, const uint8_t *end, zm_nlattr_view *out);

/* ---- Socket ---- */

typedef struct zm_nlsock {
  int fd;
  uint32_t seq;
  uint32_t port_id;
  /* The kernel's extended-ack message for the last error, if any. */
  char ext_ack[256];
} zm_nlsock;

/* A NETLINK_GENERIC or NETLINK_ROUTE socket created in the namespace at
 * `netns_path` (NULL/"": the calling thread's). 0 or a negative errno. */
int zm_nl_open(zm_nlsock *s, const char *netns_path, int protocol);
void zm_nl_close(zm_nlsock *s);

/* Sends one finished request (its sequence number is set here; the request
 * must carry NLM_F_ACK) and waits for its acknowledgement. 0 or the negative
 * errno of NLMSG_ERROR (s->ext_ack then holds the kernel's text, if any). */
int zm_nl_request(zm_nlsock *s, zm_nlmsg *m);

/* The two halves of zm_nl_request, for several requests in flight: the kernel
 * handles a netlink request inside the sending sendmsg() and queues its ack in
 * order, so a caller may send a window of requests and then collect their acks
 * oldest first. zm_nl_send stores the request's sequence number in *seq. */
int zm_nl_send(zm_nlsock *s, zm_nlmsg *m, uint32_t *seq);
/* Waits for the ack of `seq` (skipping replies to other sequence numbers).
 * 0 or the negative errno of NLMSG_ERROR (s->ext_ack then holds the text). */
int zm_nl_wait_ack(zm_nlsock *s, uint32_t seq);

/* Sends a finished NLM_F_DUMP request and calls `on_message` for every reply
 * message until NLMSG_DONE. A non-zero return of the callback stops the dump
 * (the rest is drained) and is returned. 0 or a negative errno. */
typedef int (*zm_nl_message_fn)(const uint8_t *payload, size_t len, uint16_t type, void *ctx);
int zm_nl_dump(zm_nlsock *s, zm_nlmsg *m, zm_nl_message_fn on_message, void *ctx);

/* Resolves a generic netlink family by name (CTRL_CMD_GETFAMILY) to its id.
 * Returns the id (> 0), -ENOENT when the kernel has no such family, or
 * another negative errno. */
int zm_genl_family_id(zm_nlsock *s, const char *name);

#ifdef __cplusplus
}
#endif
#endif
