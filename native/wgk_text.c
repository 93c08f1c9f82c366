/* Strict parsing of keys, endpoints and allowed IPs; see wgk_text.h. */
#include "wgk_text.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/* Standard base64 alphabet value of a character, or -1 (anything outside
 * ASCII, '=', '-', '_' ...). */
static int b64_value(uint16_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

const char *wgk_parse_key_b64(const uint16_t *text, size_t len, uint8_t out[WGK_KEY_LEN]) {
  static const char *const malformed = "malformed key: expected standard base64 of 32 bytes";
  if (len != WGK_KEY_B64_LEN || text[43] != '=') return malformed;
  uint8_t bytes[WGK_KEY_LEN + 1];
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < 43; i++) {
    int v = b64_value(text[i]);
    if (v < 0) return malformed;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[n++] = (uint8_t)(acc >> bits);
    }
  }
  /* 43 characters carry 258 bits: the 2 left over must be zero (canonical). */
  if (acc & ((1u << bits) - 1)) return malformed;
  memcpy(out, bytes, WGK_KEY_LEN);
  explicit_bzero(bytes, sizeof bytes);
  return NULL;
}

/* The text as C characters, refusing anything but printable ASCII (which also
 * refuses NUL, so inet_pton sees the whole value). NULL or the reason. */
static const char *to_ascii(const uint16_t *text, size_t len, char *out, size_t cap) {
  if (len >= cap) return "too long for an address";
  for (size_t i = 0; i < len; i++) {
    if (text[i] < 0x21 || text[i] > 0x7e) return "contains a character that is not printable ASCII";
    out[i] = (char)text[i];
  }
  out[len] = '\0';
  return NULL;
}

/* A decimal number of 1..max_digits digits no larger than max, or -1. */
static long decimal(const char *s, size_t len, size_t max_digits, long max) {
  if (len == 0 || len > max_digits) return -1;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v <= max ? v : -1;
}

const char *wgk_parse_endpoint(const uint16_t *text, size_t len, wgk_endpoint *out) {
  char s[WGK_TEXT_MAX + 1];
  const char *refused = to_ascii(text, len, s, sizeof s);
  if (refused) return refused;
  const char *host, *port;
  size_t host_len;
  int v6 = s[0] == '[';
  if (v6) {
    char *close = memchr(s, ']', len);
    if (!close || close[1] != ':') return "must be [IPv6]:port";
    host = s + 1;
    host_len = (size_t)(close - host);
    port = close + 2;
  } else {
    char *colon = memrchr(s, ':', len);
    if (!colon) return "must be IPv4:port or [IPv6]:port";
    host = s;
    host_len = (size_t)(colon - s);
    port = colon + 1;
  }
  long port_value = decimal(port, (size_t)(s + len - port), 5, 65535);
  if (port_value < 0) return "port must be 0..65535";
  char h[INET6_ADDRSTRLEN + 1];
  if (host_len >= sizeof h) return "not a numeric IP address";
  memcpy(h, host, host_len);
  h[host_len] = '\0';
  memset(out, 0, sizeof *out);
  if (!v6 && inet_pton(AF_INET, h, &out->addr4.sin_addr) == 1) {
    out->addr4.sin_family = AF_INET;
    out->addr4.sin_port = htons((uint16_t)port_value);
  } else if (v6 && inet_pton(AF_INET6, h, &out->addr6.sin6_addr) == 1) {
    out->addr6.sin6_family = AF_INET6;
    out->addr6.sin6_port = htons((uint16_t)port_value);
  } else {
    return "not a numeric IP address";
  }
  return NULL;
}

const char *wgk_parse_allowedip(const uint16_t *text, size_t len, wgk_allowedip *out) {
  char s[WGK_TEXT_MAX + 1];
  const char *refused = to_ascii(text, len, s, sizeof s);
  if (refused) return refused;
  char *slash = memchr(s, '/', len);
  if (!slash) return "must be 'address/prefix'";
  *slash = '\0';
  memset(out, 0, sizeof *out);
  long max;
  if (inet_pton(AF_INET, s, out->addr) == 1) {
    out->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, s, out->addr) == 1) {
    out->family = AF_INET6;
    max = 128;
  } else {
    return "not a numeric IP address";
  }
  long bits = decimal(slash + 1, (size_t)(s + len - slash - 1), 3, max);
  if (bits < 0) return max == 32 ? "prefix length must be 0..32" : "prefix length must be 0..128";
  out->cidr = (uint8_t)bits;
  return NULL;
}

void wgk_text_quote(const uint16_t *text, size_t len, char *out, size_t cap) {
  if (cap == 0) return;
  size_t n = len < cap - 1 ? len : cap - 1;
  for (size_t i = 0; i < n; i++) out[i] = text[i] >= 0x20 && text[i] <= 0x7e ? (char)text[i] : '?';
  out[n] = '\0';
}
