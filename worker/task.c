#include "worker/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/shards.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

/* A step that cannot reach Redis or Postgres: steps of 200 ms doubling to
 * 5 s, with jitter (common/backoff.h), reset when the phase changes. */
#define PERSIST_RETRY_MIN_MS 200
#define PERSIST_RETRY_MAX_MS 5000
/* SQL errors (not lost connections) are retried this many times, then the
 * job fails: the row itself is at fault and would never go in. */
#define STORE_MAX_SQL_ERRORS 3

struct task_io task_io = {
    .queue_start = queue_start,
    .queue_renew = queue_renew,
    .queue_finish_with = queue_finish_with,
    .queue_fail = queue_fail,
    .queue_retry = queue_retry,
    .queue_release = queue_release,
    .store_find = store_find,
    .store_insert = store_insert,
    .analysis_start = analysis_start,
    .store_last = store_last,
    .analysis_cancel = analysis_cancel,
    .queue_defer = queue_defer,
    .polite_check = polite_check,
    .polite_release = polite_release,
    .polite_cancel = polite_cancel,
    .analysis_resume = analysis_resume,
    .analysis_waited_ms = analysis_waited_ms,
    .queue_page_noted = queue_page_noted,
};

const char *
task_outcome_name(enum task_outcome outcome) {
    static const char *const names[] = {
        [TASK_OUTCOME_FINISHED] = "finished",       [TASK_OUTCOME_FAILED] = "failed",
        [TASK_OUTCOME_RETRYING] = "retrying",       [TASK_OUTCOME_RELEASED] = "released",
        [TASK_OUTCOME_SKIPPED] = "skipped",         [TASK_OUTCOME_LOST] = "lost",
        [TASK_OUTCOME_NOT_STARTED] = "not_started", [TASK_OUTCOME_ABANDONED] = "abandoned",
        [TASK_OUTCOME_DEFERRED] = "deferred",
    };
    if ((unsigned)outcome >= sizeof names / sizeof *names) return "unknown";
    return names[outcome];
}

static void persist(struct task *t);
static void begin_gate(struct task *t);
static void follow_redirect(struct task *t, const struct analysis_result *res);
static void on_restart(uv_timer_t *timer);

/* fetch_url: the URL the next request asks for (a redirect's hop, else the job's). */
static const char *
fetch_url(const struct task *t) {
    return t->hop_url ? t->hop_url : t->url;
}

static void
next_phase(struct task *t, enum task_phase phase) {
    t->phase = phase;
    backoff_reset(&t->steps);
    persist(t);
}

/* --- the one teardown path --- */

/* acct_release gives the task's memory back (waking jobs that wait). */
static void
acct_release(struct task *t) {
    if (!t->acct_open) return;
    t->acct_open = false;
    membudget_release(t->env->mem, &t->acct);
}

static void
on_timer_closed(uv_handle_t *h) {
    struct task *t = h->data;
    const struct task_env *env = t->env;
    if (t->have_row) store_row_free(&t->row);
    acct_release(t);
    free(t->url);
    free(t->hop_url);
    free(t->error);
    free(t);
    if (env->on_freed) env->on_freed(env->arg);
}

/* release_slot frees the host slot, if held, with what the fetch got. */
static void
release_slot(struct task *t, long http_status, int64_t retry_after_ms) {
    if (t->slot.held && t->env->polite)
        task_io.polite_release(t->env->polite, &t->slot, http_status, retry_after_ms);
}

static void
task_end(struct task *t, enum task_outcome outcome) {
    if (t->phase == TASK_ENDED) return;
    release_slot(t, 0, -1);
    t->phase = TASK_ENDED;
    uv_timer_stop(&t->timer);
    log_debug("msg=\"task ended\" job=%s outcome=%s", t->entry.job_id, task_outcome_name(outcome));
    t->env->on_end(t, outcome, t->env->arg);
    uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}

/* --- persistence steps, each idempotent and repeated with backoff --- */

