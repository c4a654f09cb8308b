/* fuzz_extract — libFuzzer target for a page's way from bytes to counts:
 * charset decision and conversion, text extraction (the extract stage's
 * HTML implementation, fed in pieces), word segmentation and counting, the stop word filter, the top
 * words and the JSON of the counts. `make fuzz` runs it.
 *
 * Input: byte 0 picks the charset the HTTP header declares (or none),
 * byte 1 the size of the pieces the page arrives in; the rest is the
 * page. Besides crashes, leaks and hangs, it checks what must hold for
 * any page:
 *   - the UTF-8 check and ICU's UTF-8 converter give the same bytes;
 *   - the tokenizer's ASCII fast path gives exactly ICU's words;
 *   - every word is non-empty, well-formed UTF-8, with no white space;
 *   - the counts add up, and the JSON of the counts parses back. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/charset.h"
#include "worker/count.h"
#include "worker/extract.h"
#include "worker/stopwords.h"
#include "worker/tokenize.h"

static const char *const charsets[] = {NULL,       "utf-8",       "iso-8859-1",   "shift_jis",
                                       "utf-16le", "utf-16be",    "utf-16",       "euc-jp",
                                       "gb18030",  "koi8-r",      "windows-1251", "big5",
                                       "euc-kr",   "iso-2022-jp", "nonsense",     "UTF-32"};

static struct tokenizer tok;
static struct stopwords sw;

int
LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[256];
    if (tokenizer_init(&tok, err, sizeof err) < 0 ||
        stopwords_load(&sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_extract: %s\n", err);
        abort();
    }
    return 0;
}

static void
on_text(const char *text, size_t len, void *arg) {
    buf_append(arg, text, len);
}

struct words {
    struct buf joined; /* the words, each followed by '\n' */
    uint64_t n;
};

static void
on_word(const char *w, size_t len, void *arg) {
    struct words *ws = arg;
    if (len == 0 || charset_utf8_valid_prefix((const unsigned char *)w, len) != len) abort();
    for (size_t i = 0; i < len; i++)
        if (w[i] == ' ' || w[i] == '\n' || w[i] == '\t' || w[i] == '\r') abort();
    buf_append(&ws->joined, w, len);
    buf_append_char(&ws->joined, '\n');
    ws->n++;
}

static void
count_word(const char *w, size_t len, void *arg) {
    count_add(arg, w, len);
}

static bool
not_stop(const char *w, size_t len, void *arg) {
    return !stopwords_contains(arg, w, len);
}

/* check_utf8 compares the UTF-8 check with ICU's converter on the page. */
static void
check_utf8(const char *data, size_t len, size_t chunk) {
    struct charset_conv fast, icu;
    char err[128];
    if (charset_conv_open(&fast, "utf-8", err, sizeof err) < 0) abort();
    if (charset_conv_open(&icu, "utf-8", err, sizeof err) < 0) abort();
    icu.utf8 = false;
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    for (size_t off = 0; off < len; off += chunk)
        charset_conv_feed(&fast, data + off, len - off < chunk ? len - off : chunk, false, &a);
    charset_conv_feed(&fast, "", 0, true, &a);
    charset_conv_feed(&icu, data, len, true, &b);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) abort();
    buf_free(&a);
    buf_free(&b);
    charset_conv_close(&fast);
    charset_conv_close(&icu);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const char *header = charsets[data[0] % (sizeof charsets / sizeof charsets[0])];
    size_t chunk = 1 + (size_t)data[1] * 17;
    const char *page = (const char *)data + 2;
    size_t len = size - 2;

    check_utf8(page, len, chunk);

    struct buf text;
    buf_init(&text);
    extract_t *x = extract_open(extract_find("text/html"), header, on_text, &text);
    bool ok = true;
    for (size_t off = 0; off < len && ok; off += chunk)
        ok = extract_feed(x, page + off, len - off < chunk ? len - off : chunk) == 0;
    if (ok) ok = extract_finish(x) == 0;
    extract_free(x);
    if (!ok) {
        buf_free(&text);
        return 0;
    }
    if (text.len &&
        charset_utf8_valid_prefix((const unsigned char *)text.data, text.len) != text.len)
        abort(); /* extraction hands on UTF-8 only */

    struct words fast = {0}, slow = {0};
    buf_init(&fast.joined);
    buf_init(&slow.joined);
    tokenize_text(&tok, text.data ? text.data : "", text.len, on_word, &fast);
    tokenize_text_icu(&tok, text.data ? text.data : "", text.len, on_word, &slow);
    if (fast.n != slow.n || fast.joined.len != slow.joined.len ||
        (fast.joined.len && memcmp(fast.joined.data, slow.joined.data, fast.joined.len) != 0))
        abort();

    struct count_table all, rest;
    count_init(&all);
    count_init(&rest);
    tokenize_text(&tok, text.data ? text.data : "", text.len, count_word, &all);
    if (count_total(&all) != fast.n) abort();
    count_filter(&rest, &all, not_stop, &sw);
    if (count_total(&rest) > count_total(&all) || count_unique(&rest) > count_unique(&all)) abort();
    struct count_entry top[10];
    int n = count_top(&rest, 10, top);
    for (int i = 1; i < n; i++)
        if (top[i].count > top[i - 1].count) abort();
    struct buf js;
    buf_init(&js);
    count_to_json(&all, &js);
    json_t *v = json_loadb(js.data, js.len, 0, NULL);
    if (!v || json_object_size(v) != count_unique(&all)) abort();
    json_decref(v);

    buf_free(&js);
    count_free(&all);
    count_free(&rest);
    buf_free(&fast.joined);
    buf_free(&slow.joined);
    buf_free(&text);
    return 0;
}
