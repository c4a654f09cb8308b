/* The queue's state changes on a real Redis: every script is driven
 * through redis_uv and checked with a blocking hiredis client (the oracle). */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "common/xalloc.h"
#include "tests/lib/testenv.h"

static uv_loop_t loop;
static redis_uv_t *redis;
static struct queue q;
static struct keys keys;
static struct keybuf kb; /* a key for the oracle (common/keys.h spells them) */
static redisContext *oracle;

static void
setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
    char prefix[96], err[256];
    testenv_prefix(prefix, sizeof prefix);
    keys_init(&keys, prefix);
    redis = redis_uv_new(&loop, testenv_redis_url(), NULL, "test", 5000, err, sizeof err);
    cr_assert_not_null(redis, "%s", err);
    for (int i = 0; i < 200 && !redis_uv_connected(redis); i++) uv_run(&loop, UV_RUN_ONCE);
    cr_assert(redis_uv_connected(redis), "redis not reachable");
    queue_init(&q, redis, &keys, 3600);

    /* The oracle: a plain blocking connection to the same server. */
    const char *url = testenv_redis_url(); /* redis://127.0.0.1:PORT[/db] */
    const char *hp = strstr(url, "://") + 3;
    char host[64];
    int port = 6379;
    sscanf(hp, "%63[^:]:%d", host, &port);
    oracle = redisConnect(host, port);
    cr_assert(oracle && !oracle->err);
}

static bool closed;

static void
teardown(void) {
    closed = false;
    redis_uv_close(redis, testenv_on_closed, &closed);
    testenv_run_until(&loop, &closed, 5000);
    cr_assert(closed);
    cr_assert_eq(testenv_loop_close(&loop), 0, "handles leaked");
    redisFree(oracle);
}

TestSuite(queue, .init = setup, .fini = teardown, .timeout = 30);

/* --- synchronous wrappers: call, then run the loop until the answer --- */

static bool done;
static int got_status;
static long long got_value;
static struct job got_job;
static bool got_job_set;
static struct queue_entry got_entries[16];
static size_t got_n;
static char got_state[32];
static long long got_total;

static void
wait_done(void) {
    cr_assert(testenv_run_until(&loop, &done, 5000), "no answer from redis");
}

static void
on_job(int status, const struct job *job, const char *errstr, void *arg) {
    (void)arg;
    got_status = status;
    cr_assert_eq(status, 0, "%s", errstr);
    job_free(&got_job);
    got_job_set = job != NULL;
    if (job) {
        got_job = *job;
        got_job.url = xstrdup(job->url);
        got_job.url_key = job->url_key ? xstrdup(job->url_key) : NULL;
        got_job.error = job->error ? xstrdup(job->error) : NULL;
        got_job.error_code = job->error_code ? xstrdup(job->error_code) : NULL;
        got_job.history = job->history ? xstrdup(job->history) : NULL;
        got_job.worker = job->worker ? xstrdup(job->worker) : NULL;
        got_job.result = job->result ? xstrdup(job->result) : NULL;
        got_job.waiting = job->waiting ? xstrdup(job->waiting) : NULL;
    }
    done = true;
}

static void
on_done(int status, long long value, const char *errstr, void *arg) {
    (void)arg;
    cr_assert_eq(status, 0, "%s", errstr);
    got_value = value;
    done = true;
}

static void
on_take(int status, const struct queue_entry *e, size_t n, const char *errstr, void *arg) {
    (void)arg;
    cr_assert_eq(status, 0, "%s", errstr);
    cr_assert_leq(n, 16);
    if (n > 0) memcpy(got_entries, e, n * sizeof *e); /* e may be NULL when nothing came */
    got_n = n;
    done = true;
}

static void
on_cancel(int status, const char *state, const char *errstr, void *arg) {
    (void)arg;
    cr_assert_eq(status, 0, "%s", errstr);
    snprintf(got_state, sizeof got_state, "%s", state ? state : "(unknown)");
    done = true;
}

static void
on_list(int status, long long total, const struct job *jobs, size_t n, const char *errstr,
        void *arg) {
    (void)arg;
    (void)jobs;
    cr_assert_eq(status, 0, "%s", errstr);
    got_total = total;
    got_n = n;
    done = true;
}

