/* Reading a libFuzzer input as a stream of fields: each harness turns the bytes into the
 * calls it makes. A read past the end yields zeros, so every input is a valid program. */
#ifndef ZMESH_FUZZ_INPUT_H
#define ZMESH_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_input {
  const uint8_t *data;
  size_t len, pos;
} fuzz_input;

static inline size_t fuzz_left(const fuzz_input *in) { return in->len - in->pos; }

static inline uint8_t fuzz_u8(fuzz_input *in) { return in->pos < in->len ? in->data[in->pos++] : 0; }

static inline uint16_t fuzz_u16(fuzz_input *in) {
  uint16_t lo = fuzz_u8(in);
  return (uint16_t)(lo | fuzz_u8(in) << 8);
}

static inline uint64_t fuzz_u64(fuzz_input *in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)fuzz_u8(in) << (8 * i);
  return v;
}

/* Up to max bytes (fewer when the input ends); returns where they are in the input. */
static inline const uint8_t *fuzz_bytes(fuzz_input *in, size_t want, size_t *got) {
  size_t n = want < fuzz_left(in) ? want : fuzz_left(in);
  const uint8_t *p = in->data + in->pos;
  in->pos += n;
  *got = n;
  return p;
}

#endif
