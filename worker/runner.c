#include "worker/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "common/xalloc.h"
#include "worker/analyze.h"
#include "worker/curl_uv.h"
#include "worker/store.h"

/* How long one XREADGROUP blocks; the blocking connection's command
 * timeout must exceed it (redis_uv drops a connection whose command is
 * late). Short, so a drain does not wait long for it. */
#define TAKE_BLOCK_MS 1000
#define REDIS_CMD_TIMEOUT_MS 5000
#define PG_QUERY_TIMEOUT_MS 15000
#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000

enum phase { PH_STARTING, PH_ANALYZING, PH_STORING, PH_FINISHING, PH_FAILING, PH_ENDED };

struct task {
    struct runner *r;
    struct task *prev, *next;
    struct queue_entry entry;
    char *url;
    enum phase phase;
    analysis_t *analysis;
    uv_timer_t timer; /* JOB_TIMEOUT while analyzing; backoff while persisting */
    int backoff_ms;
    bool timed_out;
    bool abandoned;
    struct store_row row;
    bool have_row;
    char error_code[48];
    char *error;
    int64_t started_ms;
};

struct runner {
    uv_loop_t *loop;
    const struct config *cfg;
    const struct stopwords *sw;
    char consumer[160];
    struct keys keys;
    redis_uv_t *redis;
    redis_uv_t *redis_block;
    pg_uv_t *pg;
    curl_uv_t *curl;
    struct queue queue;
    uv_timer_t take_timer;
    uv_timer_t heartbeat;
    uv_timer_t grace;
    struct task *tasks;
    int inflight;
    bool taking;
    bool group_ready;
    bool ensuring_group;
    bool draining;
    bool drained;
    bool closing;
    runner_cb drained_cb;
    void *drained_arg;
    runner_cb close_cb;
    void *close_arg;
    int pending_closes;
    uint64_t processed;
    uint64_t failed;
};

static void maybe_take(struct runner *r);
static void maybe_free(struct runner *r);
static void task_persist(struct task *t);
static void check_drained(struct runner *r);

/* --- task life cycle --- */

static void
on_task_timer_closed(uv_handle_t *h) {
    struct task *t = h->data;
    struct runner *r = t->r;
    if (t->have_row) store_row_free(&t->row);
    free(t->url);
    free(t->error);
    free(t);
    r->inflight--;
    if (r->closing) {
        maybe_free(r);
        return;
    }
    check_drained(r);
    maybe_take(r);
}

/* task_end is the one teardown path of a task. */
static void
task_end(struct task *t) {
    struct runner *r = t->r;
    t->phase = PH_ENDED;
    if (t->prev) t->prev->next = t->next;
    else r->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, on_task_timer_closed);
}

static void
on_backoff(uv_timer_t *timer) {
    task_persist(timer->data);
}

/* retry_later waits before trying the same persistence step again. */
static void
retry_later(struct task *t, const char *what, const char *errstr) {
    if (t->abandoned) {
        task_end(t);
        return;
    }
    t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : RETRY_MIN_MS;
    if (t->backoff_ms > RETRY_MAX_MS) t->backoff_ms = RETRY_MAX_MS;
    log_warn("msg=\"will retry\" step=%s job=%s retry_in_ms=%d error=%s", what, t->entry.job_id,
             t->backoff_ms, log_q(errstr));
    uv_timer_start(&t->timer, on_backoff, (uint64_t)t->backoff_ms, 0);
}

static void
on_finished(int status, const char *errstr, void *arg) {
    struct task *t = arg;
    if (status < 0) {
        retry_later(t, "finish", errstr);
        return;
    }
    t->r->processed++;
    log_info("msg=\"job finished\" job=%s ms=%lld", t->entry.job_id,
             (long long)(clock_now_ms() - t->started_ms));
    task_end(t);
}

static void
on_failed(int status, const char *errstr, void *arg) {
    struct task *t = arg;
    if (status < 0) {
        retry_later(t, "fail", errstr);
        return;
    }
    t->r->failed++;
    log_info("msg=\"job failed\" job=%s code=%s error=%s", t->entry.job_id, t->error_code,
             log_q(t->error));
    task_end(t);
}

static void
on_stored(int status, const char *errstr, void *arg) {
    struct task *t = arg;
    if (status < 0) {
        retry_later(t, "store", errstr);
        return;
    }
    t->phase = PH_FINISHING;
    t->backoff_ms = 0;
    task_persist(t);
}

/* task_persist runs (or runs again) the step the task is in: store then
 * finish, or fail. Each step is idempotent, so repeating it is safe. */
