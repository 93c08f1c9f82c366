/* SET_DEVICE encoding with fragmentation and GET_DEVICE decoding with
 * reassembly; see wgk_message.h. */
#include "wgk_message.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>

#include "genl.h"

/* ---- wgk_config helpers ---- */

wgk_peer *wgk_device_add_peer(wgk_device *d) {
  if (d->n_peers == d->cap_peers) {
    size_t cap = d->cap_peers ? d->cap_peers * 2 : 16;
    wgk_peer *peers = realloc(d->peers, cap * sizeof *peers);
    if (!peers) return NULL;
    d->peers = peers;
    d->cap_peers = cap;
  }
  wgk_peer *p = &d->peers[d->n_peers++];
  memset(p, 0, sizeof *p);
  return p;
}

wgk_allowedip *wgk_peer_add_allowedip(wgk_peer *p) {
  if (p->n_allowedips == p->cap_allowedips || (p->cap_allowedips == 0 && p->allowedips)) {
    size_t cap = p->n_allowedips ? p->n_allowedips * 2 : 4;
    int pooled = p->cap_allowedips == 0 && p->allowedips; /* see wgk_peer */
    wgk_allowedip *a = pooled ? malloc(cap * sizeof *a) : realloc(p->allowedips, cap * sizeof *a);
    if (!a) return NULL;
    if (pooled) memcpy(a, p->allowedips, p->n_allowedips * sizeof *a);
    p->allowedips = a;
    p->cap_allowedips = cap;
  }
  wgk_allowedip *a = &p->allowedips[p->n_allowedips++];
  memset(a, 0, sizeof *a);
  return a;
}

void wgk_device_free(wgk_device *d) {
  for (size_t i = 0; i < d->n_peers; i++) {
    if (d->peers[i].cap_allowedips) free(d->peers[i].allowedips);
    explicit_bzero(d->peers[i].preshared_key, WGK_KEY_LEN);
  }
  free(d->peers);
  free(d->allowedip_pool);
  d->peers = NULL;
  d->allowedip_pool = NULL;
  d->n_peers = d->cap_peers = 0;
  explicit_bzero(d->private_key, WGK_KEY_LEN);
}

/* ---- Encoding ---- */

void wgk_encoder_init(wgk_encoder *e, const wgk_device *d, uint16_t family_id, size_t max_size) {
  memset(e, 0, sizeof *e);
  e->device = d;
  e->family_id = family_id;
  e->max_size = max_size;
}

static int put_device_attributes(zm_nlmsg *m, const wgk_device *d) {
  if ((d->has & WGK_DEVICE_HAS_PRIVATE_KEY) && zm_nl_put(m, WGDEVICE_A_PRIVATE_KEY, d->private_key, WGK_KEY_LEN) < 0)
    return -EMSGSIZE;
  if ((d->has & WGK_DEVICE_HAS_LISTEN_PORT) && zm_nl_put_u16(m, WGDEVICE_A_LISTEN_PORT, d->listen_port) < 0)
    return -EMSGSIZE;
  if ((d->has & WGK_DEVICE_HAS_FWMARK) && zm_nl_put_u32(m, WGDEVICE_A_FWMARK, d->fwmark) < 0) return -EMSGSIZE;
  if (d->flags && zm_nl_put_u32(m, WGDEVICE_A_FLAGS, d->flags) < 0) return -EMSGSIZE;
  return 0;
}

/* The attributes of a peer's first fragment (after its public key). */
static int put_peer_attributes(zm_nlmsg *m, const wgk_peer *p) {
  if (p->flags && zm_nl_put_u32(m, WGPEER_A_FLAGS, p->flags) < 0) return -EMSGSIZE;
  if ((p->has & WGK_PEER_HAS_PRESHARED_KEY) && zm_nl_put(m, WGPEER_A_PRESHARED_KEY, p->preshared_key, WGK_KEY_LEN) < 0)
    return -EMSGSIZE;
  if (p->has & WGK_PEER_HAS_ENDPOINT) {
    size_t len = p->endpoint.addr.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (zm_nl_put(m, WGPEER_A_ENDPOINT, &p->endpoint, len) < 0) return -EMSGSIZE;
  }
  if ((p->has & WGK_PEER_HAS_KEEPALIVE) &&
      zm_nl_put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->persistent_keepalive) < 0)
    return -EMSGSIZE;
  return 0;
}

