#include "worker/tally.h"

int
tally_init(struct tally *t, const struct stopwords *sw, char *err, size_t errlen) {
    if (tokenizer_init(&t->tok, err, errlen) < 0) return -1;
    t->sw = sw;
    count_init(&t->all);
    count_init(&t->no_stop);
    return 0;
}

static void
on_word(const char *word, size_t len, void *arg) {
    count_add(arg, word, len);
}

void
tally_text(const char *text, size_t len, void *arg) {
    struct tally *t = arg;
    tokenize_text(&t->tok, text, len, on_word, &t->all);
}

static bool
not_stop_word(const char *word, size_t len, void *arg) {
    return !stopwords_contains(arg, word, len);
}

void
tally_finish(struct tally *t) {
    count_filter(&t->no_stop, &t->all, not_stop_word, (void *)t->sw);
}

void
tally_free(struct tally *t) {
    tokenizer_free(&t->tok);
    count_free(&t->all);
    count_free(&t->no_stop);
}