static void
task_persist(struct task *t) {
    struct runner *r = t->r;
    int rc;
    const char *what;
    if (r->closing || t->abandoned) {
        task_end(t);
        return;
    }
    switch (t->phase) {
    case PH_STORING:
        what = "store";
        rc = store_insert(r->pg, &t->row, on_stored, t);
        break;
    case PH_FINISHING:
        what = "finish";
        rc = queue_finish(&r->queue, &t->entry, on_finished, t);
        break;
    case PH_FAILING:
        what = "fail";
        rc = queue_fail(&r->queue, &t->entry, t->error_code, t->error ? t->error : t->error_code,
                        on_failed, t);
        break;
    default:
        return;
    }
    if (rc < 0) retry_later(t, what, uv_strerror(rc));
}

static void
task_fail(struct task *t, const char *code, const char *message) {
    snprintf(t->error_code, sizeof t->error_code, "%s", code);
    free(t->error);
    t->error = xstrdup(message ? message : code);
    t->phase = PH_FAILING;
    t->backoff_ms = 0;
    task_persist(t);
}

static void
on_analyzed(analysis_t *a, const struct analysis_result *res, void *arg) {
    struct task *t = arg;
    (void)a;
    t->analysis = NULL;
    uv_timer_stop(&t->timer);
    if (t->abandoned) {
        task_end(t);
        return;
    }
    if (t->timed_out) {
        char msg[96];
        snprintf(msg, sizeof msg, "the job ran longer than JOB_TIMEOUT (%d ms)",
                 t->r->cfg->job_timeout_ms);
        task_fail(t, "timeout", msg);
        return;
    }
    if (res->status < 0) {
        task_fail(t, res->error_code ? res->error_code : "fetch", res->error);
        return;
    }
    store_row_init(&t->row, t->entry.job_id, t->url, res);
    t->have_row = true;
    t->phase = PH_STORING;
    t->backoff_ms = 0;
    task_persist(t);
}

static void
on_job_timeout(uv_timer_t *timer) {
    struct task *t = timer->data;
    if (t->phase == PH_ANALYZING && t->analysis) {
        t->timed_out = true;
        analysis_cancel(t->analysis); /* on_analyzed runs and fails the job */
    }
}

static void
on_started(int status, const struct job *job, const char *errstr, void *arg) {
    struct task *t = arg;
    struct runner *r = t->r;
    if (status < 0) {
        /* Not started: the delivery stays pending and is taken again
         * after the rescue delay. */
        log_warn("msg=\"cannot start job\" job=%s error=%s", t->entry.job_id, log_q(errstr));
        task_end(t);
        return;
    }
    if (!job) {
        log_info("msg=\"job skipped\" job=%s reason=\"gone or ended\"", t->entry.job_id);
        task_end(t);
        return;
    }
    if (r->closing || t->abandoned) {
        task_end(t);
        return;
    }
    t->url = xstrdup(job->url);
    t->started_ms = clock_now_ms();
    t->phase = PH_ANALYZING;
    log_info("msg=\"job started\" job=%s url=%s attempt=%d", job->id, log_q(job->url), job->attempts);
    uv_timer_start(&t->timer, on_job_timeout, (uint64_t)r->cfg->job_timeout_ms, 0);
    int rc = analysis_start(r->curl, r->cfg, r->sw, t->url, on_analyzed, t, &t->analysis);
    if (rc < 0) {
        uv_timer_stop(&t->timer);
        task_fail(t, "fetch", uv_strerror(rc));
    }
}

static void
task_begin(struct runner *r, const struct queue_entry *e) {
    struct task *t = xcalloc(1, sizeof *t);
    t->r = r;
    t->entry = *e;
    t->phase = PH_STARTING;
    uv_timer_init(r->loop, &t->timer);
    t->timer.data = t;
    t->next = r->tasks;
    if (r->tasks) r->tasks->prev = t;
    r->tasks = t;
    r->inflight++;
    int rc = queue_start(&r->queue, e, r->consumer, on_started, t);
    if (rc < 0) {
        log_warn("msg=\"cannot start job\" job=%s error=%s", e->job_id, log_q(uv_strerror(rc)));
        task_end(t);
    }
}

/* --- taking jobs --- */

static void
on_take_timer(uv_timer_t *timer) {
    maybe_take(timer->data);
}

