/* Word counts and the stop list. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

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

Test(stopwords, nltk_list) {
    struct stopwords sw;
    char err[256];
    cr_assert_eq(stopwords_load(&sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err),
                 0, "%s", err);
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
