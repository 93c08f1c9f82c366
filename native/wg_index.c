/* Chained hash table keyed by u32 (see wg_index.h). Keys are chosen by the
 * protocol core (random receiver indices, caller-chosen peer ids), so a
 * multiplicative hash spreads them well enough. */
#include "wg_index.h"

#include <errno.h>
#include <stdlib.h>

#define INITIAL_BUCKETS 64

static inline size_t slot_of(const wg_index *x, uint32_t key) {
  return (size_t)((key * UINT32_C(2654435761)) ^ (key >> 16)) & x->mask;
}

int wg_index_init(wg_index *x) {
  x->buckets = calloc(INITIAL_BUCKETS, sizeof *x->buckets);
  if (!x->buckets) return -ENOMEM;
  x->mask = INITIAL_BUCKETS - 1;
  x->count = 0;
  return 0;
}

void wg_index_destroy(wg_index *x) {
  free(x->buckets);
  x->buckets = NULL;
  x->count = 0;
}

static void grow(wg_index *x) {
  size_t n = (x->mask + 1) * 2;
  wg_index_node **b = calloc(n, sizeof *b);
  if (!b) return; /* keep the longer chains; still correct */
  wg_index old = *x;
  x->buckets = b;
  x->mask = n - 1;
  for (size_t i = 0; i <= old.mask; ++i) {
    wg_index_node *e = old.buckets[i];
    while (e) {
      wg_index_node *next = e->next;
      size_t s = slot_of(x, e->key);
      e->next = x->buckets[s];
      x->buckets[s] = e;
      e = next;
    }
  }
  free(old.buckets);
}

int wg_index_add(wg_index *x, wg_index_node *n) {
  if (x->count + 1 > x->mask + 1) grow(x);
  size_t s = slot_of(x, n->key);
  n->next = x->buckets[s];
  x->buckets[s] = n;
  x->count++;
  return 0;
}

wg_index_node *wg_index_find(const wg_index *x, uint32_t key) {
  for (wg_index_node *e = x->buckets[slot_of(x, key)]; e; e = e->next)
    if (e->key == key) return e;
  return NULL;
}

void wg_index_remove(wg_index *x, wg_index_node *n) {
  for (wg_index_node **p = &x->buckets[slot_of(x, n->key)]; *p; p = &(*p)->next) {
    if (*p == n) {
      *p = n->next;
      n->next = NULL;
      x->count--;
      return;
    }
  }
}

void wg_index_each(const wg_index *x, void (*fn)(wg_index_node *n, void *ctx), void *ctx) {
  for (size_t i = 0; i <= x->mask; ++i)
    for (wg_index_node *e = x->buckets[i]; e;) {
      wg_index_node *next = e->next;
      fn(e, ctx);
      e = next;
    }
}
