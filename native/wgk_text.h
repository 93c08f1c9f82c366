/* The text forms of kernel WireGuard fields as zmesh passes them (a key in
 * canonical standard base64 as wg(8) prints it, a numeric endpoint
 * `a.b.c.d:port` / `[v6]:port`, an allowed IP `address/prefix`), parsed
 * strictly into wgk_config values.
 *
 * Input is UTF-16 code units, the way a JavaScript string holds them, so that
 * a batch of values concatenated in JavaScript is cut here at exactly the
 * lengths JavaScript measured, and a non-ASCII character can never alias an
 * ASCII one (it is simply invalid). Each parser returns NULL, or a static
 * reason for an error message; a key's reason never quotes the key. */
#ifndef ZMESH_WGK_TEXT_H
#define ZMESH_WGK_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "wgk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest endpoint / allowed-IP text accepted ("[" IPv6 with IPv4 tail "]:65535"). */
#define WGK_TEXT_MAX 64

#define WGK_KEY_B64_LEN 44

/* 44 characters: 43 of the standard alphabet whose last carries no stray
 * bits, then '=' (the pattern ^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$). */
const char *wgk_parse_key_b64(const uint16_t *text, size_t len, uint8_t out[WGK_KEY_LEN]);

/* Numeric `a.b.c.d:port` or `[v6]:port`, port 0..65535. */
const char *wgk_parse_endpoint(const uint16_t *text, size_t len, wgk_endpoint *out);

/* `address/prefix`, IPv4 (0..32) or IPv6 (0..128); host bits kept (the kernel clears them). */
const char *wgk_parse_allowedip(const uint16_t *text, size_t len, wgk_allowedip *out);

/* The text as printable ASCII for an error message ('?' for anything else),
 * at most cap - 1 characters. */
void wgk_text_quote(const uint16_t *text, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
