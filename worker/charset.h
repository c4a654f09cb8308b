/* charset — which encoding a page is in, and a streaming conversion from
 * it to valid UTF-8 (ICU converters).
 *
 * The decision follows the HTML rule of precedence: a byte-order mark,
 * then the charset of the Content-Type header, then <meta charset> or
 * <meta http-equiv content="...; charset=..."> in the first
 * CHARSET_SNIFF_BYTES, then UTF-16 or UTF-32 when the first bytes are
 * ASCII characters with NULs between them (a document saved without a
 * byte-order mark; no <meta> can be read in it), then UTF-8. Labels are
 * read as the WHATWG Encoding standard says, as browsers do:
 * iso-8859-1, latin1 and us-ascii are windows-1252, gb2312 is gb18030,
 * euc-kr windows-949, utf-16 (no BOM) UTF-16LE, and a <meta> naming
 * UTF-16 means UTF-8; a label ICU does not know falls through to the
 * next rule.
 *
 * Owns: struct charset_conv holds two ICU converters (page encoding to
 * UTF-16, UTF-16 to UTF-8), kept across calls so a character split
 * between two network reads is decoded whole. Invalid or unmappable
 * sequences become U+FFFD; the output is always valid UTF-8. */
#ifndef WC_CHARSET_H
#define WC_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define CHARSET_SNIFF_BYTES 1024
#define CHARSET_NAME_MAX 64

/* charset_sniff picks the encoding of a document that starts with
 * data[0..len) (at most CHARSET_SNIFF_BYTES of it are looked at).
 * header_charset may be NULL. Writes the name to name and the length of
 * a byte-order mark to skip to *bom_len; returns where the answer came
 * from: "bom", "header", "meta", "pattern" or "default". */
const char *charset_sniff(const char *data, size_t len, const char *header_charset,
                          char name[CHARSET_NAME_MAX], size_t *bom_len);

/* charset_known tells whether ICU can convert from the named encoding. */
bool charset_known(const char *name);

struct charset_conv {
    void *from; /* UConverter: the page's encoding */
    void *to;   /* UConverter: UTF-8 */
    /* A UTF-8 page is checked, not converted (ICU would go through
     * UTF-16 and back): well-formed UTF-8 is copied as it is, and each
     * maximal ill-formed part becomes one U+FFFD, as ICU's converter
     * does (the tests compare the two). The start of a sequence cut by
     * the network waits in tail for the next feed. */
    bool utf8;
    unsigned char tail[4];
    size_t ntail;
};

/* charset_utf8_valid_prefix returns how many bytes of s[0..len) are
 * well-formed UTF-8 (Unicode table 3-7: no overlong forms, surrogates
 * or code points past U+10FFFF), stopping before the first ill-formed or
 * incomplete sequence. */
size_t charset_utf8_valid_prefix(const unsigned char *s, size_t len);

/* charset_conv_open returns 0, or -1 with a message in err. */
int charset_conv_open(struct charset_conv *c, const char *name, char *err, size_t errlen);
/* charset_conv_feed converts in[0..len) and appends UTF-8 to out; with
 * flush set, the end of the input (an incomplete sequence becomes
 * U+FFFD). Returns 0, or -1 when ICU fails. */
int charset_conv_feed(struct charset_conv *c, const char *in, size_t len, bool flush,
                      struct buf *out);
void charset_conv_close(struct charset_conv *c);

#endif
