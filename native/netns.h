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
int zm_udp_socket_in_netns(const char *path, int family, const char *address, int port,
                           int *bound_port);

#ifdef __cplusplus
}
#endif
#endif