static int put_allowedip(zm_nlmsg *m, const wgk_allowedip *a) {
  long nest = zm_nl_nest_start(m, 0);
  if (nest < 0) return -EMSGSIZE;
  if (zm_nl_put_u16(m, WGALLOWEDIP_A_FAMILY, a->family) < 0 ||
      zm_nl_put(m, WGALLOWEDIP_A_IPADDR, a->addr, a->family == AF_INET6 ? 16 : 4) < 0 ||
      zm_nl_put_u8(m, WGALLOWEDIP_A_CIDR_MASK, a->cidr) < 0) {
    zm_nl_nest_cancel(m, nest);
    return -EMSGSIZE;
  }
  zm_nl_nest_end(m, nest);
  return 0;
}

long wgk_encode_next(wgk_encoder *e, uint8_t *buf) {
  const wgk_device *d = e->device;
  if (e->started && e->next_peer >= d->n_peers) return 0;

  zm_nlmsg m;
  zm_nl_begin(&m, buf, e->max_size, e->family_id, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE, WG_GENL_VERSION);
  if (zm_nl_put_str(&m, WGDEVICE_A_IFNAME, d->ifname) < 0) return -EMSGSIZE;
  int progress = 0;
  if (!e->started) {
    if (put_device_attributes(&m, d) < 0) return -EMSGSIZE;
    progress = 1; /* the device attributes alone are worth a message */
  }

  size_t peer_i = e->next_peer, aip_i = e->next_allowedip;
  int continuing = e->next_allowedip > 0 || e->started == 2;
  e->first_peer = peer_i;
  if (peer_i < d->n_peers) {
    long peers_nest = zm_nl_nest_start(&m, WGDEVICE_A_PEERS);
    int peers_in_message = 0;
    int cut = peers_nest < 0;
    for (; !cut && peer_i < d->n_peers; peer_i++, aip_i = 0, continuing = 0) {
      const wgk_peer *p = &d->peers[peer_i];
      long peer_nest = zm_nl_nest_start(&m, 0);
      if (peer_nest < 0 || zm_nl_put(&m, WGPEER_A_PUBLIC_KEY, p->public_key, WGK_KEY_LEN) < 0) {
        if (peer_nest >= 0) zm_nl_nest_cancel(&m, peer_nest);
        cut = 1;
        break;
      }
      if (!continuing) {
        if (put_peer_attributes(&m, p) < 0) {
          zm_nl_nest_cancel(&m, peer_nest);
          cut = 1;
          break;
        }
      } else if ((p->flags & WGPEER_F_UPDATE_ONLY) && zm_nl_put_u32(&m, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY) < 0) {
        /* Kept on a continuation: without it the kernel would create a peer
         * that the first fragment declined to create. */
        zm_nl_nest_cancel(&m, peer_nest);
        cut = 1;
        break;
      }
      size_t added = 0;
      /* A removed peer needs nothing but its key. */
      if (!(p->flags & WGPEER_F_REMOVE_ME) && aip_i < p->n_allowedips) {
        long aips_nest = zm_nl_nest_start(&m, WGPEER_A_ALLOWEDIPS);
        if (aips_nest < 0) {
          cut = 1;
        } else {
          for (; aip_i < p->n_allowedips; aip_i++, added++) {
            if (put_allowedip(&m, &p->allowedips[aip_i]) < 0) {
              cut = 1;
              break;
            }
          }
          if (added) zm_nl_nest_end(&m, aips_nest);
          else zm_nl_nest_cancel(&m, aips_nest);
        }
      }
      if (cut && continuing && added == 0) {
        /* Only the repeated key would go: nothing gained, leave the peer for the next message. */
        zm_nl_nest_cancel(&m, peer_nest);
        break;
      }
      zm_nl_nest_end(&m, peer_nest);
      peers_in_message++;
      progress = 1;
      if (cut) {
        /* The peer goes on in the next message, at allowed IP aip_i. */
        e->next_peer = peer_i;
        e->next_allowedip = aip_i;
        e->started = 2; /* marks "continuing" even when aip_i is 0 */
        e->end_peer = peer_i + 1;
        if (peers_nest >= 0) zm_nl_nest_end(&m, peers_nest);
        zm_nl_finish(&m);
        return (long)m.len;
      }
    }
    if (peers_nest >= 0) {
      if (peers_in_message) zm_nl_nest_end(&m, peers_nest);
      else zm_nl_nest_cancel(&m, peers_nest);
    }
  }
  if (!progress) return -EMSGSIZE;
  /* Stopped before peer_i (or at the end): a peer cut inside its allowed IPs
   * stays "continuing" so that its first attributes are not sent twice. */
  e->next_peer = peer_i;
  e->next_allowedip = continuing ? aip_i : 0;
  e->started = continuing ? 2 : 1;
  e->end_peer = peer_i;
  zm_nl_finish(&m);
  return (long)m.len;
}

