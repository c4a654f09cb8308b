#include "tests/lib/redis_rec.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/lib/testenv.h"

void
redis_rec_on_reply(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    (void)r;
    struct redis_rec *rec = arg;
    rec->calls++;
    if (!reply) {
        rec->nulls++;
        cr_assert_not_null(errstr);
        snprintf(rec->err, sizeof rec->err, "%s", errstr);
    } else {
        cr_assert_null(errstr);
        rec->type = reply->type;
        rec->integer = reply->integer;
        rec->len = reply->str ? reply->len : 0;
        size_t n = rec->len < sizeof rec->str - 1 ? rec->len : sizeof rec->str - 1;
        if (reply->str) memcpy(rec->str, reply->str, n);
        rec->str[n] = '\0';
    }
    if (rec->close_me) {
        redis_uv_t *c = rec->close_me;
        rec->close_me = NULL;
        redis_uv_close(c, NULL, NULL);
    }
}

void
redis_rec_on_state(redis_uv_t *r, bool connected, void *arg) {
    (void)r;
    struct redis_state *st = arg;
    if (connected) st->ups++;
    else st->downs++;
    st->up = connected;
}

void
redis_rec_send(redis_uv_t *r, struct redis_rec *rec, int argc, const char **argv,
               const size_t *lens) {
    cr_assert_eq(redis_uv_command(r, redis_rec_on_reply, rec, argc, argv, lens), 0);
}

struct wait_calls {
    const struct redis_rec *rec;
    int n;
};

static bool
has_calls(void *arg) {
    const struct wait_calls *w = arg;
    return w->rec->calls >= w->n;
}

void
redis_rec_wait(uv_loop_t *loop, struct redis_rec *rec, int n, int timeout_ms) {
    struct wait_calls w = {rec, n};
    testenv_run_until_pred(loop, has_calls, &w, timeout_ms);
    cr_assert_eq(rec->calls, n);
}

void
redis_rec_close(uv_loop_t *loop, redis_uv_t *r) {
    bool closed = false;
    redis_uv_close(r, testenv_on_closed, &closed);
    cr_assert(testenv_run_until(loop, &closed, 5000), "close callback never ran");
}