#define SYNC(call)                                                                                 \
    do {                                                                                           \
        done = false;                                                                              \
        int rc_ = (call);                                                                          \
        cr_assert_eq(rc_, 0, #call " -> %s", uv_strerror(rc_));                                    \
        wait_done();                                                                               \
    } while (0)

static char *
submit(const char *url) {
    SYNC(queue_submit(&q, url, NULL, on_job, NULL));
    cr_assert(got_job_set);
    return xstrdup(got_job.id);
}

static struct queue_entry
take_one(const char *consumer) {
    SYNC(queue_take(&q, redis, consumer, 1, 100, on_take, NULL));
    cr_assert_eq(got_n, 1, "nothing to take");
    return got_entries[0];
}

static long long
oracle_int(const char *fmt, const char *key) {
    redisReply *r = redisCommand(oracle, fmt, key);
    cr_assert_not_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static void
setup_group(void) {
    SYNC(queue_ensure_group(&q, on_done, NULL));
    SYNC(queue_ensure_group(&q, on_done, NULL)); /* BUSYGROUP is fine */
}

Test(queue, submit_then_get) {
    char *id = submit("http://example.com/a");
    cr_assert(job_id_valid(id));
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert(got_job_set);
    cr_assert_str_eq(got_job.url, "http://example.com/a");
    cr_assert_eq(got_job.state, JOB_QUEUED);
    cr_assert_eq(got_job.attempts, 0);
    cr_assert_gt(got_job.created_at_ms, 0);
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 1);
    free(id);
}

static enum queue_submit_outcome got_outcome;
static char got_other[JOB_ID_LEN + 1];

static int got_submit_state; /* the job on_submit got, or -1 */

static void
on_submit(int status, enum queue_submit_outcome outcome, const struct job *job,
          const char *other_id, const char *errstr, void *arg) {
    (void)arg;
    got_status = status;
    cr_assert_eq(status, 0, "%s", errstr);
    got_outcome = outcome;
    got_other[0] = '\0';
    got_submit_state = job ? (int)job->state : -1;
    if (job) snprintf(got_other, sizeof got_other, "%s", job->id);
    else snprintf(got_other, sizeof got_other, "%s", other_id ? other_id : "");
    done = true;
}

/* submit_with submits r and returns the id answered (the new job's or the other). */
static enum queue_submit_outcome
submit_with(const struct queue_submit_req *r, char id[JOB_ID_LEN + 1]) {
    SYNC(queue_submit_with(&q, r, on_submit, NULL));
    memcpy(id, got_other, JOB_ID_LEN + 1);
    return got_outcome;
}

Test(queue, a_live_page_is_joined_unless_fresh) {
    setup_group();
    struct queue_submit_req r = {.url = "HTTP://Example.com:80/p#x",
                                 .url_key = "http://example.com/p"};
    char first[JOB_ID_LEN + 1], id[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&r, first), QUEUE_CREATED);
    SYNC(queue_get(&q, first, on_job, NULL));
    cr_assert_str_eq(got_job.url, "HTTP://Example.com:80/p#x", "the URL as submitted");
    cr_assert_str_eq(got_job.url_key, "http://example.com/p");
    /* Queued, then started: joined. */
    cr_assert_eq(submit_with(&r, id), QUEUE_DEDUPLICATED);
    cr_assert_str_eq(id, first);
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    cr_assert_eq(submit_with(&r, id), QUEUE_DEDUPLICATED);
    cr_assert_str_eq(id, first);
    /* Another callback is another client's wish: a job of its own. */
    struct queue_submit_req cb = r;
    cb.callback_url = "http://hooks.example/h";
    cr_assert_eq(submit_with(&cb, id), QUEUE_CREATED);
    cr_assert_str_neq(id, first);
    /* fresh: a new job, which becomes the page's newest. */
    struct queue_submit_req fresh = r;
    fresh.fresh = true;
    char newest[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&fresh, newest), QUEUE_CREATED);
    cr_assert_str_neq(newest, first);
    cr_assert_eq(submit_with(&r, id), QUEUE_DEDUPLICATED);
    cr_assert_str_eq(id, newest);
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 3, "three jobs, no more");
    /* Once it has ended, a new one. */
    SYNC(queue_finish(&q, &e, "w1", on_done, NULL));
    SYNC(queue_cancel(&q, newest, on_cancel, NULL));
    cr_assert_eq(submit_with(&r, id), QUEUE_CREATED);
    cr_assert_str_neq(id, first);
    cr_assert_str_neq(id, newest);
    /* Another page is another job. */
    struct queue_submit_req other = {.url = "http://example.com/q",
                                     .url_key = "http://example.com/q"};
    char oid[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&other, oid), QUEUE_CREATED);
    cr_assert_str_neq(oid, id);
}

Test(queue, a_cached_job_is_the_answer_and_keys_are_remembered) {
    struct queue_submit_req r = {.url = "http://example.com/c",
                                 .url_key = "http://example.com/c",
                                 .cached_id = "0192f3a1-7c2e-7abc-8def-0123456789ab",
                                 .idem_key = "k1",
                                 .body_hash = "h1",
                                 .idem_ttl_s = 60};
    char id[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&r, id), QUEUE_CACHED);
    cr_assert_str_eq(id, r.cached_id);
    cr_assert_eq(oracle_int("EXISTS %s", keys_queue(&keys, &kb)), 0, "nothing queued");
    /* The same key and body later: the same answer, even without a cache. */
    r.cached_id = NULL;
    cr_assert_eq(submit_with(&r, id), QUEUE_REPLAY);
    cr_assert_str_eq(id, "0192f3a1-7c2e-7abc-8def-0123456789ab");
    r.body_hash = "h2";
    cr_assert_eq(submit_with(&r, id), QUEUE_CONFLICT);
    /* A joined job is remembered under its key too. */
    struct queue_submit_req a = {.url = "http://example.com/d", .url_key = "http://example.com/d"};
    char first[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&a, first), QUEUE_CREATED);
    a.idem_key = "k2";
    a.body_hash = "h";
    a.idem_ttl_s = 60;
    cr_assert_eq(submit_with(&a, id), QUEUE_DEDUPLICATED);
    cr_assert_str_eq(id, first);
    cr_assert_eq(submit_with(&a, id), QUEUE_REPLAY);
    cr_assert_str_eq(id, first);
    /* Unusable requests are refused before anything is sent. */
    struct queue_submit_req bad = {.url = "http://example.com/", .url_key = NULL};
    cr_assert_eq(queue_submit_with(&q, &bad, on_submit, NULL), UV_EINVAL);
    bad.url_key = "http://example.com/";
    bad.cached_id = "not-an-id";
    cr_assert_eq(queue_submit_with(&q, &bad, on_submit, NULL), UV_EINVAL);
    bad.cached_id = NULL;
    bad.idem_key = "k";
    cr_assert_eq(queue_submit_with(&q, &bad, on_submit, NULL), UV_EINVAL, "a key needs a hash");
    cr_assert_eq(queue_submit(&q, "ftp://example.com/", NULL, on_job, NULL), UV_EINVAL);
}

Test(queue, unknown_and_malformed_ids) {
    SYNC(queue_get(&q, "0192f3a1-7c2e-7abc-8def-0123456789ab", on_job, NULL));
    cr_assert_not(got_job_set);
    cr_assert_eq(queue_get(&q, "nope", on_job, NULL), UV_EINVAL);
    cr_assert_eq(queue_cancel(&q, "../x", on_cancel, NULL), UV_EINVAL);
}