long wgk_encode_get(uint16_t family_id, const char *ifname, uint8_t *buf, size_t cap) {
  zm_nlmsg m;
  zm_nl_begin(&m, buf, cap, family_id, NLM_F_REQUEST | NLM_F_DUMP, WG_CMD_GET_DEVICE, WG_GENL_VERSION);
  if (zm_nl_put_str(&m, WGDEVICE_A_IFNAME, ifname) < 0) return -EMSGSIZE;
  zm_nl_finish(&m);
  return (long)m.len;
}

/* ---- Decoding ---- */

static int decode_allowedip(wgk_peer *p, const uint8_t *data, size_t len) {
  wgk_allowedip a = {0};
  int have_family = 0, have_addr = 0, have_cidr = 0;
  const uint8_t *pos = data, *end = data + len;
  zm_nlattr_view v;
  int rc;
  while ((rc = zm_nl_attr_next(&pos, end, &v)) == 1) {
    if (v.type == WGALLOWEDIP_A_FAMILY && v.len == 2) {
      memcpy(&a.family, v.data, 2);
      have_family = 1;
    } else if (v.type == WGALLOWEDIP_A_IPADDR && (v.len == 4 || v.len == 16)) {
      memcpy(a.addr, v.data, v.len);
      have_addr = (int)v.len;
    } else if (v.type == WGALLOWEDIP_A_CIDR_MASK && v.len == 1) {
      a.cidr = v.data[0];
      have_cidr = 1;
    }
  }
  if (rc < 0) return rc;
  if (!have_family || !have_addr || !have_cidr) return -EBADMSG;
  if ((a.family == AF_INET && have_addr != 4) || (a.family == AF_INET6 && have_addr != 16)) return -EBADMSG;
  wgk_allowedip *slot = wgk_peer_add_allowedip(p);
  if (!slot) return -ENOMEM;
  *slot = a;
  return 0;
}

