/* The kernel-WireGuard netlink attribute parser (native/wgk_message.c) on arbitrary replies:
 * the input is a sequence of GET_DEVICE reply payloads (2-byte length, then the bytes), decoded
 * one after another into one device as a dump is (a peer may continue across messages). Every
 * reply must give 0, -EBADMSG or -ENOMEM; what was decoded is then encoded again as SET_DEVICE
 * messages (the encoder walks every peer and allowed IP the decoder produced) and freed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../native/wgk_message.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  fuzz_input in = {data, len, 0};
  wgk_device d;
  memset(&d, 0, sizeof d);
  while (fuzz_left(&in) > 0) {
    size_t want = fuzz_u16(&in) % (WGK_MESSAGE_MAX + 1), got;
    const uint8_t *bytes = fuzz_bytes(&in, want, &got);
    /* A copy of exactly its length: a read beyond it is then caught by ASan. */
    uint8_t *msg = malloc(got ? got : 1);
    if (!msg) break;
    memcpy(msg, bytes, got);
    int rc = wgk_decode_device_message(&d, msg, got);
    free(msg);
    if (rc != 0 && rc != -EBADMSG && rc != -ENOMEM) {
      fprintf(stderr, "wgk_decode_device_message returned %d\n", rc);
      abort();
    }
    if (rc != 0) break;
  }
  if (d.ifname[0] == '\0') strcpy(d.ifname, "wgfuzz");
  static uint8_t buf[WGK_MESSAGE_MAX];
  wgk_encoder e;
  wgk_encoder_init(&e, &d, 0x1d, sizeof buf);
  for (int i = 0; i < 100000; ++i) {
    long n = wgk_encode_next(&e, buf);
    if (n == 0 || n == -EMSGSIZE) break;
    if (n < 0 || (size_t)n > sizeof buf) abort();
  }
  wgk_device_free(&d);
  return 0;
}