static void
on_group(int status, const char *errstr, void *arg) {
    struct runner *r = arg;
    r->ensuring_group = false;
    if (r->closing) return;
    if (status < 0) {
        log_warn("msg=\"cannot create consumer group\" error=%s", log_q(errstr));
        uv_timer_start(&r->take_timer, on_take_timer, 1000, 0);
        return;
    }
    r->group_ready = true;
    maybe_take(r);
}

static void
on_take(int status, const struct queue_entry *entries, size_t n, const char *errstr, void *arg) {
    struct runner *r = arg;
    r->taking = false;
    if (status < 0) {
        if (r->closing) return;
        if (errstr && strncmp(errstr, "NOGROUP", 7) == 0) r->group_ready = false;
        else log_warn("msg=\"cannot take jobs\" error=%s", log_q(errstr));
        uv_timer_start(&r->take_timer, on_take_timer, 500, 0);
        return;
    }
    /* Deliveries that arrive are ours even while draining: run them. */
    for (size_t i = 0; i < n; i++) task_begin(r, &entries[i]);
    maybe_take(r);
}

static void
maybe_take(struct runner *r) {
    if (r->closing || r->draining || r->taking) return;
    if (!redis_uv_connected(r->redis) || !redis_uv_connected(r->redis_block)) return;
    if (!r->group_ready) {
        if (!r->ensuring_group && queue_ensure_group(&r->queue, on_group, r) == 0)
            r->ensuring_group = true;
        return;
    }
    int room = r->cfg->worker_concurrency - r->inflight;
    if (room <= 0) return;
    int rc = queue_take(&r->queue, r->redis_block, r->consumer, room, TAKE_BLOCK_MS, on_take, r);
    if (rc == 0) r->taking = true;
    else uv_timer_start(&r->take_timer, on_take_timer, 500, 0);
}

static void
on_redis_state(redis_uv_t *redis, bool connected, void *arg) {
    (void)redis;
    struct runner *r = arg;
    if (connected) maybe_take(r);
}

/* --- heartbeat --- */

static void
on_heartbeat_reply(redis_uv_t *redis, redisReply *reply, const char *errstr, void *arg) {
    (void)redis;
    (void)arg;
    if (!reply) log_debug("msg=\"heartbeat not sent\" error=%s", log_q(errstr));
}

static void
on_heartbeat(uv_timer_t *timer) {
    struct runner *r = timer->data;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *hb = json_pack("{s:s, s:i, s:i, s:I, s:I, s:I}", "host", host, "pid", (int)getpid(),
                           "inflight", r->inflight, "processed", (json_int_t)r->processed,
                           "failed", (json_int_t)r->failed, "at", (json_int_t)clock_now_ms());
    struct buf b;
    buf_init(&b);
    json_dump_append(hb, &b);
    json_decref(hb);
    struct keybuf kw;
    const char *argv[] = {"HSET", keys_workers(&r->keys, &kw), r->consumer, b.data};
    size_t argvlen[] = {4, strlen(argv[1]), strlen(r->consumer), b.len};
    if (redis_uv_command(r->redis, on_heartbeat_reply, r, 4, argv, argvlen) < 0)
        log_debug("msg=\"heartbeat not sent\" error=\"redis not connected\"");
    buf_free(&b);
}

/* --- construction, drain, close --- */

runner_t *
runner_new(uv_loop_t *loop, const struct config *cfg, const struct stopwords *sw,
           const char *consumer, char *err, size_t errlen) {
    struct runner *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->cfg = cfg;
    r->sw = sw;
    snprintf(r->consumer, sizeof r->consumer, "%s", consumer);
    if (keys_init(&r->keys, cfg->key_prefix) < 0) {
        snprintf(err, errlen, "invalid REDIS_KEY_PREFIX");
        goto fail;
    }
    r->redis = redis_uv_new(loop, cfg->redis_url, "redis", REDIS_CMD_TIMEOUT_MS, err, errlen);
    if (!r->redis) goto fail;
    r->redis_block = redis_uv_new(loop, cfg->redis_url, "redis-take",
                                  TAKE_BLOCK_MS + REDIS_CMD_TIMEOUT_MS, err, errlen);
    if (!r->redis_block) goto fail;
    r->pg = pg_uv_new(loop, cfg->database_url, "postgres", PG_QUERY_TIMEOUT_MS,
                      (size_t)cfg->worker_concurrency * 2 + 16);
    r->curl = curl_uv_new(loop);
    if (!r->pg || !r->curl) {
        snprintf(err, errlen, "cannot set up postgres or curl");
        goto fail;
    }
    queue_init(&r->queue, r->redis, &r->keys, cfg->result_ttl_s);
    redis_uv_on_state(r->redis, on_redis_state, r);
    redis_uv_on_state(r->redis_block, on_redis_state, r);
    uv_timer_init(loop, &r->take_timer);
    uv_timer_init(loop, &r->heartbeat);
    uv_timer_init(loop, &r->grace);
    r->take_timer.data = r->heartbeat.data = r->grace.data = r;
    uv_timer_start(&r->heartbeat, on_heartbeat, 0, (uint64_t)cfg->heartbeat_interval_ms);
    return r;
fail:
    /* Only reachable before any handle of ours exists; the glue objects
     * close themselves asynchronously. */
    if (r->redis) redis_uv_close(r->redis, NULL, NULL);
    if (r->redis_block) redis_uv_close(r->redis_block, NULL, NULL);
    if (r->pg) pg_uv_close(r->pg, NULL, NULL);
    if (r->curl) curl_uv_close(r->curl, NULL, NULL);
    free(r);
    return NULL;
}

