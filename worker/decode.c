#include "worker/decode.h"

#include <stdio.h>
#include <string.h>

void
decode_init(struct decode *d, enum decode_rule rule, const char *header_charset) {
    memset(d, 0, sizeof *d);
    d->rule = rule;
    buf_init(&d->raw);
    buf_init(&d->out);
    if (header_charset) snprintf(d->header_charset, sizeof d->header_charset, "%s", header_charset);
}

/* start decides the charset from the bytes held and decodes them. */
static int
start(struct decode *d) {
    d->started = true;
    size_t bom;
    const char *from =
        charset_sniff(d->raw.data ? d->raw.data : "", d->raw.len,
                      d->header_charset[0] ? d->header_charset : NULL, d->charset, &bom);
    if (d->rule == DECODE_TEXT && !strcmp(from, "meta"))
        snprintf(d->charset, sizeof d->charset, "utf-8");
    char err[128];
    if (charset_conv_open(&d->conv, d->charset, err, sizeof err) < 0) return -1;
    int rc = charset_conv_feed(&d->conv, d->raw.data ? d->raw.data + bom : "", d->raw.len - bom,
                               false, &d->out);
    buf_free(&d->raw);
    return rc;
}

int
decode_feed(struct decode *d, const char *data, size_t len, bool last) {
    if (d->failed) return -1;
    if (d->rule == DECODE_BYTES) {
        buf_append(&d->out, data, len);
        return 0;
    }
    if (!d->started) {
        buf_append(&d->raw, data, len);
        if (d->raw.len < CHARSET_SNIFF_BYTES && !last) return 0;
        if (start(d) < 0) return d->failed = true, -1;
        data = "";
        len = 0;
    }
    if ((len || last) && charset_conv_feed(&d->conv, data, len, last, &d->out) < 0)
        return d->failed = true, -1;
    return 0;
}

void
decode_consume(struct decode *d, size_t n) {
    buf_consume(&d->out, n);
}

const char *
decode_charset(const struct decode *d) {
    return d->started && d->rule != DECODE_BYTES ? d->charset : NULL;
}

void
decode_free(struct decode *d) {
    charset_conv_close(&d->conv);
    buf_free(&d->raw);
    buf_free(&d->out);
}
