/* json_out — JSON text written straight into a buf, for output that is
 * too large or too hot to build as jansson values first (a page's word
 * counts: thousands of members per job).
 *
 * Owns nothing: each call appends to the caller's buf (common/buf.h, which
 * grows it and aborts on OOM) and leaves it NUL-terminated.
 *
 * Strings are escaped per RFC 8259 section 7: '"' and '\' and the control
 * characters U+0000..U+001F (the short forms \b \f \n \r \t where they
 * exist, else \u00XX); everything else is copied. Input that is not
 * well-formed UTF-8 never comes out as such: each maximal ill-formed
 * subsequence (Unicode 15, section 3.9) becomes U+FFFD, as ICU's converter
 * does, so the output is always valid JSON and valid UTF-8. No printf
 * family, no allocation beyond the buf's growth. */
#ifndef WC_JSON_OUT_H
#define WC_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* json_out_string appends s[0..len) as a JSON string, quotes included. */
void json_out_string(struct buf *b, const char *s, size_t len);
/* json_out_u64 appends v in decimal. */
void json_out_u64(struct buf *b, uint64_t v);
/* json_out_u64_str writes v in decimal and a NUL into out (at least
 * JSON_OUT_U64_LEN bytes); returns the length. */
#define JSON_OUT_U64_LEN 21
size_t json_out_u64_str(char *out, uint64_t v);

#endif