/* result_pg is the Postgres connection for this job's result: the job id
 * spreads jobs over the runner's connections, and big rows go to their
 * own (task.h). */
static pg_uv_t *
result_pg(const struct task *t) {
    if (t->have_row && store_row_bytes(&t->row) >= TASK_BIG_ROW)
        return t->env->pg_big ? t->env->pg_big : t->env->pgs[0];
    return t->env->pgs[(unsigned char)t->entry.job_id[JOB_ID_LEN - 1] % t->env->npg];
}

static void
on_backoff(uv_timer_t *timer) {
    persist(timer->data);
}

/* giving_up: a stop was asked for and nothing more may be written. A
 * drain (release_on_stop) still lets the steps that end a delivery run
 * (finish, fail, retry, release): each hands the job on at once, where
 * abandoning it would leave it to a rescue. A lost lease or a close
 * (no release) writes nothing more. */
static bool
giving_up(const struct task *t) {
    return t->stopping && !t->release_on_stop;
}

/* handing_back: a drain wants this delivery back and the result is not
 * stored yet, so the store gives way to a release. */
static bool
handing_back(const struct task *t) {
    return t->stopping && t->release_on_stop && t->phase == TASK_STORING;
}

static void
retry_step(struct task *t, const char *step, const char *errstr) {
    if (giving_up(t)) {
        task_end(t, TASK_OUTCOME_ABANDONED);
        return;
    }
    if (handing_back(t)) {
        next_phase(t, TASK_RELEASING);
        return;
    }
    int64_t delay = backoff_next(&t->steps);
    log_warn("msg=\"will retry\" step=%s job=%s retry_in_ms=%lld error=%s", step, t->entry.job_id,
             (long long)delay, log_q(errstr));
    uv_timer_start(&t->timer, on_backoff, (uint64_t)delay, 0);
}

/* on_ended handles the answer to finish, fail, retry and release. */
static void
on_ended(int status, long long owned, const char *errstr, void *arg) {
    struct task *t = arg;
    static const char *steps[] = {[TASK_FINISHING] = "finish",
                                  [TASK_FAILING] = "fail",
                                  [TASK_RETRYING] = "retry",
                                  [TASK_RELEASING] = "release",
                                  [TASK_DEFERRING] = "defer"};
    if (status < 0) {
        retry_step(t, steps[t->phase], errstr);
        return;
    }
    if (!owned) {
        log_warn("msg=\"lease lost, result not recorded\" job=%s step=%s", t->entry.job_id,
                 steps[t->phase]);
        task_end(t, TASK_OUTCOME_LOST);
        return;
    }
    uint64_t ms = clock_now_ms() - t->started_ms;
    switch (t->phase) {
    case TASK_FINISHING:
        log_info("msg=\"job finished\" job=%s attempt=%d ms=%llu", t->entry.job_id, t->attempt,
                 (unsigned long long)ms);
        task_end(t, TASK_OUTCOME_FINISHED);
        break;
    case TASK_FAILING:
        log_info("msg=\"job failed\" job=%s attempt=%d code=%s error=%s", t->entry.job_id,
                 t->attempt, t->error_code, log_q(t->error));
        task_end(t, TASK_OUTCOME_FAILED);
        break;
    case TASK_RETRYING:
        log_info("msg=\"job will retry\" job=%s attempt=%d code=%s error=%s", t->entry.job_id,
                 t->attempt, t->error_code, log_q(t->error));
        task_end(t, TASK_OUTCOME_RETRYING);
        break;
    case TASK_DEFERRING:
        log_info("msg=\"job waiting\" job=%s reason=%s host=%s wait_ms=%lld%s", t->entry.job_id,
                 t->defer_reason, t->host, (long long)(t->defer_due_ms - clock_now_ms()),
                 owned == 2 ? " requeued=1" : "");
        task_end(t, TASK_OUTCOME_DEFERRED);
        break;
    default:
        log_info("msg=\"job handed back\" job=%s", t->entry.job_id);
        task_end(t, TASK_OUTCOME_RELEASED);
        break;
    }
}

