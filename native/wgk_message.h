/* Encoding of SET_DEVICE requests and decoding of GET_DEVICE dumps for the
 * generic netlink family `wireguard`, independent of any socket so that both
 * can be tested without a WireGuard kernel.
 *
 * A configuration larger than one message is split the way wg(8) splits it:
 * every message names the device (IFNAME); the device attributes and
 * REPLACE_PEERS go in the first only; a peer cut between two messages repeats
 * its PUBLIC_KEY in the next and carries there only further ALLOWEDIPS (its
 * flags, preshared key, endpoint and keepalive only in its first fragment). */
#ifndef ZMESH_WGK_MESSAGE_H
#define ZMESH_WGK_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "wgk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* wg(8) uses one page; the family accepts more, and the spec allows 8 KiB. */
#define WGK_MESSAGE_MAX 8192

/* Where encoding stands between two messages. */
typedef struct wgk_encoder {
  const wgk_device *device;
  uint16_t family_id;
  size_t max_size;
  size_t next_peer;      /* first peer of the next message */
  size_t next_allowedip; /* > 0: that peer continues at this allowed IP */
  int started;           /* the first message (device attributes) is out */
  /* Set by wgk_encode_next for error messages: the peers the message carries. */
  size_t first_peer, end_peer;
} wgk_encoder;

void wgk_encoder_init(wgk_encoder *e, const wgk_device *d, uint16_t family_id, size_t max_size);
/* Encodes the next SET_DEVICE message into buf (max_size bytes). Returns its
 * length, 0 when everything has been encoded, or -EMSGSIZE when max_size
 * cannot hold even the device name and one peer's first attributes. */
long wgk_encode_next(wgk_encoder *e, uint8_t *buf);

/* Decodes one GET_DEVICE reply message payload (genlmsghdr + attributes) into
 * `d`, merging a peer continued from the previous message (same public key as
 * the last peer). 0, -EBADMSG, or -ENOMEM. */
int wgk_decode_device_message(wgk_device *d, const uint8_t *payload, size_t len);

/* Encodes the GET_DEVICE dump request for `ifname`. Returns its length. */
long wgk_encode_get(uint16_t family_id, const char *ifname, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
