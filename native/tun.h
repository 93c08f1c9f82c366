/* TUN devices opened by name inside a network namespace. */
#ifndef ZMESH_TUN_H
#define ZMESH_TUN_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  ZM_TUN_VNET_HDR = 1 << 0,  /* IFF_VNET_HDR: virtio-net header before each packet (offloads) */
  ZM_TUN_MULTI_QUEUE = 1 << 1 /* IFF_MULTI_QUEUE: several fds on one device */
};

/* Opens (creating if needed) the TUN device `name` in the namespace at
 * `netns_path` (NULL or "" for the caller's). On success returns the fd and
 * writes the kernel's name of the device into `name_out` (IFNAMSIZ bytes).
 * Returns a negative errno on failure. The fd is non-blocking, close-on-exec. */
int zm_tun_open(const char *netns_path, const char *name, int flags, char *name_out);

/* Sets the MTU of link `name` in the namespace at `netns_path` (SIOCSIFMTU).
 * 0 or a negative errno. */
int zm_link_set_mtu(const char *netns_path, const char *name, int mtu);

/* The ifindex of link `name` in the namespace, 0 if there is none, or a
 * negative errno (e.g. the namespace is gone). */
int zm_link_index(const char *netns_path, const char *name);

#ifdef __cplusplus
}
#endif
#endif