static void
on_stored(int status, const char *errstr, void *arg) {
    struct task *t = arg;
    if (status == UV_EPROTO && ++t->store_errors >= STORE_MAX_SQL_ERRORS) {
        snprintf(t->error_code, sizeof t->error_code, "store");
        free(t->error);
        t->error = xasprintf("the result could not be stored: %s", errstr ? errstr : "SQL error");
        next_phase(t, TASK_FAILING);
        return;
    }
    if (status < 0) {
        retry_step(t, "store", errstr);
        return;
    }
    /* libpq keeps the buffer that sent the row, grown by doubling. */
    size_t bytes = store_row_bytes(&t->row);
    if (t->env->mem && bytes >= TASK_BIG_ROW) membudget_retain(t->env->mem, 2 * bytes);
    next_phase(t, TASK_FINISHING);
}

static void
on_lease_checked(int status, const char *const *lost, size_t n, const char *errstr, void *arg) {
    struct task *t = arg;
    (void)lost;
    t->renewing = false;
    if (status < 0) {
        retry_step(t, "lease", errstr);
        return;
    }
    if (n > 0) {
        /* Another worker holds the job now: store nothing. (The task is
         * waiting on nothing else, so it ends here.) */
        log_warn("msg=\"lease lost, result not stored\" job=%s", t->entry.job_id);
        task_end(t, TASK_OUTCOME_LOST);
        return;
    }
    t->lease_at = uv_now(t->env->loop);
    persist(t);
}

static bool
lease_fresh(const struct task *t) {
    return uv_now(t->env->loop) - t->lease_at < (uint64_t)t->env->lease_safe_ms;
}

/* persist runs (or runs again) the step the task is in. */
static void
persist(struct task *t) {
    const struct task_env *env = t->env;
    int rc = 0;
    const char *step = "";
    if (giving_up(t)) {
        task_end(t, TASK_OUTCOME_ABANDONED);
        return;
    }
    if (handing_back(t)) t->phase = TASK_RELEASING;
    switch (t->phase) {
    case TASK_STORING:
        /* Write only under a fresh lease: a worker cut off long enough for
         * its job to be rescued must not write a stale result. */
        if (!lease_fresh(t)) {
            step = "lease";
            t->renewing = true;
            rc = task_io.queue_renew(t->queue, env->consumer, &t->entry, 1, on_lease_checked, t);
            if (rc < 0) t->renewing = false;
            break;
        }
        step = "store";
        rc = task_io.store_insert(result_pg(t), &t->row, on_stored, t);
        break;
    case TASK_FINISHING:
        step = "finish";
        {
            /* The summary rides along, so polls are answered from Redis,
             * and the note of whether the page has validators now, so
             * its next fetch looks its row up only when it has. */
            struct queue_result res = {0};
            if (t->have_row) {
                const char *const *v = (const char *const *)t->row.value;
                res.summary = store_row_summary(&t->row);
                res.url_key = v[RESULTS_URL_KEY];
                res.validators = t->row.copy_of || v[RESULTS_ETAG] || v[RESULTS_LAST_MODIFIED];
            }
            rc = task_io.queue_finish_with(t->queue, &t->entry, env->consumer, &res, on_ended, t);
            free((char *)res.summary);
        }
        break;
    case TASK_FAILING:
        step = "fail";
        rc = task_io.queue_fail(t->queue, &t->entry, env->consumer, t->error_code,
                                t->error ? t->error : t->error_code, on_ended, t);
        break;
    case TASK_RETRYING: {
        /* The job's backoff: JOB_RETRY_BASE doubling per attempt up to
         * JOB_RETRY_MAX, with jitter so that retries spread out. */
        step = "retry";
        int64_t delay = backoff_delay_ms(env->cfg->job_retry_base_ms, env->cfg->job_retry_max_ms,
                                         (unsigned)t->attempt, backoff_rand(&t->steps));
        /* No earlier than the server (Retry-After) or robots.txt asks. */
        int64_t due = clock_now_ms() + delay;
        if (t->not_before_ms > due) due = t->not_before_ms;
        rc = task_io.queue_retry(t->queue, &t->entry, env->consumer, due, t->error_code,
                                 t->error ? t->error : t->error_code, on_ended, t);
        break;
    }
    case TASK_DEFERRING:
        step = "defer";
        rc = task_io.queue_defer(t->queue, &t->entry, env->consumer, t->defer_due_ms,
                                 t->defer_reason, t->host, t->host_limit, on_ended, t);
        break;
    case TASK_GATING:
        begin_gate(t);
        return;
    case TASK_RELEASING:
        step = "release";
        rc = task_io.queue_release(t->queue, &t->entry, env->consumer, on_ended, t);
        break;
    default:
        return;
    }
    if (rc < 0) retry_step(t, step, uv_strerror(rc));
}

