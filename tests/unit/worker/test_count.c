/* Word counts and the stop list. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "worker/count.h"
#include "worker/stopwords.h"

static void
add(struct count_table *t, const char *w, int times) {
    for (int i = 0; i < times; i++) count_add(t, w, strlen(w));
}

Test(count, totals_top_and_ties) {
    struct count_table t;
    count_init(&t);
    add(&t, "pear", 3);
    add(&t, "apple", 3);
    add(&t, "fig", 5);
    add(&t, "kiwi", 1);
    cr_assert_eq(count_total(&t), 12);
    cr_assert_eq(count_unique(&t), 4);
    struct count_entry top[3];
    cr_assert_eq(count_top(&t, 3, top), 3);
    cr_assert_str_eq(top[0].word, "fig");
    cr_assert_eq(top[0].count, 5);
    /* a tie is broken by the word, so results never depend on hashing */
    cr_assert_str_eq(top[1].word, "apple");
    cr_assert_str_eq(top[2].word, "pear");
    struct count_entry all[10];
    cr_assert_eq(count_top(&t, 10, all), 4);
    count_free(&t);
}

Test(count, grows_and_stays_exact) {
    struct count_table t;
    count_init(&t);
    char w[32];
    /* word i appears (i % 7) + 1 times: totals known by construction */
    uint64_t want = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(w, sizeof w, "w%d", i);
        add(&t, w, i % 7 + 1);
        want += (uint64_t)(i % 7 + 1);
    }
    cr_assert_eq(count_unique(&t), 20000);
    cr_assert_eq(count_total(&t), want);
    struct count_entry top[1];
    count_top(&t, 1, top);
    cr_assert_eq(top[0].count, 7);
    count_free(&t);
}

Test(count, json_object_sorted_and_escaped) {
    struct count_table t;
    count_init(&t);
    add(&t, "b", 2);
    add(&t, "a\"q", 1);
    add(&t, "é", 4);
    struct buf b;
    buf_init(&b);
    cr_assert_eq(count_to_json(&t, &b), 0);
    json_error_t je;
    json_t *v = json_loads(b.data, 0, &je);
    cr_assert_not_null(v, "%s: %s", b.data, je.text);
    cr_assert_eq(json_object_size(v), 3);
    cr_assert_eq(json_integer_value(json_object_get(v, "b")), 2);
    cr_assert_eq(json_integer_value(json_object_get(v, "a\"q")), 1);
    cr_assert_eq(json_integer_value(json_object_get(v, "é")), 4);
    json_decref(v);
    buf_free(&b);
    count_free(&t);
}

/* count_to_json writes keys itself (common/json_out.h): jansson reads each
 * back as the same word, control characters, quotes, backslashes and
 * non-ASCII included (test_json_out has the hostile strings). */
Test(count, json_keys_read_back_by_jansson) {
    static const char *const words[] = {
        "plain", "q\"uote", "back\\slash",       "tab\there",    "nl\nx", "\x01ctl",
        "\x1f",  "sl/ash",  "\xc3\xa9t\xc3\xa9", "\xe2\x80\xa8", "\x7f"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        struct count_table t;
        count_init(&t);
        count_add_n(&t, words[i], strlen(words[i]), 1234567890123ULL);
        struct buf b;
        buf_init(&b);
        count_to_json(&t, &b);
        json_error_t je;
        json_t *o = json_loads(b.data, 0, &je);
        cr_assert_not_null(o, "word %zu: %s: %s", i, b.data, je.text);
        cr_expect_eq(json_object_size(o), 1, "word %zu", i);
        json_t *v = json_object_get(o, words[i]);
        cr_expect(json_is_integer(v) && json_integer_value(v) == 1234567890123LL, "word %zu: %s", i,
                  b.data);
        json_decref(o);
        buf_free(&b);
        count_free(&t);
    }
    struct count_table t;
    count_init(&t);
    count_add(&t, "\xff\xfe", 2);
    struct buf b;
    buf_init(&b);
    count_to_json(&t, &b);
    /* Not UTF-8 (the tokenizer never makes such a word): one U+FFFD per
     * ill-formed byte sequence, as json_out writes any string. */
    cr_expect_str_eq(b.data, "{\"\xEF\xBF\xBD\xEF\xBF\xBD\":1}");
    buf_free(&b);
    count_free(&t);
}

