/* nftables through libnftables, inside a network namespace, without a process.
 *
 * One call runs one command buffer (libnftables-json(5), e.g. a whole-table
 * transaction or `list table`) on a short-lived thread that first enters the
 * namespace: libnftables opens its netlink socket in the namespace of the thread
 * that runs it, and a thread of its own means the caller's thread never moves
 * and nothing has to be restored afterwards. libnftables keeps process-global
 * state (interface cache, symbol tables), so calls into it are serialised; the
 * namespace switch and the thread start happen outside that lock, and so does
 * the slow last close of the netlink socket (after a commit it waits for an RCU
 * grace period), which comes after the answer, on a thread of its own. */
#ifndef ZMESH_NFT_H
#define ZMESH_NFT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zm_nft_result {
  /* 0: the commands ran; otherwise libnftables' non-zero return (see `error`). */
  int status;
  /* What libnftables printed (JSON for listings), malloc'd, never NULL on success. */
  char *output;
  /* What libnftables reported as errors, malloc'd, never NULL on success. */
  char *error;
} zm_nft_result;

/* Runs `commands` (NUL-terminated JSON) inside the namespace at `netns_path`
 * (NULL or "": the process's namespace as the calling thread sees it) with
 * JSON output. Returns 0 and fills `result` (free it with zm_nft_result_free),
 * or a negative errno when the thread could not be started, the namespace not
 * entered or memory not allocated; then `result` holds nothing to free. */
int zm_nft_run(const char *netns_path, const char *commands, zm_nft_result *result);

void zm_nft_result_free(zm_nft_result *result);

/* The nftables generation of the namespace at `netns_path` (NULL or "": the
 * process's): one NFT_MSG_GETGEN round trip on a thread of its own, whose socket
 * is closed after the answer (that close may wait for a commit's cleanup).
 * 0 or a negative errno. */
int zm_nft_generation(const char *netns_path, uint32_t *generation);

#ifdef __cplusplus
}
#endif
#endif
