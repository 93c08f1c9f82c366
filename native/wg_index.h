/* A growable hash table from a 32-bit key to an intrusive node: maps peer ids
 * to peers and receiver indices to keypairs. Not thread-safe: read under the
 * device read lock, changed under the write lock. */
#ifndef ZMESH_WG_INDEX_H
#define ZMESH_WG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_index_node {
  struct wg_index_node *next;
  uint32_t key;
} wg_index_node;

typedef struct wg_index {
  wg_index_node **buckets;
  size_t mask; /* bucket count - 1 (a power of two) */
  size_t count;
} wg_index;

int wg_index_init(wg_index *x);
void wg_index_destroy(wg_index *x); /* frees the buckets, not the nodes */
/* Adds n under n->key (the caller ensures the key is not present). 0 or -ENOMEM. */
int wg_index_add(wg_index *x, wg_index_node *n);
wg_index_node *wg_index_find(const wg_index *x, uint32_t key);
/* Removes this node if present. */
void wg_index_remove(wg_index *x, wg_index_node *n);

/* Calls fn on every node; fn must not change the table. */
void wg_index_each(const wg_index *x, void (*fn)(wg_index_node *n, void *ctx), void *ctx);

#define WG_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#ifdef __cplusplus
}
#endif
#endif
