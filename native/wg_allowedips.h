/* The allowed-IPs table: longest-prefix match from an IPv4 or IPv6 address to
 * a peer (an opaque pointer), used to pick the peer of an outgoing packet and
 * to check the source of an incoming one. One prefix has one owner: inserting
 * a prefix that exists moves it to the new owner, as wg(8) defines.
 *
 * A binary trie per family, one node per prefix bit. Simple and obviously
 * correct; a path-compressed trie can replace it behind this interface.
 * Not thread-safe: the data plane reads it under its device read lock and
 * changes it under the write lock. */
#ifndef ZMESH_WG_ALLOWEDIPS_H
#define ZMESH_WG_ALLOWEDIPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_allowedips wg_allowedips;

wg_allowedips *wg_allowedips_new(void);
void wg_allowedips_free(wg_allowedips *t);

/* family is 4 or 6; addr holds 4 or 16 bytes; bits beyond `cidr` are ignored.
 * Returns 0, -EINVAL (bad family or cidr) or -ENOMEM. */
int wg_allowedips_insert(wg_allowedips *t, int family, const uint8_t *addr, int cidr, void *value);

/* Removes the entry for exactly this prefix if `value` owns it (an entry
 * that moved to another owner stays). */
void wg_allowedips_remove_exact(wg_allowedips *t, int family, const uint8_t *addr, int cidr, const void *value);

/* Removes every entry owned by `value` (walks the whole table). */
void wg_allowedips_remove_value(wg_allowedips *t, const void *value);

/* The owner of the longest prefix containing addr, or NULL. */
void *wg_allowedips_lookup(const wg_allowedips *t, int family, const uint8_t *addr);

#ifdef __cplusplus
}
#endif
#endif
