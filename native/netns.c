#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
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