Test(queue, start_finish_acknowledges) {
    setup_group();
    char *id = submit("http://example.com/b");
    struct queue_entry e = take_one("w1");
    cr_assert_str_eq(e.job_id, id);
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    cr_assert(got_job_set);
    cr_assert_eq(got_job.state, JOB_STARTED);
    cr_assert_eq(got_job.attempts, 1);
    cr_assert_str_eq(got_job.worker, "w1");
    SYNC(queue_finish(&q, &e, "w2", on_done, NULL));
    cr_assert_eq(got_value, 0, "another consumer cannot finish it");
    SYNC(queue_finish(&q, &e, "w1", on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_FINISHED);
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 0, "entry deleted");
    long long ttl = oracle_int("TTL %s", keys_job(&keys, id, &kb));
    cr_assert(ttl > 3500 && ttl <= 3600, "ended job expires after RESULT_TTL (ttl %lld)", ttl);
    free(id);
}

Test(queue, retry_parks_then_promotes_with_history) {
    setup_group();
    char *id = submit("http://example.com/c");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_retry(&q, &e, "w1", 0, "http_503", "service unavailable", on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_RETRYING);
    cr_assert_str_eq(got_job.error_code, "http_503");
    cr_assert_not_null(strstr(got_job.history, "service unavailable"));
    SYNC(queue_promote(&q, 10, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_QUEUED);
    struct queue_entry e2 = take_one("w2");
    cr_assert_str_eq(e2.job_id, id);
    cr_assert_str_neq(e2.stream_id, e.stream_id, "a new delivery");
    SYNC(queue_start(&q, &e2, "w2", 3, on_job, NULL));
    cr_assert_eq(got_job.attempts, 2);
    free(id);
}

Test(queue, fail_adds_to_failed_set_and_retry_requeues) {
    setup_group();
    char *id = submit("http://example.com/d");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_fail(&q, &e, "w1", "http_404", "not found", on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_failed_list(&q, 0, 10, on_list, NULL));
    cr_assert_eq(got_total, 1);
    cr_assert_eq(got_n, 1);
    cr_assert_eq(oracle_int("ZCARD %s", keys_ix_error(&keys, "http_404", &kb)), 1,
                 "in the search index of its error code");
    redisReply *r = redisCommand(oracle, "HGET %s failed:http_404", keys_stats(&keys, &kb));
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "1"),
              "failures counted by reason");
    freeReplyObject(r);
    const char *ids[] = {id};
    SYNC(queue_failed_retry(&q, ids, 1, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_QUEUED);
    cr_assert_eq(got_job.attempts, 0);
    SYNC(queue_failed_list(&q, 0, 10, on_list, NULL));
    cr_assert_eq(got_total, 0);
    free(id);
}

Test(queue, failed_delete) {
    setup_group();
    char *id = submit("http://example.com/e");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_failed_delete(&q, id, on_done, NULL));
    cr_assert_eq(got_value, 0, "a started job is not deleted");
    SYNC(queue_fail(&q, &e, "w1", "too_large", "page too large", on_done, NULL));
    SYNC(queue_failed_delete(&q, id, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_not(got_job_set);
    free(id);
}

Test(queue, cancel_only_before_start) {
    setup_group();
    char *a = submit("http://example.com/f");
    SYNC(queue_cancel(&q, a, on_cancel, NULL));
    cr_assert_str_eq(got_state, "canceled");
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 0, "canceled job left the stream");
    char *b = submit("http://example.com/g");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_cancel(&q, b, on_cancel, NULL));
    cr_assert_str_eq(got_state, "started");
    SYNC(queue_cancel(&q, "0192f3a1-7c2e-7abc-8def-0123456789ab", on_cancel, NULL));
    cr_assert_str_eq(got_state, "(unknown)");
    free(a);
    free(b);
}

Test(queue, rescue_takes_over_and_old_holder_loses_lease) {
    setup_group();
    char *id = submit("http://example.com/h");
    struct queue_entry e = take_one("dead");
    SYNC(queue_start(&q, &e, "dead", 3, on_job, NULL));
    usleep(300 * 1000);
    char cursor[48] = "0-0";
    SYNC(queue_rescue(&q, "alive", 200, 10, cursor, on_take, NULL));
    cr_assert_eq(got_n, 1);
    cr_assert_str_eq(got_entries[0].job_id, id);
    SYNC(queue_start(&q, &got_entries[0], "alive", 3, on_job, NULL));
    cr_assert(got_job_set);
    cr_assert_eq(got_job.attempts, 2);
    cr_assert_str_eq(got_job.worker, "alive");
    /* The old holder cannot end it, and learns it lost the lease. */
    SYNC(queue_finish(&q, &e, "dead", on_done, NULL));
    cr_assert_eq(got_value, 0);
    free(id);
}

static size_t lost_n;
static void
on_renew(int status, const char *const *lost, size_t n, const char *errstr, void *arg) {
    (void)arg;
    (void)lost;
    cr_assert_eq(status, 0, "%s", errstr);
    lost_n = n;
    done = true;
}

Test(queue, renew_keeps_lease_fresh) {
    setup_group();
    char *id = submit("http://example.com/i");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    int64_t started = clock_now_ms();
    usleep(300 * 1000);
    SYNC(queue_renew(&q, "w1", &e, 1, on_renew, NULL));
    cr_assert_eq(lost_n, 0);
    /* Without the renewal the delivery would be idle for at least the time
     * since it started; renewed, only since the renewal, 300 ms later. So
     * that minimum tells them apart whatever the pace of the machine. */
    char cursor[48] = "0-0";
    SYNC(queue_rescue(&q, "w2", (long)(clock_now_ms() - started), 10, cursor, on_take, NULL));
    cr_assert_eq(got_n, 0, "a renewed lease is not rescued");
    SYNC(queue_renew(&q, "w2", &e, 1, on_renew, NULL));
    cr_assert_eq(lost_n, 1, "w2 never held it");
    free(id);
}

