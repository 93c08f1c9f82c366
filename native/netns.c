#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

int zm_udp_socket_in_netns(const char *path, int family, const char *address, int port, int *bound_port) {
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

int zm_tcp_listen_in_netns(const char *path, const char *address, int port, const char *device) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  if (port <= 0 || port > 65535 || address == NULL || device == NULL) return -EINVAL;
  size_t device_len = strlen(device);
  if (device_len == 0 || device_len >= IFNAMSIZ) return -EINVAL;
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return -EINVAL;

  int fd = zm_socket_in_netns(path, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
  if (fd < 0) return fd;
  int one = 1;
  int err = 0;
  /* Bound to the device: a connection to the address that arrives on another
   * link (a workload's bridge) is never accepted. FREEBIND: the address may be
   * (re)added after the socket exists, as an NR's apply does. */
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)device_len) < 0) err = errno;
  if (err == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) err = errno;
  if (err == 0 && setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) < 0) err = errno;
  if (err == 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) err = errno;
  if (err == 0 && listen(fd, 16) < 0) err = errno;
  if (err != 0) {
    close(fd);
    return -err;
  }
  return fd;
}

/* ---- Named namespaces and per-namespace sysctls ---- */

int zm_netns_name_valid(const char *name) {
  if (name == NULL) return 0;
  size_t n = strlen(name);
  if (n == 0 || n > ZM_NETNS_NAME_MAX) return 0;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return 0;
  }
  return 1;
}

/* What ip(8) does before its first namespace: /run/netns must be a shared
 * mount so that a namespace bind-mounted later shows up in every mount
 * namespace that has a copy of it. If it is not a mount point yet (EINVAL),
 * make it one by bind-mounting it onto itself, then mark it shared. */
static int ensure_run_dir(void) {
  if (mkdir(ZM_NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST) return -errno;
  int made_mount = 0;
  while (mount("", ZM_NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
    if (errno != EINVAL || made_mount) return -errno;
    if (mount(ZM_NETNS_RUN_DIR, ZM_NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0) return -errno;
    made_mount = 1;
  }
  return 0;
}

struct netns_create_job {
  const char *path;
  int err; /* positive errno or 0 */
};

/* Runs on its own thread: the thread leaves its namespace for a new one and
 * dies, and only the bind mount keeps the new namespace alive. */
static void *netns_create_thread(void *arg) {
  struct netns_create_job *job = arg;
  job->err = 0;
  if (unshare(CLONE_NEWNET) < 0) {
    job->err = errno;
    return NULL;
  }
  if (mount("/proc/thread-self/ns/net", job->path, "none", MS_BIND, NULL) < 0) job->err = errno;
  return NULL;
}

int zm_netns_create(const char *name, char *path_out) {
  if (!zm_netns_name_valid(name)) return -EINVAL;
  snprintf(path_out, ZM_NETNS_PATH_MAX, "%s/%s", ZM_NETNS_RUN_DIR, name);
  int rc = ensure_run_dir();
  if (rc < 0) return rc;
  int fd = open(path_out, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return -errno;
  close(fd);

  struct netns_create_job job = {path_out, 0};
  pthread_t thread;
  int perr = pthread_create(&thread, NULL, netns_create_thread, &job);
  if (perr == 0) perr = pthread_join(thread, NULL);
  int err = perr != 0 ? perr : job.err;
  if (err != 0) {
    unlink(path_out);
    return -err;
  }
  return 0;
}

int zm_netns_delete(const char *name) {
  if (!zm_netns_name_valid(name)) return -EINVAL;
  char path[ZM_NETNS_PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", ZM_NETNS_RUN_DIR, name);
  struct stat st;
  if (lstat(path, &st) < 0) return -errno;
  /* Like ip(8), an unmount failure (EINVAL: a leftover file that is not a
   * mount) is not an error: the unlink below decides. */
  umount2(path, MNT_DETACH);
  if (unlink(path) < 0) return -errno;
  return 0;
}

int zm_netns_inode(const char *path, unsigned long long *inode) {
  struct stat st;
  const char *p = (path == NULL || path[0] == '\0') ? "/proc/thread-self/ns/net" : path;
  if (stat(p, &st) < 0) return -errno;
  *inode = (unsigned long long)st.st_ino;
  return 0;
}

int zm_sysctl_path(const char *key, char *out, unsigned long out_len) {
  static const char prefix[] = "/proc/sys/";
  if (key == NULL || strncmp(key, "net.", 4) != 0) return -EINVAL;
  size_t n = strlen(key);
  if (n + sizeof prefix > out_len) return -EINVAL;
  size_t o = 0;
  memcpy(out, prefix, sizeof prefix - 1);
  o = sizeof prefix - 1;
  size_t component_start = o;
  for (size_t i = 0; i <= n; i++) {
    char c = key[i];
    if (c == '.' || c == '\0') {
      size_t len = o - component_start;
      /* Empty components, "." and ".." could walk out of /proc/sys/net. */
      if (len == 0) return -EINVAL;
      if ((len == 1 && out[component_start] == '.') ||
          (len == 2 && out[component_start] == '.' && out[component_start + 1] == '.'))
        return -EINVAL;
      out[o++] = c == '.' ? '/' : '\0';
      component_start = o;
      continue;
    }
    int ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '/';
    if (!ok) return -EINVAL;
    out[o++] = c == '/' ? '.' : c;
  }
  return 0;
}

/* Runs io(fd) on the sysctl file of `key`, opened with `flags` inside the namespace and used
 * there (a /proc/sys/net file belongs to the namespace it is opened in). Returns io's errno
 * negated, or 0. */
typedef int (*sysctl_io_fn)(int fd, void *ctx);

static int sysctl_io(const char *netns_path, const char *key, int flags, sysctl_io_fn io, void *ctx) {
  char path[256];
  int rc = zm_sysctl_path(key, path, sizeof path);
  if (rc < 0) return rc;
  zm_netns_guard guard;
  rc = zm_netns_enter(netns_path, &guard);
  if (rc < 0) return rc;
  int err = 0;
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
  } else {
    err = io(fd, ctx);
    close(fd);
  }
  zm_netns_leave(&guard);
  return -err;
}

static int write_value(int fd, void *ctx) {
  const char *value = ctx;
  size_t len = strlen(value);
  ssize_t w = write(fd, value, len);
  if (w < 0) return errno;
  if ((size_t)w != len) return EIO;
  return 0;
}

int zm_sysctl_write(const char *netns_path, const char *key, const char *value) {
  return sysctl_io(netns_path, key, O_WRONLY, write_value, (void *)value);
}

struct read_buffer {
  char *buf;
  size_t cap;
  size_t got;
};

static int read_value(int fd, void *ctx) {
  struct read_buffer *b = ctx;
  for (;;) {
    ssize_t r = read(fd, b->buf + b->got, b->cap - 1 - b->got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return 0;
    b->got += (size_t)r;
    if (b->got == b->cap - 1) return EOVERFLOW;
  }
}

int zm_sysctl_read(const char *netns_path, const char *key, char *buf, unsigned long buf_len) {
  if (buf_len < 2) return -EINVAL;
  struct read_buffer b = {.buf = buf, .cap = buf_len, .got = 0};
  int rc = sysctl_io(netns_path, key, O_RDONLY, read_value, &b);
  if (rc < 0) return rc;
  size_t got = b.got;
  while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ')) got--;
  buf[got] = '\0';
  return (int)got;
}