static void
set_error(struct task *t, const char *code, const char *message) {
    snprintf(t->error_code, sizeof t->error_code, "%s", code);
    free(t->error);
    t->error = xstrdup(message ? message : code);
}

/* stopped ends a task that was asked to stop while it waited on a step
 * that starts work (the start, the stored check, the analysis): a drain
 * hands the job back, anything else abandons it. False: go on. */
static bool
stopped(struct task *t) {
    if (!t->stopping) return false;
    if (t->release_on_stop) next_phase(t, TASK_RELEASING);
    else task_end(t, TASK_OUTCOME_ABANDONED);
    return true;
}

/* --- analysis --- */

static void on_memory_wake(void *arg);

static void
on_analyzed(analysis_t *a, const struct analysis_result *res, void *arg) {
    struct task *t = arg;
    (void)a;
    t->analysis = NULL;
    uv_timer_stop(&t->timer);
    /* Waiting for memory is not a fetch of the host's: its slot goes back
     * with no status, and the start over asks the gate again. */
    if (res->wait_for_memory) release_slot(t, 0, -1);
    else release_slot(t, res->http_status, res->retry_after_ms);
    if (res->wait_for_memory && !t->stopping && !t->timed_out) {
        /* The account waits, holding its 1 MB; when memory comes back
         * the job starts over at the gate (on_memory_wake). JOB_TIMEOUT starts
         * over with it: the wait is nobody's fault. If memory came back
         * already, at once. */
        t->waiting_memory = true;
        if (!t->acct.waiting) on_memory_wake(t);
        return;
    }
    if (res->status < 0 || t->stopping || t->timed_out) acct_release(t);
    if (stopped(t)) return;
    const struct config *cfg = t->env->cfg;
    /* A 429 or 503 that said when to come back: not before then. */
    if ((res->http_status == 429 || res->http_status == 503) && res->retry_after_ms >= 0)
        t->not_before_ms =
            clock_now_ms() +
            (res->retry_after_ms < HOSTS_MAX_PAUSE_MS ? res->retry_after_ms : HOSTS_MAX_PAUSE_MS);
    if (t->timed_out) {
        char msg[128];
        snprintf(msg, sizeof msg, "the job ran longer than JOB_TIMEOUT (%d ms)",
                 cfg->job_timeout_ms);
        set_error(t, "timeout", msg);
        next_phase(t, t->attempt < cfg->job_max_attempts ? TASK_RETRYING : TASK_FAILING);
        return;
    }
    if (res->redirect_url) {
        follow_redirect(t, res);
        return;
    }
    if (res->status < 0) {
        set_error(t, res->error_code ? res->error_code : "fetch", res->error);
        bool again = res->transient && t->attempt < cfg->job_max_attempts;
        next_phase(t, again ? TASK_RETRYING : TASK_FAILING);
        return;
    }
    /* The row's fetch time is the whole chain's; its final URL and
     * status the last hop's. */
    struct analysis_result whole = *res;
    whole.fetch_ms += t->redirect_ms;
    res = &whole;
    if (res->not_modified && t->stored.found) {
        log_info("msg=\"page not modified\" job=%s copy_of=%s", t->entry.job_id, t->stored.id);
        store_row_init_copy(&t->row, t->entry.job_id, t->url, t->created_at_ms, &t->stored, res);
    } else if (res->not_modified) { /* a 304 to a request that was not conditional */
        set_error(t, "http_304", "the server answered HTTP 304 to an unconditional request");
        next_phase(t, TASK_FAILING);
        return;
    } else if (!t->have_row) { /* not built where the page was counted (on_counts) */
        store_row_init(&t->row, t->entry.job_id, t->url, t->created_at_ms, res);
    }
    t->have_row = true;
    /* Counted: the tables go when this returns; the row stays until the
     * task is freed. */
    if (t->acct_open)
        membudget_set(t->env->mem, &t->acct, membudget_row_estimate(store_row_bytes(&t->row)));
    next_phase(t, TASK_STORING);
}

