/* redis_rec — recording callbacks for the tests of redis_uv: what each
 * command's callback got, and the connection's ups and downs.
 *
 * Owns nothing: the records are the test's (zero them before use); a
 * reply's string is copied into the record, cut at 255 bytes (len keeps
 * the whole length). */
#ifndef WC_TEST_REDIS_REC_H
#define WC_TEST_REDIS_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/redis_uv.h"

struct redis_rec {
    int calls;
    int nulls; /* calls with reply == NULL */
    int type;
    long long integer;
    char str[256]; /* NUL-terminated */
    size_t len;
    char err[128];        /* errstr of the last NULL reply */
    redis_uv_t *close_me; /* close this connection from inside the callback */
};

struct redis_state {
    int ups, downs;
    bool up;
};

/* redis_rec_on_reply is a redis_uv_cb; arg is a struct redis_rec. */
void redis_rec_on_reply(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg);
/* redis_rec_on_state is a redis_uv_state_cb; arg is a struct redis_state. */
void redis_rec_on_state(redis_uv_t *r, bool connected, void *arg);
/* redis_rec_send sends argv with rec recording the reply, and fails the
 * test when redis_uv refuses it. */
void redis_rec_send(redis_uv_t *r, struct redis_rec *rec, int argc, const char **argv,
                    const size_t *lens);
/* redis_rec_wait runs loop until rec has n calls, for at most timeout_ms,
 * and fails the test when it has another number. */
void redis_rec_wait(uv_loop_t *loop, struct redis_rec *rec, int n, int timeout_ms);
/* redis_rec_close closes r and waits for its close callback. */
void redis_rec_close(uv_loop_t *loop, redis_uv_t *r);

#endif
