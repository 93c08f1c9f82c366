/* TUN devices opened by name inside a network namespace. */
#ifndef ZMESH_TUN_H
#define ZMESH_TUN_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  ZM_TUN_VNET_HDR = 1 << 0,   /* IFF_VNET_HDR: virtio-net header before each packet (offloads) */
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

/* A socket for the ioctls on a TUN's link, kept while the link is in the
 * caller's own namespace. The link may have been moved since the TUN was
 * opened (an interface created in a "birthplace" namespace and moved
 * elsewhere keeps its fd). */
typedef struct zm_tun_probe {
  int sock_fd;                    /* -1: none */
  unsigned long long netns_inode; /* namespace sock_fd belongs to */
} zm_tun_probe;

#define ZM_TUN_PROBE_INIT \
  { -1, 0 }

/* The current MTU of the link behind tun_fd, wherever it is now (TUNGETIFF
 * names it, TUNGETDEVNETNS finds its namespace). -EBADFD when the link was
 * deleted (the fd is detached), or another negative errno. */
int zm_tun_link_mtu(int tun_fd, zm_tun_probe *probe);
void zm_tun_probe_close(zm_tun_probe *probe);

#ifdef __cplusplus
}
#endif
#endif