Test(queue, poison_job_fails_after_max_deliveries) {
    setup_group();
    char *id = submit("http://example.com/poison");
    struct queue_entry e = take_one("w0");
    char cursor[48] = "0-0";
    for (int i = 0; i < 2; i++) {
        SYNC(queue_start(&q, &e, "w", 2, on_job, NULL));
        cr_assert(got_job_set, "delivery %d runs", i + 1);
        /* The holder dies; another worker rescues the delivery. */
        usleep(60 * 1000);
        snprintf(cursor, sizeof cursor, "0-0");
        SYNC(queue_rescue(&q, "w", 50, 10, cursor, on_take, NULL));
        cr_assert_eq(got_n, 1);
        e = got_entries[0];
    }
    SYNC(queue_start(&q, &e, "w", 2, on_job, NULL));
    cr_assert_not(got_job_set, "no third run");
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_FAILED);
    cr_assert_str_eq(got_job.error_code, "worker_lost");
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 0);
    free(id);
}

Test(queue, release_hands_back_without_counting) {
    setup_group();
    char *id = submit("http://example.com/j");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_release(&q, &e, "w1", on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_QUEUED);
    cr_assert_eq(got_job.attempts, 0);
    struct queue_entry e2 = take_one("w2");
    cr_assert_str_eq(e2.job_id, id);
    free(id);
}

/* --- the state machine: every operation from every state --- */

enum op {
    OP_START,
    OP_START_OUT_OF_ATTEMPTS,
    OP_FINISH,
    OP_FAIL,
    OP_RETRY,
    OP_RELEASE,
    OP_CANCEL,
    OP_PROMOTE,
    OP_FAILED_RETRY,
    OP_DEFER,
    OP_WAKE,
    NOPS
};
static const char *const op_names[NOPS] = {"start",        "start (out of attempts)",
                                           "finish",       "fail",
                                           "retry",        "release",
                                           "cancel",       "promote",
                                           "failed retry", "defer",
                                           "wake"};

#define Q JOB_QUEUED
#define S JOB_STARTED
#define R JOB_RETRYING
#define FI JOB_FINISHED
#define FA JOB_FAILED
#define C JOB_CANCELED
#define W JOB_WAITING
/* The state a job is in after each operation, by the state it was in
 * (the machine common/job.h describes). The delivery used is the job's
 * last one, held by the worker that runs it. */
static const enum job_state after[7][NOPS] = {
    /*   start out finish fail retry release cancel promote failed_retry defer wake */
    [JOB_QUEUED] = {S, FA, Q, Q, Q, Q, C, Q, Q, Q, Q},
    [JOB_STARTED] = {S, FA, FI, FA, R, Q, S, S, S, W, S},
    [JOB_RETRYING] = {R, R, R, R, R, R, C, Q, R, R, R},
    [JOB_FINISHED] = {FI, FI, FI, FI, FI, FI, FI, FI, FI, FI, FI},
    [JOB_FAILED] = {FA, FA, FA, FA, FA, FA, FA, FA, Q, FA, FA},
    [JOB_CANCELED] = {C, C, C, C, C, C, C, C, C, C, C},
    /* Waiting (politeness; due far ahead, its host's one slot taken). */
    [JOB_WAITING] = {W, W, W, W, W, W, C, W, W, W, Q},
};
#undef Q
#undef S
#undef R
#undef FI
#undef FA
#undef C
#undef W

/* fresh_queue moves q to a prefix of its own, so earlier jobs stay out. */
static void
fresh_queue(void) {
    char prefix[96];
    testenv_prefix(prefix, sizeof prefix);
    keys_init(&keys, prefix);
    queue_init(&q, redis, &keys, 3600);
    setup_group();
}

static enum job_state
state_of(const char *id) {
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert(got_job_set, "job %s is gone", id);
    return got_job.state;
}

/* defer_busy defers e's job for a host whose one slot someone else holds:
 * it waits (due far ahead) on the host's wait list. */
static void
defer_busy(const struct queue_entry *e) {
    freeReplyObject(redisCommand(oracle, "ZADD %s %lld other",
                                 keys_host_slots(&keys, "machine:80", &kb), 9999999999999LL));
    SYNC(queue_defer(&q, e, "w1", 9999999999999LL, "host_busy", "machine:80", 1, on_done, NULL));
}

/* job_in makes a job in state s; *e is its last delivery (held by w1). */
static char *
job_in(enum job_state s, struct queue_entry *e) {
    fresh_queue();
    char *id = submit("http://example.com/machine");
    *e = take_one("w1");
    if (s == JOB_CANCELED) {
        SYNC(queue_cancel(&q, id, on_cancel, NULL));
    } else if (s != JOB_QUEUED) {
        SYNC(queue_start(&q, e, "w1", 5, on_job, NULL));
        if (s == JOB_FINISHED) SYNC(queue_finish(&q, e, "w1", on_done, NULL));
        else if (s == JOB_FAILED) SYNC(queue_fail(&q, e, "w1", "http_404", "gone", on_done, NULL));
        else if (s == JOB_RETRYING)
            SYNC(queue_retry(&q, e, "w1", 0, "http_503", "busy", on_done, NULL));
        else if (s == JOB_WAITING) defer_busy(e);
    }
    cr_assert_eq(state_of(id), s, "set-up of %s", job_state_name(s));
    return id;
}

static void
apply(enum op op, const char *id, const struct queue_entry *e) {
    const char *ids[] = {id};
    switch (op) {
    case OP_START:
        SYNC(queue_start(&q, e, "w1", 5, on_job, NULL));
        break;
    case OP_START_OUT_OF_ATTEMPTS:
        SYNC(queue_start(&q, e, "w1", 0, on_job, NULL));
        break;
    case OP_FINISH:
        SYNC(queue_finish(&q, e, "w1", on_done, NULL));
        break;
    case OP_FAIL:
        SYNC(queue_fail(&q, e, "w1", "http_404", "gone", on_done, NULL));
        break;
    case OP_RETRY:
        SYNC(queue_retry(&q, e, "w1", 0, "http_503", "busy", on_done, NULL));
        break;
    case OP_RELEASE:
        SYNC(queue_release(&q, e, "w1", on_done, NULL));
        break;
    case OP_CANCEL:
        SYNC(queue_cancel(&q, id, on_cancel, NULL));
        break;
    case OP_PROMOTE:
        SYNC(queue_promote(&q, 10, on_done, NULL));
        break;
    case OP_FAILED_RETRY:
        SYNC(queue_failed_retry(&q, ids, 1, on_done, NULL));
        break;
    case OP_DEFER:
        defer_busy(e);
        break;
    case OP_WAKE:
        SYNC(queue_wake(&q, id, on_done, NULL));
        break;
    case NOPS:
        break;
    }
}