/* follow_redirect takes the next hop of a redirect (its slot already
 * released): back to the gate with its URL, for its own host's
 * robots.txt, slot and pacing; a hop to the same host is another
 * request and goes through the gate too. More than FETCH_MAX_REDIRECTS
 * fails the job, as curl's own limit did (too_many_redirects). */
static void
follow_redirect(struct task *t, const struct analysis_result *res) {
    int max = t->env->cfg->fetch_max_redirects;
    if (t->hops >= max) {
        char msg[96];
        snprintf(msg, sizeof msg, "Maximum (%d) redirects followed (FETCH_MAX_REDIRECTS)", max);
        set_error(t, "too_many_redirects", msg);
        next_phase(t, TASK_FAILING);
        return;
    }
    t->hops++;
    t->redirect_ms += res->fetch_ms;
    log_info("msg=\"following redirect\" job=%s hop=%d status=%ld to=%s", t->entry.job_id, t->hops,
             res->http_status, log_q(res->redirect_url));
    free(t->hop_url);
    t->hop_url = xstrdup(res->redirect_url);
    t->following = true;
    /* From the task's timer, as a start over after a wait for memory:
     * this runs inside the last hop's fetch callback, and the gate may
     * answer at once (politeness off) and start the next fetch. */
    uv_timer_start(&t->timer, on_restart, 0, 0);
}

/* on_counts builds the stored row where the page was counted (a pool
 * thread: the JSON of a 10 MB page of new words is 0.4 s of CPU); the
 * loop touches neither the row nor have_row while the analysis runs. */
static void
on_counts(const struct analysis_result *res, void *arg) {
    struct task *t = arg;
    store_row_init(&t->row, t->entry.job_id, t->url, t->created_at_ms, res);
    t->have_row = true;
}

/* on_job_timeout: JOB_TIMEOUT is over, unless the download waited for
 * memory meanwhile; then the deadline moves by that much. */
static void
on_job_timeout(uv_timer_t *timer) {
    struct task *t = timer->data;
    if (t->phase != TASK_ANALYZING || !t->analysis) return;
    uint64_t deadline = t->analysis_at + (uint64_t)t->env->cfg->job_timeout_ms +
                        task_io.analysis_waited_ms(t->analysis);
    uint64_t now = uv_now(t->env->loop);
    if (deadline > now) {
        uv_timer_start(&t->timer, on_job_timeout, deadline - now, 0);
        return;
    }
    t->timed_out = true;
    task_io.analysis_cancel(t->analysis); /* on_analyzed runs */
}

static void begin_gate(struct task *t);

/* on_restart starts a job over that waited for memory, or a redirect's
 * next hop: at the gate, since its host slot went back meanwhile. */
static void
on_restart(uv_timer_t *timer) {
    begin_gate(timer->data);
}

/* on_memory_wake: memory came back; a paused download goes on, a job
 * waiting between analyses starts over (from its own timer: this runs
 * inside another job's release). */
