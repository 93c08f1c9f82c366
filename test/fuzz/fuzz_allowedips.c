/* The allowed-IPs trie (native/wg_allowedips.c) against a naive reference: a list of
 * (family, prefix, owner) searched for the longest match. Each input is a sequence of
 * insert / remove-exact / remove-owner / lookup operations over two families; after every
 * operation the trie and the reference must agree on the operation's address and on a few
 * addresses derived from it (the prefix's edges). A disagreement aborts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../native/wg_allowedips.h"
#include "fuzz_input.h"

#define MAX_ENTRIES 512
#define OWNERS 6

typedef struct entry {
  int family, cidr;
  uint8_t addr[16]; /* masked to cidr */
  uintptr_t owner;
} entry;

static entry ref[MAX_ENTRIES];
static size_t ref_count;

static void mask(uint8_t *a, int family, int cidr) {
  int bytes = family == 4 ? 4 : 16;
  for (int i = 0; i < bytes; ++i) {
    int keep = cidr - 8 * i;
    a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
  }
  for (int i = bytes; i < 16; ++i) a[i] = 0;
}

static entry *ref_find(int family, const uint8_t *masked, int cidr) {
  for (size_t i = 0; i < ref_count; ++i)
    if (ref[i].family == family && ref[i].cidr == cidr && memcmp(ref[i].addr, masked, 16) == 0) return &ref[i];
  return NULL;
}

static void ref_remove_at(size_t i) { ref[i] = ref[--ref_count]; }

static uintptr_t ref_lookup(int family, const uint8_t *addr) {
  int best = -1;
  uintptr_t owner = 0;
  for (size_t i = 0; i < ref_count; ++i) {
    if (ref[i].family != family || ref[i].cidr <= best) continue;
    uint8_t a[16];
    memcpy(a, addr, 16);
    mask(a, family, ref[i].cidr);
    if (memcmp(a, ref[i].addr, 16) == 0) {
      best = ref[i].cidr;
      owner = ref[i].owner;
    }
  }
  return owner;
}

static void check(const wg_allowedips *t, int family, const uint8_t *addr) {
  uintptr_t got = (uintptr_t)wg_allowedips_lookup(t, family, addr), want = ref_lookup(family, addr);
  if (got != want) {
    fprintf(stderr, "allowedips: lookup of a family-%d address gave owner %zu, the reference %zu\n", family,
            (size_t)got, (size_t)want);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  fuzz_input in = {data, len, 0};
  wg_allowedips *t = wg_allowedips_new();
  if (!t) return 0;
  ref_count = 0;
  while (fuzz_left(&in) > 0) {
    uint8_t op = fuzz_u8(&in);
    int family = op & 1 ? 6 : 4;
    int cidr = fuzz_u8(&in) % (family == 4 ? 34 : 130); /* one beyond the maximum: must be refused */
    uint8_t addr[16] = {0};
    size_t got;
    /* Few distinct addresses make prefixes collide: the interesting cases. */
    const uint8_t *a = fuzz_bytes(&in, family == 4 ? 4 : 16, &got);
    memcpy(addr, a, got);
    uintptr_t owner = 1 + fuzz_u8(&in) % OWNERS;
    uint8_t masked[16];
    memcpy(masked, addr, 16);
    int max = family == 4 ? 32 : 128;
    switch ((op >> 1) % 4) {
      case 0: { /* insert */
        int rc = wg_allowedips_insert(t, family, addr, cidr, (void *)owner);
        if (cidr > max) {
          if (rc != -EINVAL) abort();
          break;
        }
        if (rc == -ENOMEM) break;
        if (rc != 0) abort();
        mask(masked, family, cidr);
        entry *e = ref_find(family, masked, cidr);
        if (e) e->owner = owner;
        else if (ref_count < MAX_ENTRIES) ref[ref_count++] = (entry){family, cidr, {0}, owner};
        else abort(); /* inputs cannot be that long (-max_len) */
        if (!e) memcpy(ref[ref_count - 1].addr, masked, 16);
        break;
      }
      case 1: { /* remove exactly this prefix if owner owns it */
        if (cidr > max) break;
        wg_allowedips_remove_exact(t, family, addr, cidr, (void *)owner);
        mask(masked, family, cidr);
        entry *e = ref_find(family, masked, cidr);
        if (e && e->owner == owner) ref_remove_at((size_t)(e - ref));
        break;
      }
      case 2: /* remove everything of owner */
        wg_allowedips_remove_value(t, (void *)owner);
        for (size_t i = ref_count; i-- > 0;)
          if (ref[i].owner == owner) ref_remove_at(i);
        break;
      default:
        break; /* lookup only: the checks below */
    }
    check(t, family, addr);
    /* The edges of the prefix the operation named: first and last address inside it, and the
     * addresses just outside. */
    if (cidr <= max) {
      uint8_t lo[16], hi[16];
      memcpy(lo, masked, 16);
      mask(lo, family, cidr);
      memcpy(hi, lo, 16);
      for (int bit = cidr; bit < max; ++bit) hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
      check(t, family, lo);
      check(t, family, hi);
      int bytes = family == 4 ? 4 : 16;
      for (int i = bytes - 1; i >= 0 && ++hi[i] == 0; --i) {
      }
      for (int i = bytes - 1; i >= 0 && lo[i]-- == 0; --i) {
      }
      check(t, family, lo);
      check(t, family, hi);
    }
  }
  wg_allowedips_free(t);
  return 0;
}