Test(queue, every_transition) {
    for (int s = JOB_QUEUED; s <= JOB_WAITING; s++) {
        for (int op = 0; op < NOPS; op++) {
            struct queue_entry e;
            char *id = job_in((enum job_state)s, &e);
            apply((enum op)op, id, &e);
            enum job_state got = state_of(id);
            cr_expect_eq(got, after[s][op], "%s, then %s: %s (expected %s)",
                         job_state_name((enum job_state)s), op_names[op], job_state_name(got),
                         job_state_name(after[s][op]));
            free(id);
        }
    }
}

Test(queue, promote_leaves_what_is_no_longer_due) {
    setup_group();
    char *id = submit("http://example.com/later");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_retry(&q, &e, "w1", 0, "http_503", "busy", on_done, NULL));
    /* Parked again with a later due time between the read of the due ids
     * and the move (another worker's retry): the move leaves it alone. */
    redisReply *r =
        redisCommand(oracle, "ZADD %s %lld %s", keys_retry(&keys, &kb), 9999999999999LL, id);
    freeReplyObject(r);
    SYNC(queue_promote(&q, 10, on_done, NULL));
    cr_assert_eq(got_value, 0);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_RETRYING);
    free(id);
}

Test(queue, failed_list_drops_expired_jobs) {
    setup_group();
    char *a = submit("http://example.com/fa");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_fail(&q, &e, "w1", "http_404", "gone", on_done, NULL));
    char *b = submit("http://example.com/fb");
    e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_fail(&q, &e, "w1", "http_404", "gone", on_done, NULL));
    freeReplyObject(redisCommand(oracle, "DEL %s", keys_job(&keys, a, &kb))); /* as if it expired */
    SYNC(queue_failed_list(&q, 0, 10, on_list, NULL));
    cr_assert_eq(got_n, 1);
    cr_assert_eq(got_total, 1, "the expired job left the failed set");
    SYNC(queue_failed_retry(&q, NULL, 10, on_done, NULL));
    cr_assert_eq(got_value, 1, "requeue all: the one left");
    SYNC(queue_get(&q, b, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_QUEUED);
    free(a);
    free(b);
}

/* lose hands e's delivery to a rescuer, as when its worker dies: the
 * next start records worker_lost for the attempt that was running. */
static struct queue_entry
lose(const struct queue_entry *e) {
    (void)e;
    usleep(60 * 1000);
    char cursor[48] = "0-0";
    SYNC(queue_rescue(&q, "w", 50, 10, cursor, on_take, NULL));
    cr_assert_eq(got_n, 1, "the lost delivery is rescued");
    return got_entries[0];
}

/* retry_then_take parks the job with code after its attempt on e and
 * brings it back as a new delivery. */
static struct queue_entry
retry_then_take(const struct queue_entry *e, const char *code) {
    SYNC(queue_retry(&q, e, "w", 0, code, "the job ran longer than JOB_TIMEOUT", on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_promote(&q, 10, on_done, NULL));
    cr_assert_eq(got_value, 1);
    return take_one("w");
}

/* count_codes counts the history entries with code. */
static int
count_codes(const char *history, const char *code) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"code\":\"%s\"", code);
    int n = 0;
    for (const char *p = history; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

Test(queue, final_error_counts_each_kind_of_failed_attempt) {
    /* timeout, timeout, lost, timeout, lost: the last attempt was lost,
     * and the message says what happened to all five. */
    setup_group();
    char *id = submit("http://example.com/hangs");
    struct queue_entry e = take_one("w");
    SYNC(queue_start(&q, &e, "w", 5, on_job, NULL)); /* 1 */
    e = retry_then_take(&e, "timeout");
    SYNC(queue_start(&q, &e, "w", 5, on_job, NULL)); /* 2 */
    e = retry_then_take(&e, "timeout");
    SYNC(queue_start(&q, &e, "w", 5, on_job, NULL)); /* 3, lost */
    e = lose(&e);
    SYNC(queue_start(&q, &e, "w", 5, on_job, NULL)); /* 4 */
    cr_assert_eq(got_job.attempts, 4);
    e = retry_then_take(&e, "timeout");
    SYNC(queue_start(&q, &e, "w", 5, on_job, NULL)); /* 5, lost */
    cr_assert_eq(got_job.attempts, 5);
    e = lose(&e);
    SYNC(queue_start(&q, &e, "w", 5, on_job, NULL));
    cr_assert_not(got_job_set, "no sixth run");

    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_FAILED);
    cr_assert_str_eq(got_job.error_code, "worker_lost", "the last attempt's code");
    cr_assert_str_eq(got_job.error,
                     "the worker running this job was lost (killed, crashed or cut off); giving "
                     "up after 5 attempts: 3 timeout, 2 worker_lost");
    cr_assert_eq(count_codes(got_job.history, "timeout"), 3, "%s", got_job.history);
    cr_assert_eq(count_codes(got_job.history, "worker_lost"), 2, "%s", got_job.history);
    free(id);
}

Test(queue, failure_message_counts_only_this_runs_attempts) {
    setup_group();
    char *id = submit("http://example.com/gone");
    /* One attempt: the message is the attempt's own. */
    struct queue_entry e = take_one("w");
    SYNC(queue_start(&q, &e, "w", 3, on_job, NULL));
    SYNC(queue_fail(&q, &e, "w", "http_404", "the server answered HTTP 404", on_done, NULL));
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_str_eq(got_job.error, "the server answered HTTP 404");

    /* Requeued by an admin: a new run, whose history starts again. */
    const char *ids[] = {id};
    SYNC(queue_failed_retry(&q, ids, 1, on_done, NULL));
    e = take_one("w");
    SYNC(queue_start(&q, &e, "w", 3, on_job, NULL));
    e = lose(&e);
    SYNC(queue_start(&q, &e, "w", 3, on_job, NULL));
    cr_assert_eq(got_job.attempts, 2);
    SYNC(queue_fail(&q, &e, "w", "http_404", "the server answered HTTP 404", on_done, NULL));
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_str_eq(got_job.error_code, "http_404");
    cr_assert_str_eq(got_job.error,
                     "the server answered HTTP 404; after 2 attempts: 1 worker_lost, 1 http_404");
    cr_assert_eq(count_codes(got_job.history, "http_404"), 2, "the history keeps both runs");
    free(id);
}

