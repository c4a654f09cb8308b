/* batch_parse: the three body forms of POST /api/v1/batches, line by
 * line, and the bodies refused whole. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "web/batch_parse.h"

static struct batch_input in;
static struct buf big; /* a long body, freed on every path */

static void
release(void) {
    batch_input_free(&in);
    buf_free(&big);
}

TestSuite(batch_parse, .fini = release);

static int
parse(enum batch_format f, const char *body, struct batch_parse_error *e) {
    return batch_parse(f, body, strlen(body), &in, e);
}

Test(batch_parse, json_lines_keep_their_index_and_reason) {
    struct batch_parse_error e;
    cr_assert_eq(parse(BATCH_JSON,
                       "{\"urls\": [\"HTTP://Example.com:80/a#x\", null, \"ftp://x/\"], "
                       "\"max_age\": 60}",
                       &e),
                 0, "%s", e.detail);
    cr_assert_eq(in.n, 3);
    cr_assert_eq(in.valid, 1);
    cr_assert_eq(in.max_age_s, 60);
    cr_assert_str_eq(in.lines[0].url, "HTTP://Example.com:80/a#x");
    cr_assert_str_eq(in.lines[0].url_key, "http://example.com/a");
    cr_assert_null(in.lines[1].url_key);
    cr_assert_str_eq(in.lines[1].reason, "not a string");
    cr_assert_null(in.lines[2].url_key);
    cr_assert_neq(strlen(in.lines[2].reason), 0);
}

Test(batch_parse, text_skips_blanks_and_comments_and_trims) {
    struct batch_parse_error e;
    cr_assert_eq(
        parse(BATCH_TEXT, "# list\r\n\r\n \thttp://a.example/ \r\nbad line\nhttp://b.example/", &e),
        0);
    cr_assert_eq(in.n, 3);
    cr_assert_str_eq(in.lines[0].url, "http://a.example/");
    cr_assert_null(in.lines[1].url_key);
    cr_assert_str_eq(in.lines[2].url_key, "http://b.example/");
}

Test(batch_parse, csv_reads_quotes_crlf_and_the_url_column) {
    struct batch_parse_error e;
    cr_assert_eq(
        parse(BATCH_CSV,
              "id,Url\r\n1,\"http://a.example/?q=1,2\"\r\n\"2\r\n\",http://b.example/\n3\r\n", &e),
        0, "%s", e.detail);
    cr_assert_eq(in.n, 3);
    cr_assert_str_eq(in.lines[0].url, "http://a.example/?q=1,2");
    cr_assert_str_eq(in.lines[1].url_key, "http://b.example/");
    cr_assert_str_eq(in.lines[2].reason, "the record has no url field");
}

Test(batch_parse, bodies_refused_whole) {
    static const struct {
        enum batch_format f;
        const char *body;
        int status;
    } cases[] = {
        {BATCH_JSON, "[\"http://a/\"]", 400},
        {BATCH_JSON, "{\"urls\": {}}", 422},
        {BATCH_JSON, "{\"urls\": [], \"fresh\": 1}", 422},
        {BATCH_JSON, "{\"urls\": []}", 422},
        {BATCH_TEXT, "\n\n# nothing\n", 422},
        {BATCH_CSV, "name\r\nx\r\n", 422},
        {BATCH_CSV, "url\r\n\"open", 400},
        {BATCH_CSV, "", 422},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct batch_parse_error e;
        cr_expect_eq(parse(cases[i].f, cases[i].body, &e), -1, "%s", cases[i].body);
        cr_expect_eq(e.status, cases[i].status, "%s: %d %s", cases[i].body, e.status, e.detail);
        cr_expect_eq(in.n, 0);
    }
}

Test(batch_parse, more_than_ten_thousand_lines_is_413) {
    struct buf *b = &big;
    buf_init(b);
    for (int i = 0; i < BATCH_MAX_LINES; i++) buf_printf(b, "http://a.example/%d\n", i);
    struct batch_parse_error e;
    cr_assert_eq(batch_parse(BATCH_TEXT, b->data, b->len, &in, &e), 0);
    cr_assert_eq(in.valid, BATCH_MAX_LINES);
    batch_input_free(&in);
    buf_append_str(b, "http://one.more/\n");
    cr_assert_eq(batch_parse(BATCH_TEXT, b->data, b->len, &in, &e), -1);
    cr_assert_eq(e.status, 413);
}