static void
on_memory_wake(void *arg) {
    struct task *t = arg;
    if (t->analysis) {
        task_io.analysis_resume(t->analysis);
    } else if (t->waiting_memory) {
        t->waiting_memory = false;
        uv_timer_start(&t->timer, on_restart, 0, 0);
    }
}

/* begin_analysis fetches and counts the page, within JOB_TIMEOUT (time
 * waiting for memory not counted), under an account in the process's
 * memory budget. */
static void
begin_analysis(struct task *t) {
    const struct task_env *env = t->env;
    t->phase = TASK_ANALYZING;
    /* A redirect's next hop has what JOB_TIMEOUT left the first one. */
    uint64_t now = uv_now(env->loop);
    if (!t->following) t->analysis_at = now;
    t->following = false;
    uint64_t end = t->analysis_at + (uint64_t)env->cfg->job_timeout_ms;
    uv_timer_start(&t->timer, on_job_timeout, end > now ? end - now : 1, 0);
    if (env->mem && !t->acct_open) {
        membudget_open(env->mem, &t->acct, on_memory_wake, t);
        t->acct_open = true;
    }
    struct fetch_validators v = {.etag = t->stored.etag[0] ? t->stored.etag : NULL,
                                 .last_modified =
                                     t->stored.last_modified[0] ? t->stored.last_modified : NULL};
    /* The validators are the submitted URL's: its first request only. */
    int rc = task_io.analysis_start(env->curl, env->pool, env->cfg, env->sw, env->mem,
                                    t->acct_open ? &t->acct : NULL, fetch_url(t),
                                    t->stored.found && !t->hops ? &v : NULL, on_counts, on_analyzed,
                                    t, &t->analysis);
    if (rc < 0) {
        uv_timer_stop(&t->timer);
        acct_release(t);
        t->analysis = NULL;
        set_error(t, "fetch", uv_strerror(rc));
        next_phase(t, TASK_FAILING);
    }
}

/* --- politeness: robots.txt and the host's slot --- */

static void
on_gate(int status, const struct polite_answer *a, void *arg) {
    struct task *t = arg;
    const struct config *cfg = t->env->cfg;
    t->gating = false;
    if (stopped(t)) {
        release_slot(t, 0, -1);
        return;
    }
    if (status < 0) {
        retry_step(t, "polite", a ? a->detail : uv_strerror(status));
        return;
    }
    snprintf(t->host, sizeof t->host, "%s", a->host);
    switch (a->verdict) {
    case POLITE_GO:
        begin_analysis(t);
        return;
    case POLITE_WAIT:
        snprintf(t->defer_reason, sizeof t->defer_reason, "%s", a->reason);
        t->defer_due_ms = clock_now_ms() + a->wait_ms;
        /* The host's wait list is on its shard: a job of another shard
         * (a redirect's hop, a batch's job) waits out its due time. */
        t->host_limit =
            t->env->nshards <= 1 || shards_of_host(t->host, t->env->nshards) == t->queue->keys.shard
                ? cfg->fetch_host_concurrency
                : -1;
        next_phase(t, TASK_DEFERRING);
        return;
    case POLITE_DISALLOWED:
        set_error(t, "robots_disallowed", a->detail);
        next_phase(t, TASK_FAILING);
        return;
    case POLITE_ROBOTS_UNAVAILABLE:
        set_error(t, a->code ? a->code : "robots_unavailable", a->detail);
        t->not_before_ms = clock_now_ms() + a->wait_ms;
        next_phase(t, t->attempt < cfg->job_max_attempts ? TASK_RETRYING : TASK_FAILING);
        return;
    }
}

/* begin_gate asks polite whether the page may be fetched now (robots.txt,
 * the host's limits); politeness off answers at once. */
