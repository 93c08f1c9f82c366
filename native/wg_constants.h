/* Protocol constants of the WireGuard paper, with its names, used by the
 * native data plane. The TypeScript protocol core has its own copy; these are
 * the ones the packet path enforces on its own (keypair age and message
 * limits, replay window, message sizes). */
#ifndef ZMESH_WG_CONSTANTS_H
#define ZMESH_WG_CONSTANTS_H

#include <stdint.h>

#define WG_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (UINT64_C(1) << 13))
#define WG_REKEY_AFTER_TIME_MS UINT64_C(120000)
#define WG_REJECT_AFTER_TIME_MS UINT64_C(180000)
#define WG_KEEPALIVE_TIMEOUT_MS UINT64_C(10000)
#define WG_REKEY_TIMEOUT_MS UINT64_C(5000)
/* The initiator asks for a new handshake when it receives on a keypair this old. */
#define WG_REKEY_ON_RECEIVE_AFTER_MS (WG_REJECT_AFTER_TIME_MS - WG_KEEPALIVE_TIMEOUT_MS - WG_REKEY_TIMEOUT_MS)

#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE_REPLY 3
#define WG_MSG_TRANSPORT 4
#define WG_MSG_INITIATION_SIZE 148
#define WG_MSG_RESPONSE_SIZE 92
#define WG_MSG_COOKIE_REPLY_SIZE 64
#define WG_TRANSPORT_HEADER_SIZE 16
#define WG_AEAD_TAG_SIZE 16
#define WG_KEEPALIVE_SIZE (WG_TRANSPORT_HEADER_SIZE + WG_AEAD_TAG_SIZE)
#define WG_KEY_SIZE 32
#define WG_PADDING_MULTIPLE 16
/* The largest UDP payload; receive buffers take any datagram a peer may send. */
#define WG_MAX_MESSAGE_SIZE 65535

#endif
