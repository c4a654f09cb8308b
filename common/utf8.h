/* utf8 — the shape of well-formed UTF-8 (Unicode 15, table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF), for the code that
 * must pass UTF-8 on unchanged but never pass ill-formed bytes on
 * (worker/charset.c decoding pages, common/json_out.c writing JSON).
 * Pure functions; owns nothing. */
#ifndef WC_UTF8_H
#define WC_UTF8_H

#include <stddef.h>

/* UTF8_REPLACEMENT is U+FFFD, which stands for each maximal ill-formed
 * subsequence (what ICU's converter does). */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* utf8_seq_prefix tells how many bytes at s[0..len) (len > 0) are one
 * well-formed sequence or the start of one: 0 when s[0] starts none, else
 * 1 to 4; *need is the length of the whole sequence. A result below *need
 * is a maximal ill-formed subsequence (one U+FFFD), or a sequence cut by
 * the end of s. */
size_t utf8_seq_prefix(const unsigned char *s, size_t len, size_t *need);

#endif