/* A finish notes whether the page's newest result has validators, for
 * 30 days; a finish without them clears the note; a finish that names
 * no page leaves it alone. */
Test(queue, a_finish_notes_whether_the_page_has_validators) {
    setup_group();
    const char *page = "http://example.com/noted";
    SYNC(queue_page_noted(&q, page, on_done, NULL));
    cr_assert_eq(got_value, 0, "nothing noted yet");
    const bool validators[] = {true, false, true};
    const long long want[] = {1, 0, 1};
    for (int i = 0; i < 3; i++) {
        free(submit(page));
        struct queue_entry e = take_one("w1");
        SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
        struct queue_result res = {.url_key = page, .validators = validators[i]};
        SYNC(queue_finish_with(&q, &e, "w1", &res, on_done, NULL));
        cr_assert_eq(got_value, 1, "finished");
        SYNC(queue_page_noted(&q, page, on_done, NULL));
        cr_assert_eq(got_value, want[i], "after finish %d", i);
    }
    long long ttl = oracle_int("TTL %s", keys_page(&keys, page, &kb));
    cr_assert(ttl > QUEUE_PAGE_TTL_S - 60 && ttl <= QUEUE_PAGE_TTL_S, "TTL %lld", ttl);
    /* No page named: the note stays. */
    free(submit(page));
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_finish_with(&q, &e, "w1", NULL, on_done, NULL));
    SYNC(queue_page_noted(&q, page, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_page_noted(&q, "http://example.com/other", on_done, NULL));
    cr_assert_eq(got_value, 0, "notes are per page");
}

/* max_age: the page's note answers with its newest finished job when
 * that ended recently enough; an older one means a new job; no note at
 * all answers "ask Postgres" and changes nothing. */
Test(queue, max_age_is_answered_from_the_pages_note) {
    setup_group();
    const char *page = "http://example.com/aged";
    struct queue_submit_req r = {.url = page,
                                 .url_key = page,
                                 .max_age_ms = 60000,
                                 .idem_key = "k1",
                                 .body_hash = "h1",
                                 .idem_ttl_s = 60};
    char id[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&r, id), QUEUE_FRESH_UNKNOWN);
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 0, "nothing created");
    cr_assert_eq(oracle_int("EXISTS %s", keys_idem(&keys, "k1", &kb)), 0, "nothing recorded");

    /* A finished job of the page, noted. */
    struct queue_submit_req plain = {.url = page, .url_key = page};
    char first[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&plain, first), QUEUE_CREATED);
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    struct queue_result res = {.url_key = page};
    SYNC(queue_finish_with(&q, &e, "w1", &res, on_done, NULL));
    cr_assert_eq(submit_with(&r, id), QUEUE_CACHED);
    cr_assert_str_eq(id, first, "the page's newest finished job");
    cr_assert_eq(got_submit_state, (int)JOB_FINISHED, "with its copy, as it finished");
    {
        /* The copy is the job's hash, field for field, and expires with it. */
        struct keybuf kc, kj;
        const char *copy = keys_page_job(&keys, page, &kc), *job = keys_job(&keys, first, &kj);
        long long job_ttl = oracle_int("TTL %s", job), copy_ttl = oracle_int("TTL %s", copy);
        cr_assert(job_ttl > 3500 && copy_ttl > 3500 && copy_ttl <= job_ttl,
                  "the copy expires with the job (ttl %lld, job %lld)", copy_ttl, job_ttl);
        cr_assert_eq(oracle_int("HLEN %s", copy), oracle_int("HLEN %s", job));
        redisReply *b = redisCommand(oracle, "HGET %s finished_at", copy);
        redisReply *c = redisCommand(oracle, "HGET %s finished_at", job);
        cr_assert(b && c && b->type == REDIS_REPLY_STRING && c->type == REDIS_REPLY_STRING);
        cr_assert_str_eq(b->str, c->str);
        freeReplyObject(b);
        freeReplyObject(c);
    }
    /* The copy expired (it lives as long as a job hash): the id alone. */
    freeReplyObject(redisCommand(oracle, "DEL %s", keys_page_job(&keys, page, &kb)));
    r.idem_key = r.body_hash = NULL;
    cr_assert_eq(submit_with(&r, id), QUEUE_CACHED);
    cr_assert_str_eq(id, first);
    cr_assert_eq(got_submit_state, -1);
    r.idem_key = "k1";
    r.body_hash = "h1";
    cr_assert_eq(submit_with(&r, id), QUEUE_REPLAY, "the idempotency key recorded the answer");
    cr_assert_gt(oracle_int("TTL %s", keys_page(&keys, page, &kb)), 86400, "the note lasts");
    cr_assert_str_eq(id, first);

    /* Ended longer ago than max_age: a new job, which a second submit
     * joins while it is live (the live job read after the script said). */
    freeReplyObject(redisCommand(oracle, "HSET %s at 1000", keys_page(&keys, page, &kb)));
    r.idem_key = r.body_hash = NULL;
    char second[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&r, second), QUEUE_CREATED);
    cr_assert_str_neq(second, first);
    cr_assert_eq(submit_with(&r, id), QUEUE_DEDUPLICATED);
    cr_assert_str_eq(id, second);
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 1, "one queued job");
}

/* A max_age submit without an Idempotency-Key is answered by the copy of
 * the page's newest finished job, read like a poll (no script): it
 * answers even with the note gone, which the script alone would call
 * unknown. A copy too old, of another page or not finished, and any
 * submit with a key, go to the script, which has no note here: unknown,
 * nothing created. */
