/* decode — the decode stage: a document's bytes, as they arrive, to
 * valid UTF-8 for the extract stage.
 *
 * The charset is decided once CHARSET_SNIFF_BYTES have arrived (or at
 * the end, if sooner) by the rule the content type asks for:
 *   DECODE_HTML   a byte-order mark, the HTTP header's charset, <meta>
 *                 in the first bytes, else UTF-8 (charset.h)
 *   DECODE_TEXT   the same without <meta>: what looks like one is text
 *   DECODE_BYTES  no decoding: the bytes pass as they are (for a format
 *                 whose extractor reads bytes, such as PDF)
 * A byte-order mark is dropped.
 *
 * Owns: the converter, the bytes held while the charset is not known,
 * and `out`: decoded text the next stage has not taken yet. The next
 * stage reads out.data[0..out.len) and calls decode_consume with what it
 * used; what it holds back (a tag or word cut by the network) waits here,
 * not copied, and comes again with the next bytes. Embedded by its
 * owner; decode_free releases everything. */
#ifndef WC_DECODE_H
#define WC_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "worker/charset.h"

enum decode_rule { DECODE_HTML, DECODE_TEXT, DECODE_BYTES };

struct decode {
    enum decode_rule rule;
    bool started; /* the charset is decided */
    bool failed;
    char header_charset[CHARSET_NAME_MAX];
    char charset[CHARSET_NAME_MAX];
    struct charset_conv conv;
    struct buf raw; /* bytes held until the charset is decided */
    struct buf out; /* decoded, not yet consumed */
};

/* decode_init: header_charset is the HTTP header's, or NULL. */
void decode_init(struct decode *d, enum decode_rule rule, const char *header_charset);
/* decode_feed decodes data[0..len) onto out; last marks the end of the
 * document (an incomplete sequence then becomes U+FFFD). Returns 0, or
 * -1 when the page cannot be decoded (and from then on). */
int decode_feed(struct decode *d, const char *data, size_t len, bool last);
/* decode_consume drops the first n bytes of out. */
void decode_consume(struct decode *d, size_t n);
/* decode_charset: the charset the page is read in, once decided (NULL
 * before, and for DECODE_BYTES). */
const char *decode_charset(const struct decode *d);
void decode_free(struct decode *d);

#endif