Test(stopwords, nltk_list) {
    struct stopwords sw;
    char err[256];
    cr_assert_eq(
        stopwords_load(&sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(sw.n, 179);
    cr_assert(stopwords_contains(&sw, "the", 3));
    cr_assert(stopwords_contains(&sw, "don't", 5));
    cr_assert(stopwords_contains(&sw, "don\xe2\x80\x99t", 7), "typographic apostrophe");
    cr_assert_not(stopwords_contains(&sw, "python", 6));
    cr_assert_not(stopwords_contains(&sw, "th", 2));
    stopwords_free(&sw);
}

Test(stopwords, missing_file_is_an_error) {
    struct stopwords sw;
    char err[256] = "";
    cr_assert_lt(stopwords_load(&sw, "/nonexistent/stopwords.txt", err, sizeof err), 0);
    cr_assert(strstr(err, "nonexistent") || strlen(err) > 0, "%s", err);
}

/* write_list writes a stop list to a temporary file; returns its path. */
static char *
write_list(const char *content) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/wc-stop-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(content, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

Test(stopwords, a_file_replaces_the_list) {
    char *path = write_list("# my list\n  Foo \nBAR\r\n\n\t\n\xc3\x89tat\ndon\xe2\x80\x99t\n"
                            "E\xcc\x81t\xc3\xa9\nfoo\n");
    struct stopwords sw;
    char err[256];
    cr_assert_eq(stopwords_load(&sw, path, err, sizeof err), 0, "%s", err);
    unlink(path);
    cr_expect_eq(sw.n, 5, "foo (twice), bar, état, don't, été");
    cr_expect(stopwords_contains(&sw, "foo", 3), "white space trimmed, case folded");
    cr_expect(stopwords_contains(&sw, "bar", 3));
    cr_expect(stopwords_contains(&sw, "\xc3\xa9tat", 5), "É folded");
    cr_expect(stopwords_contains(&sw, "\xc3\xa9t\xc3\xa9", 5), "decomposed É made NFC");
    cr_expect(stopwords_contains(&sw, "don't", 5), "’ in the file is the plain apostrophe");
    cr_expect(stopwords_contains(&sw, "don\xe2\x80\x99t", 7));
    cr_expect_not(stopwords_contains(&sw, "the", 3), "NLTK's list is gone");
    cr_expect_not(stopwords_contains(&sw, "# my list", 9));
    cr_expect_not(stopwords_contains(&sw, "fo", 2));
    cr_expect_not(stopwords_contains(&sw, "foobar", 6));
    stopwords_free(&sw);
}

Test(stopwords, bad_files_are_refused) {
    const char *bad[] = {
        "", "# only a comment\n\n", "ok\n\xff\xfe\n",
        "ok\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_list(bad[i]);
        struct stopwords sw;
        char err[256] = "";
        cr_expect_lt(stopwords_load(&sw, path, err, sizeof err), 0, "case %zu loaded", i);
        cr_expect(strstr(err, path) != NULL, "case %zu: the message names the file: %s", i, err);
        unlink(path);
    }
}

static bool
not_stop(const char *w, size_t n, void *arg) {
    return !stopwords_contains(arg, w, n);
}

Test(count, filter_keeps_counts_of_the_rest) {
    struct stopwords sw;
    char err[256];
    cr_assert_eq(
        stopwords_load(&sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err), 0);
    struct count_table all, rest;
    count_init(&all);
    count_init(&rest);
    add(&all, "the", 7);
    add(&all, "python", 3);
    add(&all, "don\xe2\x80\x99t", 2);
    add(&all, "counting", 1);
    char w[16];
    for (int i = 0; i < 1000; i++) { /* enough to make the table grow */
        snprintf(w, sizeof w, "w%d", i);
        add(&all, w, 2);
    }
    count_filter(&rest, &all, not_stop, &sw);
    cr_expect_eq(count_total(&all), 7 + 3 + 2 + 1 + 2000);
    cr_expect_eq(count_unique(&rest), 1002);
    cr_expect_eq(count_total(&rest), 3 + 1 + 2000);
    struct count_entry top[2];
    cr_assert_eq(count_top(&rest, 2, top), 2);
    cr_expect_str_eq(top[0].word, "python");
    cr_expect_eq(top[0].count, 3);
    cr_expect_str_eq(top[1].word, "w0", "ties by word: w0 < w1 < w10 < ...");
    count_free(&all);
    count_free(&rest);
    stopwords_free(&sw);
}

Test(count, ties_in_byte_order_and_long_words) {
    struct count_table t;
    count_init(&t);
    const char *words[] = {"b", "é", "a", "ab", "z", "aa"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) add(&t, words[i], 1);
    /* a word longer than an arena block */
    size_t big = COUNT_ARENA_BLOCK * 2;
    char *huge = malloc(big);
    memset(huge, 'x', big);
    count_add(&t, huge, big);
    count_add(&t, huge, big);
    struct count_entry top[10];
    cr_assert_eq(count_top(&t, 10, top), 7);
    cr_expect_eq(top[0].len, big);
    cr_expect_eq(top[0].count, 2);
    const char *order[] = {"a", "aa", "ab", "b", "z", "é"};
    for (size_t i = 0; i < 6; i++)
        cr_expect_str_eq(top[i + 1].word, order[i], "position %zu", i + 1);
    free(huge);
    count_free(&t);
}