int
runner_inflight(const runner_t *r) {
    return r->inflight;
}

static void
check_drained(struct runner *r) {
    if (!r->draining || r->drained || r->inflight > 0) return;
    r->drained = true;
    uv_timer_stop(&r->grace);
    if (r->drained_cb) r->drained_cb(r, r->drained_arg);
}

static void
on_grace(uv_timer_t *timer) {
    struct runner *r = timer->data;
    log_warn("msg=\"grace period over\" abandoned=%d", r->inflight);
    /* Abandoned tasks leave their deliveries pending, so the jobs are
     * delivered again; nothing half-done is acknowledged. A task waiting
     * for a server's reply ends when the reply (or the close) arrives. */
    for (struct task *t = r->tasks, *next; t; t = next) {
        next = t->next;
        t->abandoned = true;
        if (t->analysis) analysis_cancel(t->analysis);
        else if (uv_is_active((uv_handle_t *)&t->timer)) task_end(t);
    }
    if (!r->drained) {
        r->drained = true;
        if (r->drained_cb) r->drained_cb(r, r->drained_arg);
    }
}

void
runner_drain(runner_t *r, int grace_ms, runner_cb drained_cb, void *arg) {
    if (r->draining) return;
    r->draining = true;
    r->drained_cb = drained_cb;
    r->drained_arg = arg;
    uv_timer_stop(&r->take_timer);
    log_info("msg=\"draining\" inflight=%d grace_ms=%d", r->inflight, grace_ms);
    if (r->inflight > 0) uv_timer_start(&r->grace, on_grace, (uint64_t)grace_ms, 0);
    check_drained(r);
}

/* maybe_free frees the runner once every part has closed and the last
 * task is gone (a task's close callback still touches the runner). */
static void
maybe_free(struct runner *r) {
    if (r->pending_closes > 0 || r->inflight > 0) return;
    runner_cb cb = r->close_cb;
    void *cb_arg = r->close_arg;
    free(r);
    if (cb) cb(NULL, cb_arg);
}

static void
on_part_closed(void *arg) {
    struct runner *r = arg;
    r->pending_closes--;
    maybe_free(r);
}

static void
on_handle_closed(uv_handle_t *h) {
    on_part_closed(h->data);
}

static void
on_curl_closed(void *arg) {
    struct runner *r = arg;
    /* Postgres and Redis close after curl, so no task callback can reach
     * a closed connection. */
    pg_uv_close(r->pg, on_part_closed, r);
    redis_uv_close(r->redis, on_part_closed, r);
    redis_uv_close(r->redis_block, on_part_closed, r);
    on_part_closed(r);
}

void
runner_close(runner_t *r, runner_cb close_cb, void *arg) {
    r->closing = true;
    r->close_cb = close_cb;
    r->close_arg = arg;
    /* Abandon what is left: running analyses are canceled, their tasks end
     * without touching Redis. */
    for (struct task *t = r->tasks, *next; t; t = next) {
        next = t->next;
        t->abandoned = true;
        if (t->analysis) analysis_cancel(t->analysis);
        else if (uv_is_active((uv_handle_t *)&t->timer)) task_end(t);
    }
    r->pending_closes = 3 /* timers */ + 1 /* curl */ + 3 /* pg, redis x2 */;
    uv_timer_stop(&r->take_timer);
    uv_timer_stop(&r->heartbeat);
    uv_timer_stop(&r->grace);
    uv_close((uv_handle_t *)&r->take_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->heartbeat, on_handle_closed);
    uv_close((uv_handle_t *)&r->grace, on_handle_closed);
    curl_uv_close(r->curl, on_curl_closed, r);
}
