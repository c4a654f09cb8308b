#include "worker/extract.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

extern const struct extract_impl extract_html, extract_plain;

/* The content types we count; anything else fails unsupported_type. */
static const struct extract_type types[] = {
    {"text/html", DECODE_HTML, &extract_html},
    {"application/xhtml+xml", DECODE_HTML, &extract_html},
    {"text/plain", DECODE_TEXT, &extract_plain},
};

struct extract {
    const struct extract_type *type;
    struct decode decode;
    void *state;
};

const struct extract_type *
extract_find(const char *media_type) {
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].media_type, media_type)) return &types[i];
    return NULL;
}

extract_t *
extract_open(const struct extract_type *t, const char *header_charset, extract_text_cb cb,
             void *arg) {
    void *state = t->impl->open(cb, arg);
    if (!state) return NULL;
    struct extract *x = xcalloc(1, sizeof *x);
    x->type = t;
    x->state = state;
    decode_init(&x->decode, t->decode, header_charset);
    return x;
}

int
extract_feed(extract_t *x, const char *data, size_t len) {
    if (decode_feed(&x->decode, data, len, false) < 0) return -1;
    struct buf *out = &x->decode.out;
    if (out->len) decode_consume(&x->decode, x->type->impl->feed(x->state, out->data, out->len));
    return 0;
}

int
extract_finish(extract_t *x) {
    if (decode_feed(&x->decode, "", 0, true) < 0) return -1;
    struct buf *out = &x->decode.out;
    int rc = x->type->impl->finish(x->state, out->data ? out->data : "", out->len);
    decode_consume(&x->decode, out->len);
    return rc;
}

const char *
extract_charset(const extract_t *x) {
    return decode_charset(&x->decode);
}

void
extract_free(extract_t *x) {
    if (!x) return;
    x->type->impl->free(x->state);
    decode_free(&x->decode);
    free(x);
}