Test(queue, a_fresh_copy_answers_max_age_without_the_script) {
    setup_group();
    const char *page = "http://example.com/copied";
    struct queue_submit_req plain = {.url = page, .url_key = page};
    char first[JOB_ID_LEN + 1], id[JOB_ID_LEN + 1];
    cr_assert_eq(submit_with(&plain, first), QUEUE_CREATED);
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    struct queue_result res = {.url_key = page};
    SYNC(queue_finish_with(&q, &e, "w1", &res, on_done, NULL));
    freeReplyObject(redisCommand(oracle, "DEL %s", keys_page(&keys, page, &kb)));

    struct queue_submit_req r = {.url = page, .url_key = page, .max_age_ms = 60000};
    cr_assert_eq(submit_with(&r, id), QUEUE_CACHED);
    cr_assert_str_eq(id, first);
    cr_assert_eq(got_submit_state, (int)JOB_FINISHED, "the copy itself is the answer");

    struct queue_submit_req keyed = r;
    keyed.idem_key = "k2";
    keyed.body_hash = "h2";
    keyed.idem_ttl_s = 60;
    cr_assert_eq(submit_with(&keyed, id), QUEUE_FRESH_UNKNOWN, "a keyed submit takes the script");

    struct keybuf kc, kj;
    const char *copy = keys_page_job(&keys, page, &kc), *job = keys_job(&keys, first, &kj);
    const char *spoil[] = {"HSET %s finished_at 1000", "HSET %s url_key http://example.com/x",
                           "HSET %s status started"};
    for (size_t i = 0; i < sizeof spoil / sizeof *spoil; i++) {
        /* The copy as queue_finish wrote it (the job's hash), then spoilt. */
        freeReplyObject(redisCommand(oracle, "COPY %s %s REPLACE", job, copy));
        cr_assert_eq(submit_with(&r, id), QUEUE_CACHED, "the copy answers again (%zu)", i);
        freeReplyObject(redisCommand(oracle, spoil[i], copy));
        cr_assert_eq(submit_with(&r, id), QUEUE_FRESH_UNKNOWN, "%s", spoil[i]);
    }
    cr_assert_eq(oracle_int("XLEN %s", keys_queue(&keys, &kb)), 0, "nothing created");
}

/* events_of lists the states in the job's event stream, space-separated. */
static void
events_of(const char *id, char *out, size_t n) {
    redisReply *r = redisCommand(oracle, "XRANGE %s - +", keys_events(&keys, id, &kb));
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    out[0] = '\0';
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *f = r->element[i]->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2)
            if (!strcmp(f->element[j]->str, "state"))
                snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? " " : "",
                         f->element[j + 1]->str);
    }
    freeReplyObject(r);
}

Test(queue, every_change_is_an_event_and_an_end_records_its_webhook) {
    setup_group();
    /* A subscriber on the events channel (the oracle's own connection). */
    redisContext *sub = redisConnect(oracle->tcp.host, oracle->tcp.port);
    cr_assert(sub && !sub->err);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", keys_events_channel(&keys, &kb)));

    SYNC(queue_submit(&q, "http://example.com/ev", "http://hooks.example/h", on_job, NULL));
    char id[JOB_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", got_job.id);
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_retry(&q, &e, "w1", 1, "http_503", "busy", on_done, NULL));
    SYNC(queue_promote(&q, 10, on_done, NULL));
    e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    struct queue_result res = {.summary = "{\"total_words\":1}"};
    SYNC(queue_finish_with(&q, &e, "w1", &res, on_done, NULL));
    char states[256];
    events_of(id, states, sizeof states);
    cr_assert_str_eq(states, "queued started retrying queued started finished");

    /* Each was announced as "<id> <state> <event id>", in order. */
    const char *want[] = {"queued", "started", "retrying", "queued", "started", "finished"};
    for (size_t i = 0; i < 6; i++) {
        redisReply *m = NULL;
        cr_assert_eq(redisGetReply(sub, (void **)&m), REDIS_OK);
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s %s ", id, want[i]);
        cr_assert_eq(strncmp(m->element[2]->str, prefix, strlen(prefix)), 0, "%s",
                     m->element[2]->str);
        freeReplyObject(m);
    }
    redisFree(sub);

    /* The end recorded the webhook delivery, due now. */
    redisReply *h = redisCommand(oracle, "HGET %s url", keys_hook(&keys, id, &kb));
    cr_assert_str_eq(h->str, "http://hooks.example/h");
    freeReplyObject(h);
    h = redisCommand(oracle, "HGET %s status", keys_hook(&keys, id, &kb));
    cr_assert_str_eq(h->str, "finished");
    freeReplyObject(h);
    cr_assert_eq(oracle_int("ZCARD %s", keys_hooks(&keys, &kb)), 1);
    /* The events expire with the job. */
    cr_assert_gt(oracle_int("PTTL %s", keys_events(&keys, id, &kb)), 0);

    /* A job without a callback ends with no delivery. */
    char *plain = submit("http://example.com/plain");
    SYNC(queue_cancel(&q, plain, on_cancel, NULL));
    events_of(plain, states, sizeof states);
    cr_assert_str_eq(states, "queued canceled");
    cr_assert_eq(oracle_int("EXISTS %s", keys_hook(&keys, plain, &kb)), 0);
    cr_assert_eq(oracle_int("ZCARD %s", keys_hooks(&keys, &kb)), 1);
    free(plain);
}

/* Politeness: a deferred job waits without its attempt, shows why, and
 * comes back by its due time, by a wake, or at once when the host's slot
 * freed meanwhile; a waiting job is not started and can be canceled. */