static void
begin_gate(struct task *t) {
    const struct task_env *env = t->env;
    if (!env->polite) {
        begin_analysis(t);
        return;
    }
    t->phase = TASK_GATING;
    t->gating = true;
    /* on_gate may run before polite_check returns. */
    int rc = task_io.polite_check(env->polite, fetch_url(t), &t->slot, on_gate, t);
    if (rc == UV_EINVAL) {
        /* Not a URL with a host: the fetch says what is wrong with it. */
        t->gating = false;
        begin_analysis(t);
    } else if (rc < 0) {
        t->gating = false;
        retry_step(t, "polite", uv_strerror(rc));
    }
}

/* on_prev: the page's newest stored row, if Postgres could say. */
static void
on_prev(int status, const struct store_prev *prev, const char *errstr, void *arg) {
    struct task *t = arg;
    if (status == 0 && prev->found) t->stored = *prev;
    else if (status < 0)
        log_warn("msg=\"no stored row to compare, fetching in full\" job=%s error=%s",
                 t->entry.job_id, log_q(errstr));
    if (stopped(t)) return;
    begin_gate(t);
}

/* look_up asks Postgres for the page's newest stored row, then gates. */
static void
look_up(struct task *t) {
    char key[URL_NORM_MAX + 1], err[128];
    if (url_norm(t->url, key, sizeof key, err, sizeof err) < 0 ||
        task_io.store_last(result_pg(t), key, on_prev, t) < 0)
        begin_gate(t); /* unconditional */
}

/* on_noted: only a page whose newest result has validators is looked up
 * (when Redis cannot say, Postgres is asked, as before the note). */
static void
on_noted(int status, long long noted, const char *errstr, void *arg) {
    struct task *t = arg;
    (void)errstr;
    if (stopped(t)) return;
    if (status == 0 && !noted) begin_gate(t);
    else look_up(t);
}

/* begin_lookup finds what a conditional fetch of the page needs: the
 * note in Redis first, which spares the Postgres query for a page never
 * stored with validators (most pages, the first time). */
static void
begin_lookup(struct task *t) {
    char key[URL_NORM_MAX + 1], err[128];
    if (url_norm(t->url, key, sizeof key, err, sizeof err) < 0 ||
        task_io.queue_page_noted(t->queue, key, on_noted, t) < 0)
        look_up(t);
}

/* on_found: a job delivered again whose result is already in Postgres
 * only needs finishing; otherwise (or when Postgres cannot say) it runs
 * again, which is safe: the insert is idempotent. */
static void
on_found(int status, bool found, const char *errstr, void *arg) {
    struct task *t = arg;
    (void)errstr;
    if (stopped(t)) return;
    if (status == 0 && found) {
        log_info("msg=\"result already stored\" job=%s attempt=%d", t->entry.job_id, t->attempt);
        next_phase(t, TASK_FINISHING);
        return;
    }
    begin_lookup(t);
}

static void
on_started(int status, const struct job *job, const char *errstr, void *arg) {
    struct task *t = arg;
    if (status < 0) {
        /* Not started: the delivery stays pending and is rescued later. */
        log_warn("msg=\"cannot start job\" job=%s error=%s", t->entry.job_id, log_q(errstr));
        task_end(t, TASK_OUTCOME_NOT_STARTED);
        return;
    }
    if (!job) {
        log_info("msg=\"delivery skipped\" job=%s reason=\"job gone, ended or out of attempts\"",
                 t->entry.job_id);
        task_end(t, TASK_OUTCOME_SKIPPED);
        return;
    }
    if (stopped(t)) return;
    t->url = xstrdup(job->url);
    t->created_at_ms = job->created_at_ms;
    t->attempt = job->attempts;
    t->started_ms = (uint64_t)clock_now_ms();
    log_info("msg=\"job started\" job=%s url=%s attempt=%d", job->id, log_q(job->url),
             job->attempts);
    if (job->attempts > 1) {
        /* Delivered before: a worker may have stored the result and died
         * before finishing. Then finishing is all that is left. */
        if (task_io.store_find(result_pg(t), t->entry.job_id, on_found, t) == 0) return;
    }
    begin_lookup(t);
}

