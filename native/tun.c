#include "tun.h"
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int zm_tun_open(const char *netns_path, const char *name, int flags, char *name_out) {
  if (name == NULL || strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;

  zm_netns_guard guard;
  int rc = zm_netns_enter(netns_path, &guard);
  if (rc < 0) return rc;

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (flags & ZM_TUN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
    if (flags & ZM_TUN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno;
      close(fd);
      fd = -1;
    } else if (name_out != NULL) {
      memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
      name_out[IFNAMSIZ - 1] = '\0';
    }
  }
  zm_netns_leave(&guard);
  return fd < 0 ? -err : fd;
}

/* An ioctl on a throwaway datagram socket created inside the namespace: the
 * interface ioctls act on the namespace the socket belongs to. */
static int ifreq_ioctl(const char *netns_path, unsigned long request, struct ifreq *ifr) {
  int fd = zm_socket_in_netns(netns_path, AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return fd;
  int rc = ioctl(fd, request, ifr) < 0 ? -errno : 0;
  close(fd);
  return rc;
}

int zm_link_set_mtu(const char *netns_path, const char *name, int mtu) {
  if (name == NULL || strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_mtu = mtu;
  return ifreq_ioctl(netns_path, SIOCSIFMTU, &ifr);
}

int zm_link_index(const char *netns_path, const char *name) {
  if (name == NULL || strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  int rc = ifreq_ioctl(netns_path, SIOCGIFINDEX, &ifr);
  if (rc == -ENODEV) return 0;
  return rc < 0 ? rc : ifr.ifr_ifindex;
}

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

int zm_tun_link_mtu(int tun_fd, zm_tun_probe *probe) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(tun_fd, TUNGETIFF, &ifr) < 0) return -errno; /* EBADFD: the link is gone */
  int ns = ioctl(tun_fd, TUNGETDEVNETNS);
  if (ns < 0) return -errno;
  struct stat st;
  int rc = fstat(ns, &st) < 0 ? -errno : 0;
  int sock = -1;
  if (rc == 0 && probe->sock_fd >= 0 && probe->netns_inode == (unsigned long long)st.st_ino) {
    sock = probe->sock_fd;
  } else if (rc == 0) {
    /* A socket pins its namespace: one is kept only for the caller's own namespace (which the
     * process pins anyway); elsewhere it lives for this call, so a namespace deleted with the link
     * in it can die (and with it the link, which the fd then reports). */
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", ns);
    sock = zm_socket_in_netns(path, AF_INET, SOCK_DGRAM, 0);
    if (sock < 0) rc = sock;
    unsigned long long own = 0;
    if (sock >= 0 && probe->sock_fd < 0 && zm_netns_inode(NULL, &own) == 0 && own == (unsigned long long)st.st_ino) {
      probe->sock_fd = sock;
      probe->netns_inode = own;
    }
  }
  close(ns);
  if (rc < 0) return rc;
  rc = ioctl(sock, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
  if (sock != probe->sock_fd) close(sock);
  return rc;
}

void zm_tun_probe_close(zm_tun_probe *probe) {
  if (probe->sock_fd >= 0) close(probe->sock_fd);
  probe->sock_fd = -1;
  probe->netns_inode = 0;
}
