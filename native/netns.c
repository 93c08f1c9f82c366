#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int zm_netns_enter(const char *path, zm_netns_guard *guard) {
  guard->saved_fd = -1;
  if (path == NULL || path[0] == '\0') return 0;

  int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) return -errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(saved);
    return -err;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(target);
    close(saved);
    return -err;
  }
  close(target);
  guard->saved_fd = saved;
  return 0;
}

void zm_netns_leave(zm_netns_guard *guard) {
  if (guard->saved_fd < 0) return;
  if (setns(guard->saved_fd, CLONE_NEWNET) < 0) {
    fprintf(stderr, "zmesh native: cannot return to the original network namespace (errno %d); aborting\n", errno);
    abort();
  }
  close(guard->saved_fd);
  guard->saved_fd = -1;
}

int zm_socket_in_netns(const char *path, int domain, int type, int protocol) {
  zm_netns_guard guard;
  int rc = zm_netns_enter(path, &guard);
  if (rc < 0) return rc;
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  int err = fd < 0 ? errno : 0;
  zm_netns_leave(&guard);
  return fd < 0 ? -err : fd;
}

int zm_udp_socket_in_netns(const char *path, int family, const char *address, int port,
                           int *bound_port) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  if (port < 0 || port > 65535 || address == NULL) return -EINVAL;
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &sin->sin_addr) != 1) return -EINVAL;
    len = sizeof *sin;
  } else if (family == 6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1) return -EINVAL;
    len = sizeof *sin6;
  } else {
    return -EINVAL;
  }

  /* Only socket() needs the namespace; binding and the options work on the
   * fd from anywhere, so the namespace is left as early as possible. */
  int fd = zm_socket_in_netns(path, ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP);
  if (fd < 0) return fd;

  int err = 0;
  if (family == 6) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) err = errno;
  }
  if (err == 0 && bind(fd, (struct sockaddr *)&ss, len) < 0) err = errno;
  if (err == 0) {
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    if (getsockname(fd, (struct sockaddr *)&got, &got_len) < 0) {
      err = errno;
    } else if (bound_port != NULL) {
      *bound_port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)&got)->sin_port);
    }
  }
  if (err != 0) {
    close(fd);
    return -err;
  }
  return fd;
}
