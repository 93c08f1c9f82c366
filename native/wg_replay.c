/* RFC 6479 replay window, the same algorithm as the Linux module's
 * counter_validate so that the kernel's self-test vectors apply. */
#include "wg_replay.h"

#include <string.h>

#include "wg_constants.h"

void wg_replay_init(wg_replay *r) {
  memset(r, 0, sizeof *r);
}

bool wg_replay_check_and_update(wg_replay *r, uint64_t counter) {
  if (r->greatest >= WG_REJECT_AFTER_MESSAGES + 1 || counter >= WG_REJECT_AFTER_MESSAGES) return false;
  /* Counters are stored plus one so that 0 can mean "nothing seen yet". */
  uint64_t their = counter + 1;
  if (WG_REPLAY_WINDOW_SIZE + their < r->greatest) return false;
  uint64_t index = their >> 6;
  if (their > r->greatest) {
    uint64_t index_current = r->greatest >> 6;
    uint64_t top = index - index_current;
    if (top > WG_REPLAY_WORDS) top = WG_REPLAY_WORDS;
    /* Words the window slides over start empty. */
    for (uint64_t i = 1; i <= top; ++i) r->words[(i + index_current) & (WG_REPLAY_WORDS - 1)] = 0;
    r->greatest = their;
  }
  index &= WG_REPLAY_WORDS - 1;
  uint64_t bit = UINT64_C(1) << (their & 63);
  if (r->words[index] & bit) return false;
  r->words[index] |= bit;
  return true;
}