int
task_start(const struct task_env *env, const struct queue_entry *e, struct task **out) {
    return task_start_on(env, env->queue, e, out);
}

int
task_start_on(const struct task_env *env, struct queue *q, const struct queue_entry *e,
              struct task **out) {
    struct task *t = xcalloc(1, sizeof *t);
    t->env = env;
    t->queue = q;
    t->entry = *e;
    t->phase = TASK_STARTING;
    t->lease_at = uv_now(env->loop);
    backoff_init(&t->steps, PERSIST_RETRY_MIN_MS, PERSIST_RETRY_MAX_MS,
                 uv_hrtime() ^ (uint64_t)(uintptr_t)t);
    /* queue_start calls back later or never: the timer can wait until it
     * has accepted the call, so a refusal leaves nothing to close. */
    int rc = task_io.queue_start(q, e, env->consumer, env->cfg->job_max_attempts, on_started, t);
    if (rc < 0) {
        free(t);
        return rc;
    }
    uv_timer_init(env->loop, &t->timer);
    t->timer.data = t;
    *out = t;
    return 0;
}

/* cancel_gate ends a gate that waits for another worker's robots.txt
 * (on_gate then runs, canceled, and the stop goes on from there); other
 * gates answer soon on their own. */
static void
cancel_gate(struct task *t) {
    if (t->gating && t->env->polite) task_io.polite_cancel(t->env->polite, &t->slot);
}

void
task_lease_renewed(struct task *t, uint64_t at) {
    if (at > t->lease_at) t->lease_at = at;
}

void
task_lease_lost(struct task *t) {
    if (t->phase == TASK_ENDED) return;
    log_warn("msg=\"lease lost, stopping job\" job=%s", t->entry.job_id);
    t->stopping = true;
    t->release_on_stop = false;
    cancel_gate(t);
    if (t->phase == TASK_ENDED) return;
    if (t->analysis) {
        task_io.analysis_cancel(t->analysis); /* on_analyzed ends the task */
    } else if (t->phase == TASK_ANALYZING) {
        /* Between analyses: waiting for memory, or a redirect's next hop. */
        uv_timer_stop(&t->timer);
        t->waiting_memory = false;
        acct_release(t);
        task_end(t, TASK_OUTCOME_LOST);
    } else if (t->phase != TASK_STARTING && !t->renewing) {
        /* Waiting on a timer (backoff): end now. A step in flight ends the
         * task when its answer comes (the lease check makes it harmless). */
        if (uv_is_active((uv_handle_t *)&t->timer)) task_end(t, TASK_OUTCOME_LOST);
    }
}

void
task_stop(struct task *t, bool release) {
    if (t->phase == TASK_ENDED) return;
    bool first = !t->stopping;
    t->stopping = true;
    if (!release) t->release_on_stop = false;
    else if (first) t->release_on_stop = true;
    cancel_gate(t);
    if (t->phase == TASK_ENDED) return;
    if (t->analysis) {
        if (first) task_io.analysis_cancel(t->analysis); /* on_analyzed decides */
        return;
    }
    if (t->phase == TASK_ANALYZING) {
        /* Between analyses (memory, a redirect's next hop): nothing was taken. */
        uv_timer_stop(&t->timer);
        t->waiting_memory = false;
        acct_release(t);
        if (t->release_on_stop) next_phase(t, TASK_RELEASING);
        else task_end(t, TASK_OUTCOME_ABANDONED);
        return;
    }
    /* A step in flight goes on or ends when its answer comes. */
    if (!uv_is_active((uv_handle_t *)&t->timer)) return;
    /* Waiting out a backoff: a drain tries its step again now (a store
     * becomes a release); otherwise the task ends here. */
    uv_timer_stop(&t->timer);
    if (t->release_on_stop) next_phase(t, t->phase);
    else task_end(t, TASK_OUTCOME_ABANDONED);
}
