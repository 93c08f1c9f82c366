/* Binary trie for the allowed-IPs table (see wg_allowedips.h). */
#include "wg_allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct node {
  struct node *child[2];
  void *value; /* NULL: no prefix ends here */
} node;

struct wg_allowedips {
  node *root4;
  node *root6;
};

static inline int bit_at(const uint8_t *addr, int i) {
  return (addr[i >> 3] >> (7 - (i & 7))) & 1;
}

static node **root_of(wg_allowedips *t, int family) {
  return family == 4 ? &t->root4 : family == 6 ? &t->root6 : NULL;
}

static int max_bits(int family) {
  return family == 4 ? 32 : 128;
}

wg_allowedips *wg_allowedips_new(void) {
  return calloc(1, sizeof(wg_allowedips));
}

static void free_subtree(node *n) {
  if (!n) return;
  free_subtree(n->child[0]);
  free_subtree(n->child[1]);
  free(n);
}

void wg_allowedips_free(wg_allowedips *t) {
  if (!t) return;
  free_subtree(t->root4);
  free_subtree(t->root6);
  free(t);
}

int wg_allowedips_insert(wg_allowedips *t, int family, const uint8_t *addr, int cidr, void *value) {
  node **slot = root_of(t, family);
  if (!slot || cidr < 0 || cidr > max_bits(family) || value == NULL) return -EINVAL;
  for (int i = 0;; ++i) {
    if (!*slot) {
      *slot = calloc(1, sizeof(node));
      if (!*slot) return -ENOMEM; /* the nodes made so far stay as empty interior nodes: harmless */
    }
    if (i == cidr) break;
    slot = &(*slot)->child[bit_at(addr, i)];
  }
  (*slot)->value = value;
  return 0;
}

/* Clears the entry at depth `cidr` along addr's path if owned by `value`, and
 * frees the nodes that no longer lead anywhere. Returns true if *slot was freed. */
static bool remove_path(node **slot, const uint8_t *addr, int depth, int cidr, const void *value) {
  node *n = *slot;
  if (!n) return false;
  if (depth == cidr) {
    if (n->value == value) n->value = NULL;
  } else {
    remove_path(&n->child[bit_at(addr, depth)], addr, depth + 1, cidr, value);
  }
  if (!n->value && !n->child[0] && !n->child[1]) {
    free(n);
    *slot = NULL;
    return true;
  }
  return false;
}

void wg_allowedips_remove_exact(wg_allowedips *t, int family, const uint8_t *addr, int cidr, const void *value) {
  node **slot = root_of(t, family);
  if (!slot || cidr < 0 || cidr > max_bits(family)) return;
  remove_path(slot, addr, 0, cidr, value);
}

static void remove_value_subtree(node **slot, const void *value) {
  node *n = *slot;
  if (!n) return;
  remove_value_subtree(&n->child[0], value);
  remove_value_subtree(&n->child[1], value);
  if (n->value == value) n->value = NULL;
  if (!n->value && !n->child[0] && !n->child[1]) {
    free(n);
    *slot = NULL;
  }
}

void wg_allowedips_remove_value(wg_allowedips *t, const void *value) {
  remove_value_subtree(&t->root4, value);
  remove_value_subtree(&t->root6, value);
}

void *wg_allowedips_lookup(const wg_allowedips *t, int family, const uint8_t *addr) {
  const node *n = family == 4 ? t->root4 : family == 6 ? t->root6 : NULL;
  int bits = max_bits(family);
  void *best = NULL;
  for (int i = 0; n; ++i) {
    if (n->value) best = n->value;
    if (i == bits) break;
    n = n->child[bit_at(addr, i)];
  }
  return best;
}
