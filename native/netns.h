/* Namespace-scoped creation of file descriptors.
 *
 * setns(CLONE_NEWNET) changes the namespace of the calling thread only, and a
 * socket or TUN keeps the namespace it was created in for its whole life. So a
 * descriptor is created "inside" a namespace by entering it, creating the
 * descriptor, and returning to the original namespace, always, even when the
 * creation fails. */
#ifndef ZMESH_NETNS_H
#define ZMESH_NETNS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Saved namespace of the calling thread; fd < 0 means "nothing entered". */
typedef struct zm_netns_guard {
  int saved_fd;
} zm_netns_guard;

/* Enter the network namespace at `path` (e.g. /run/netns/NAME or
 * /proc/PID/ns/net). A NULL or empty path enters nothing. Returns 0, or a
 * negative errno; on failure the thread is still in its original namespace. */
int zm_netns_enter(const char *path, zm_netns_guard *guard);

/* Return to the namespace saved by zm_netns_enter. Aborts the process if that
 * is impossible: continuing in the wrong namespace would create objects where
 * nobody expects them. */
void zm_netns_leave(zm_netns_guard *guard);

/* socket(domain, type, protocol) inside the namespace at `path`.
 * Returns the fd (close-on-exec) or a negative errno. */
int zm_socket_in_netns(const char *path, int domain, int type, int protocol);

/* A UDP socket created inside the namespace at `path` and bound there to
 * `address` (numeric IPv4 for family 4, IPv6 for family 6; the "any"
 * address is 0.0.0.0 / ::) and `port` (0: the kernel picks one). IPv6 sockets
 * are IPV6_V6ONLY so that a v4 and a v6 socket can share a port. The fd is
 * non-blocking and close-on-exec. On success returns the fd and stores the
 * bound port in *bound_port; returns a negative errno on failure (-EINVAL for
 * a bad family or address) with nothing left open. */
int zm_udp_socket_in_netns(const char *path, int family, const char *address, int port, int *bound_port);

/* A listening TCP socket (IPv4) created inside the namespace at `path`, bound
 * to `address`:`port` and to the link `device` (SO_BINDTODEVICE), so that only
 * connections arriving on that link are accepted. Non-blocking, close-on-exec.
 * Returns the fd or a negative errno (-EINVAL for a bad address, port or
 * device name) with nothing left open. */
int zm_tcp_listen_in_netns(const char *path, const char *address, int port, const char *device);

/* ---- Named namespaces (what `ip netns add/del` do) and per-namespace sysctls ---- */

#define ZM_NETNS_RUN_DIR "/run/netns"
/* Longest accepted namespace name (a file name under /run/netns). */
#define ZM_NETNS_NAME_MAX 64
/* Room for "/run/netns/" + name + NUL. */
#define ZM_NETNS_PATH_MAX 96

/* 1 if `name` is an acceptable namespace name: 1..ZM_NETNS_NAME_MAX bytes of
 * [A-Za-z0-9_.-], not "." or "..". */
int zm_netns_name_valid(const char *name);

/* Creates the named namespace like `ip netns add NAME`: makes /run/netns
 * (0755) a shared bind mount of itself as ip(8) does (so the namespace mounts
 * propagate into other mount namespaces), creates /run/netns/NAME (O_EXCL) and
 * bind-mounts a new network namespace onto it. The new namespace is made by
 * unshare(CLONE_NEWNET) in a short-lived thread, so the calling thread never
 * changes namespace. Writes the path into `path_out` (ZM_NETNS_PATH_MAX bytes).
 * Returns 0, -EEXIST if the name is taken, -EINVAL for a bad name, or another
 * negative errno, with nothing left behind on failure. */
int zm_netns_create(const char *name, char *path_out);

/* Deletes the named namespace like `ip netns del NAME`: lazy unmount
 * (MNT_DETACH) and unlink. The namespace itself lives on while a process or
 * fd still holds it. 0, -ENOENT if absent, -EINVAL for a bad name. */
int zm_netns_delete(const char *name);

/* The inode number of the network namespace at `path` (NULL or "": the
 * calling thread's), which identifies the namespace. 0 or a negative errno. */
int zm_netns_inode(const char *path, unsigned long long *inode);

/* Maps a sysctl key ("net.ipv4.ip_forward"; '/' inside a component stands for
 * a literal '.', as in sysctl(8): "net.ipv4.conf.eth0/5.forwarding") to its
 * /proc/sys path. Only net.* keys are accepted, because only they are per
 * network namespace. 0 or -EINVAL. */
int zm_sysctl_path(const char *key, char *out, unsigned long out_len);

/* Writes `value` to the net.* sysctl `key` as seen inside the namespace at
 * `netns_path` (a /proc/sys/net file is bound to the namespace of the thread
 * that opens it, so it is opened inside). 0 or a negative errno (-EINVAL for
 * a refused key). */
int zm_sysctl_write(const char *netns_path, const char *key, const char *value);

/* Reads a net.* sysctl inside the namespace into `buf` (NUL-terminated,
 * trailing newline removed). Returns the length or a negative errno. */
int zm_sysctl_read(const char *netns_path, const char *key, char *buf, unsigned long buf_len);

#ifdef __cplusplus
}
#endif
#endif