static int decode_peer(wgk_device *d, const uint8_t *data, size_t len) {
  /* Find the key first: a peer equal to the last one is its continuation. */
  const uint8_t *pos = data, *end = data + len;
  zm_nlattr_view v;
  const uint8_t *key = NULL;
  int rc;
  while ((rc = zm_nl_attr_next(&pos, end, &v)) == 1)
    if (v.type == WGPEER_A_PUBLIC_KEY && v.len == WGK_KEY_LEN) key = v.data;
  if (rc < 0) return rc;
  if (!key) return -EBADMSG;
  wgk_peer *p;
  if (d->n_peers > 0 && memcmp(d->peers[d->n_peers - 1].public_key, key, WGK_KEY_LEN) == 0) {
    p = &d->peers[d->n_peers - 1];
  } else {
    p = wgk_device_add_peer(d);
    if (!p) return -ENOMEM;
    memcpy(p->public_key, key, WGK_KEY_LEN);
  }
  pos = data;
  while ((rc = zm_nl_attr_next(&pos, end, &v)) == 1) {
    switch (v.type) {
      case WGPEER_A_PRESHARED_KEY:
        if (v.len != WGK_KEY_LEN) return -EBADMSG;
        memcpy(p->preshared_key, v.data, WGK_KEY_LEN);
        p->has |= WGK_PEER_HAS_PRESHARED_KEY;
        break;
      case WGPEER_A_ENDPOINT:
        if (v.len == sizeof(struct sockaddr_in) || v.len == sizeof(struct sockaddr_in6)) {
          memset(&p->endpoint, 0, sizeof p->endpoint);
          memcpy(&p->endpoint, v.data, v.len);
          p->has |= WGK_PEER_HAS_ENDPOINT;
        }
        break;
      case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
        if (v.len == 2) {
          memcpy(&p->persistent_keepalive, v.data, 2);
          p->has |= WGK_PEER_HAS_KEEPALIVE;
        }
        break;
      case WGPEER_A_LAST_HANDSHAKE_TIME:
        if (v.len == 16) {
          memcpy(&p->last_handshake_sec, v.data, 8);
          memcpy(&p->last_handshake_nsec, v.data + 8, 8);
        }
        break;
      case WGPEER_A_RX_BYTES:
        if (v.len == 8) memcpy(&p->rx_bytes, v.data, 8);
        break;
      case WGPEER_A_TX_BYTES:
        if (v.len == 8) memcpy(&p->tx_bytes, v.data, 8);
        break;
      case WGPEER_A_PROTOCOL_VERSION:
        if (v.len == 4) memcpy(&p->protocol_version, v.data, 4);
        break;
      case WGPEER_A_FLAGS:
        if (v.len == 4) {
          uint32_t f;
          memcpy(&f, v.data, 4);
          p->flags |= f;
        }
        break;
      case WGPEER_A_ALLOWEDIPS: {
        const uint8_t *apos = v.data, *aend = v.data + v.len;
        zm_nlattr_view av;
        int arc;
        while ((arc = zm_nl_attr_next(&apos, aend, &av)) == 1) {
          int r = decode_allowedip(p, av.data, av.len);
          if (r < 0) return r;
        }
        if (arc < 0) return arc;
        break;
      }
      default:
        break;
    }
  }
  return rc < 0 ? rc : 0;
}

int wgk_decode_device_message(wgk_device *d, const uint8_t *payload, size_t len) {
  if (len < GENL_HDRLEN) return -EBADMSG;
  const uint8_t *pos = payload + GENL_HDRLEN, *end = payload + len;
  zm_nlattr_view v;
  int rc;
  while ((rc = zm_nl_attr_next(&pos, end, &v)) == 1) {
    switch (v.type) {
      case WGDEVICE_A_IFINDEX:
        if (v.len == 4) memcpy(&d->ifindex, v.data, 4);
        break;
      case WGDEVICE_A_IFNAME: {
        size_t n = strnlen((const char *)v.data, v.len);
        if (n >= IFNAMSIZ) return -EBADMSG;
        memcpy(d->ifname, v.data, n);
        d->ifname[n] = '\0';
        break;
      }
      case WGDEVICE_A_PRIVATE_KEY:
        if (v.len != WGK_KEY_LEN) return -EBADMSG;
        memcpy(d->private_key, v.data, WGK_KEY_LEN);
        d->has |= WGK_DEVICE_HAS_PRIVATE_KEY;
        break;
      case WGDEVICE_A_PUBLIC_KEY:
        if (v.len != WGK_KEY_LEN) return -EBADMSG;
        memcpy(d->public_key, v.data, WGK_KEY_LEN);
        d->has |= WGK_DEVICE_HAS_PUBLIC_KEY;
        break;
      case WGDEVICE_A_LISTEN_PORT:
        if (v.len == 2) {
          memcpy(&d->listen_port, v.data, 2);
          d->has |= WGK_DEVICE_HAS_LISTEN_PORT;
        }
        break;
      case WGDEVICE_A_FWMARK:
        if (v.len == 4) {
          memcpy(&d->fwmark, v.data, 4);
          d->has |= WGK_DEVICE_HAS_FWMARK;
        }
        break;
      case WGDEVICE_A_FLAGS:
        if (v.len == 4) {
          uint32_t f;
          memcpy(&f, v.data, 4);
          d->flags |= f;
        }
        break;
      case WGDEVICE_A_PEERS: {
        const uint8_t *ppos = v.data, *pend = v.data + v.len;
        zm_nlattr_view pv;
        int prc;
        while ((prc = zm_nl_attr_next(&ppos, pend, &pv)) == 1) {
          int r = decode_peer(d, pv.data, pv.len);
          if (r < 0) return r;
        }
        if (prc < 0) return prc;
        break;
      }
      default:
        break;
    }
  }
  return rc < 0 ? rc : 0;
}
