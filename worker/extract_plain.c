/* extract_plain — the plain text implementation of extract.h: all of the
 * decoded text is text. It is handed on in pieces of at least
 * PLAIN_FLUSH_AT bytes that end at white space, so a word is never cut in
 * two between network chunks; a run of PLAIN_HOLD_MAX bytes with no white
 * space at all is cut at a character boundary (one word may then be cut).
 *
 * Owns: only its callback; the text waits in the decode stage. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "worker/extract.h"

#define PLAIN_FLUSH_AT 32768
#define PLAIN_HOLD_MAX (4 * PLAIN_FLUSH_AT)

struct plain {
    extract_text_cb cb;
    void *arg;
};

static void *
plain_open(extract_text_cb cb, void *arg) {
    struct plain *p = xcalloc(1, sizeof *p);
    p->cb = cb;
    p->arg = arg;
    return p;
}

static size_t
plain_feed(void *state, const char *d, size_t n) {
    struct plain *p = state;
    if (n < PLAIN_FLUSH_AT) return 0;
    size_t cut = n;
    while (cut > 0 && !strchr(" \t\r\n", d[cut - 1])) cut--;
    if (cut == 0) {
        if (n < PLAIN_HOLD_MAX) return 0; /* one long word so far: wait for more */
        /* Before the first byte of the last character, which may be
         * incomplete. */
        cut = n - 1;
        while (cut > 0 && ((unsigned char)d[cut] & 0xC0) == 0x80) cut--;
        if (cut == 0) cut = n;
    }
    p->cb(d, cut, p->arg);
    return cut;
}

static int
plain_finish(void *state, const char *d, size_t n) {
    struct plain *p = state;
    if (n) p->cb(d, n, p->arg);
    return 0;
}

static void
plain_free(void *state) {
    free(state);
}

const struct extract_impl extract_plain = {plain_open, plain_feed, plain_finish, plain_free};
