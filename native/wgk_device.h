/* Kernel WireGuard devices in a network namespace: whether the kernel has
 * the generic netlink family `wireguard`, SET_DEVICE (split over as many
 * acknowledged messages as needed) and GET_DEVICE (a dump, reassembled), and
 * links of kind `wireguard` over rtnetlink (create, possibly straight into
 * another namespace, delete, list). Every netlink socket is created inside
 * the namespace asked for; the calling thread never stays there. */
#ifndef ZMESH_WGK_DEVICE_H
#define ZMESH_WGK_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "wgk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a failed request was doing, for an error message (no secrets). */
typedef struct wgk_error_info {
  const char *stage;    /* "open netlink socket", "resolve family", "SET_DEVICE", ... */
  size_t message_index; /* SET_DEVICE: 1-based message that failed */
  size_t first_peer;    /* ... and the peers it carried: [first_peer, end_peer) */
  size_t end_peer;
  char ext_ack[256]; /* the kernel's extended-ack text, may be empty */
} wgk_error_info;

/* How a SET_DEVICE went, for benchmarks: messages and bytes sent, and the
 * nanoseconds spent in sendmsg() (where the kernel applies each message) and
 * waiting for acks. */
typedef struct wgk_set_stats {
  size_t messages, bytes;
  uint64_t encode_ns, send_ns, ack_ns, max_send_ns;
} wgk_set_stats;

/* How SET_DEVICE messages go out: `window` messages in flight before the
 * oldest ack is read (1..WGK_SET_WINDOW_MAX; 0: the default), each at most
 * `max_message` bytes (512..WGK_SET_MESSAGE_LARGEST; 0: WGK_SET_MESSAGE_DEFAULT). */
typedef struct wgk_set_options {
  unsigned window;
  size_t max_message;
} wgk_set_options;

#define WGK_SET_WINDOW_DEFAULT 1
#define WGK_SET_WINDOW_MAX 64
#define WGK_SET_MESSAGE_MIN 512
/* The family sets no size limit of its own; netlink's is the socket's send
 * buffer (~208 KiB). wg(8) sends at most a page. Each message costs a
 * sendmsg, a vmalloc'ed copy, the rtnl lock and an ack (~0.25 ms under the
 * guest's emulation), so 10,000 peers go in 37 messages of 32 KiB rather than
 * wg(8)'s 322; a message holds rtnl while the kernel applies its ~270 peers
 * (one X25519 each: ~10 ms on real hardware). */
#define WGK_SET_MESSAGE_DEFAULT 32768
#define WGK_SET_MESSAGE_LARGEST 65536

/* 1 when the namespace's kernel resolves the family, 0 when it does not,
 * a negative errno when it could not be asked. */
int wgk_family_available(const char *netns_path);

/* Applies `d` (ifname, the fields it has, flags, peers) to the device in the
 * namespace. Messages each carry NLM_F_ACK; up to the options' window (NULL:
 * the defaults) are sent before the oldest ack is read. On failure the
 * messages before the failed one have been applied, and with a window > 1 up
 * to window - 1 after it may have been too (the caller validates first, so a
 * failure is the kernel's: no such device, out of memory...). `stats` may be
 * NULL. 0 or a negative errno. */
int wgk_set_device(const char *netns_path, const wgk_device *d, const wgk_set_options *options, wgk_error_info *info,
                   wgk_set_stats *stats);

/* Reads the device `ifname` into `out` (zeroed by the caller; free it with
 * wgk_device_free). 0 or a negative errno (-ENODEV: no such device). */
int wgk_get_device(const char *netns_path, const char *ifname, wgk_device *out, wgk_error_info *info);

/* Creates a link of kind wireguard named `name` through a socket in
 * `netns_path` (so its UDP socket lives there), placed in `move_to_path` when
 * given (IFLA_NET_NS_FD) and brought up with `mtu` (0: the kernel's default). */
int wgk_link_create(const char *netns_path, const char *name, const char *move_to_path, int mtu, wgk_error_info *info);

/* Deletes the link `name` in the namespace; -ENODEV when it is absent. */
int wgk_link_delete(const char *netns_path, const char *name, wgk_error_info *info);

/* Calls on_name for every link of kind wireguard in the namespace. */
typedef void (*wgk_name_fn)(const char *name, void *ctx);
int wgk_link_list(const char *netns_path, wgk_name_fn on_name, void *ctx, wgk_error_info *info);

#ifdef __cplusplus
}
#endif
#endif