Test(queue, defer_and_wake) {
    setup_group();
    char *id = submit("http://example.com/polite");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    /* The host has one slot, taken by someone else: the job waits. */
    redisReply *r = redisCommand(oracle, "ZADD %s %lld other", keys_host_slots(&keys, "h:80", &kb),
                                 9999999999999LL);
    freeReplyObject(r);
    SYNC(queue_defer(&q, &e, "w1", 9999999999999LL, "host_busy", "h:80", 1, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_WAITING);
    cr_assert_str_eq(got_job.waiting, "host_busy");
    cr_assert_eq(got_job.attempts, 0, "the wait gave the attempt back");
    r = redisCommand(oracle, "ZSCORE %s %s", keys_host_wait(&keys, "h:80", &kb), id);
    cr_assert(r && r->type == REDIS_REPLY_STRING, "on the host's wait list");
    freeReplyObject(r);
    /* Not due: promote leaves it; a wake brings it back at once. */
    SYNC(queue_promote(&q, 10, on_done, NULL));
    cr_assert_eq(got_value, 0);
    SYNC(queue_wake(&q, id, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_QUEUED);
    cr_assert_null(got_job.waiting);
    SYNC(queue_wake(&q, id, on_done, NULL));
    cr_assert_eq(got_value, 0, "only a waiting job is woken");

    /* Deferred again while the slot is free: queued again at once. */
    e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    r = redisCommand(oracle, "DEL %s", keys_host_slots(&keys, "h:80", &kb));
    freeReplyObject(r);
    SYNC(queue_defer(&q, &e, "w1", 9999999999999LL, "host_busy", "h:80", 1, on_done, NULL));
    cr_assert_eq(got_value, 2);
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_QUEUED);

    /* Paused: due in the past, so promote brings it back. */
    e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_defer(&q, &e, "w1", 1, "host_paused", "h:80", 1, on_done, NULL));
    cr_assert_eq(got_value, 1);
    SYNC(queue_promote(&q, 10, on_done, NULL));
    cr_assert_eq(got_value, 1);

    /* Waiting: a stale delivery does not start it; cancel ends it. */
    e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_defer(&q, &e, "w1", 9999999999999LL, "host_pacing", "h:80", 1, on_done, NULL));
    SYNC(queue_start(&q, &e, "w2", 3, on_job, NULL));
    cr_assert_not(got_job_set, "a waiting job does not start");
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_WAITING);
    SYNC(queue_cancel(&q, id, on_cancel, NULL));
    cr_assert_str_eq(got_state, "canceled");
    /* Every move in and out of waiting is an event (SSE, long-polls). */
    char states[256];
    events_of(id, states, sizeof states);
    cr_assert_str_eq(states, "queued started waiting queued started queued started waiting queued "
                             "started waiting canceled");
    free(id);
}

/* A job whose host's state is on another shard (common/shards.h) waits
 * out its due time: no wait list here, and not queued again at once
 * because this shard sees no slot of that host. */
Test(queue, defer_for_a_host_of_another_shard) {
    setup_group();
    char *id = submit("http://example.com/elsewhere");
    struct queue_entry e = take_one("w1");
    SYNC(queue_start(&q, &e, "w1", 3, on_job, NULL));
    SYNC(queue_defer(&q, &e, "w1", 9999999999999LL, "host_busy", "far:80", -1, on_done, NULL));
    cr_assert_eq(got_value, 1, "waiting, not queued again");
    SYNC(queue_get(&q, id, on_job, NULL));
    cr_assert_eq(got_job.state, JOB_WAITING);
    cr_assert_eq(oracle_int("EXISTS %s", keys_host_wait(&keys, "far:80", &kb)), 0);
    free(id);
}

/* A take that does not wait answers at once, empty or not. */
Test(queue, take_without_waiting) {
    setup_group();
    /* (BLOCK 0 would wait for ever: SYNC would fail on its deadline.) */
    SYNC(queue_take(&q, redis, "w1", 5, 0, on_take, NULL));
    cr_assert_eq(got_n, 0);
    char *id = submit("http://example.com/now");
    SYNC(queue_take(&q, redis, "w1", 5, 0, on_take, NULL));
    cr_assert_eq(got_n, 1);
    cr_assert_str_eq(got_entries[0].job_id, id);
    free(id);
}

/* The search indexes (common/job_search.h): a submit adds the job to the
 * index of every job, of its host and of its page; the host's and page's
 * expire a horizon (RESULT_TTL + 7 days) after their last add; and adds
 * trim the entries older than the horizon. */
static int64_t fake_now;

static int64_t
fake_clock(void) {
    return fake_now;
}

Test(queue, search_indexes_are_added_to_and_trimmed_by_age) {
    int64_t (*real)(void) = clock_now_ms_fn;
    int64_t horizon_ms = (3600 + QUEUE_LIVE_TTL_S) * 1000LL;
    fake_now = real() - horizon_ms - 60000;
    clock_now_ms_fn = fake_clock;
    char *old = submit("http://Example.com:80/old");
    clock_now_ms_fn = real;
    struct keybuf ka, kh, ku;
    keys_ix_all(&keys, &ka);
    keys_ix_host(&keys, "example.com", &kh);
    keys_ix_url(&keys, "http://example.com/old", &ku);
    cr_assert_eq(oracle_int("ZCARD %s", ka.s), 1);
    cr_assert_eq(oracle_int("ZCARD %s", kh.s), 1);
    cr_assert_eq(oracle_int("ZCARD %s", ku.s), 1);
    long long ttl = oracle_int("PTTL %s", kh.s);
    cr_assert(ttl > horizon_ms - 60000 && ttl <= horizon_ms, "host index ttl %lld", ttl);
    cr_assert_eq(oracle_int("PTTL %s", ka.s), -1, "the index of every job stays");
    /* One add in sixteen trims (an id ending in 0): submit until one did. */
    int n = 0;
    char url[64];
    while (oracle_int("ZCARD %s", ka.s) == n + 1) {
        cr_assert_lt(n, 400, "no add trimmed the old entry");
        snprintf(url, sizeof url, "http://other.example/%d", n++);
        free(submit(url));
    }
    cr_assert_eq(oracle_int("ZCARD %s", ka.s), n, "the old job trimmed, the new ones kept");
    redisReply *r = redisCommand(oracle, "ZSCORE %s %s", ka.s, old);
    cr_assert(r && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    free(old);
}
