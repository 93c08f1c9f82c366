#include "tun.h"
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
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
