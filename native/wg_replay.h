/* The anti-replay window for one receiving keypair: RFC 6479's ring of 128
 * words of 64 bits, of which 8128 counters are usable (one word is the
 * redundant word that lets the window slide without clearing what is still
 * in range). Checked and updated only after a packet authenticated, so a
 * forged counter can never move the window. */
#ifndef ZMESH_WG_REPLAY_H
#define ZMESH_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WG_REPLAY_BITS_TOTAL 8192
#define WG_REPLAY_WORDS (WG_REPLAY_BITS_TOTAL / 64)
#define WG_REPLAY_WINDOW_SIZE (WG_REPLAY_BITS_TOTAL - 64)

typedef struct wg_replay {
  uint64_t greatest; /* greatest counter seen, plus one (0: nothing seen) */
  uint64_t words[WG_REPLAY_WORDS];
} wg_replay;

void wg_replay_init(wg_replay *r);

/* True if `counter` was never accepted before and is inside the window (and
 * below REJECT_AFTER_MESSAGES); it is then marked as seen. Not thread-safe:
 * the caller serialises per keypair. */
bool wg_replay_check_and_update(wg_replay *r, uint64_t counter);

#ifdef __cplusplus
}
#endif
#endif
