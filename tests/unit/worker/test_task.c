/* task: what one delivery does on each answer, phase by phase.
 *
 * The queue, the store and the analysis are replaced through the task_io
 * seam (worker/task.h) by a fake that records each call with its
 * callback and answers nothing by itself: the test reads the call the
 * task made (expect) and answers it (answer_*), as Redis, Postgres or the
 * fetch would. So every transition (start, stored check, analysis, lease
 * check, store, finish, fail, retry, release) and the drain, close and
 * lease-lost paths are driven in order, without servers or timing games;
 * only the task's own timers run for real (JOB_TIMEOUT, set short where a
 * test wants it, and the step backoff, 100 to 200 ms at first). The real
 * queue, store and fetch are covered by their own tests and the
 * integration suite. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/shards.h"
#include "tests/lib/testenv.h"
#include "worker/count.h"
#include "worker/task.h"

#define WAIT_MS 5000
#define JOB_ID "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define PAGE_URL "http://pages.test/a.html"

/* --- the fake: each call waits in the table for the test's answer --- */

enum call_kind {
    CALL_START,
    CALL_RENEW,
    CALL_FINISH,
    CALL_FAIL,
    CALL_RETRY,
    CALL_RELEASE,
    CALL_FIND,
    CALL_STORE,
    CALL_ANALYZE,
    CALL_GATE,
    CALL_DEFER,
    CALL_NKINDS
};
static const char *const kind_names[CALL_NKINDS] = {"start",   "renew",   "finish", "fail",
                                                    "retry",   "release", "find",   "store",
                                                    "analyze", "gate",    "defer"};

struct call {
    enum call_kind kind;
    bool answered;
    void *arg;
    union {
        queue_job_cb job;
        queue_done_cb done;
        queue_renew_cb renew;
        store_found_cb found;
        store_done_cb stored;
        analysis_done_cb analyzed;
        polite_cb gate;
    } cb;
    struct polite_slot *slot; /* gate */
    /* What the task sent. */
    char job_id[JOB_ID_LEN + 1];
    char consumer[64];
    char code[48];
    char message[256];
    bool has_summary;
    char summary[512];
    char note_key[128]; /* a finish's page note: the page ("" none) */
    bool validators;    /* and whether it has validators */
    int64_t due_ms;
    int max_attempts;
    int limit; /* a defer's host limit */
    size_t n;
    char url[128];
};

#define MAX_CALLS 64
static struct call calls[MAX_CALLS];
static int ncalls;
static int refuse[CALL_NKINDS]; /* how many of the next calls of a kind return an error */
static int cancels;
/* polite_release calls: how many, and the last one's answer. */
static int releases;
static long released_status;
static int64_t released_retry_after;
static char polite_dummy; /* env.polite for the tests that gate: never read */

/* What the task told its runner. */
static int ends;
static enum task_outcome outcome;
static bool freed;

static uv_loop_t loop;
static struct config cfg;
static pg_uv_t *pgs[1];
static struct task_env env;
static const struct queue_entry entry = {.stream_id = "1700000000000-0", .job_id = JOB_ID};
static struct count_table all, no_stop;

static void
copy(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
}

/* record adds a call to the table, or returns NULL when the test wants
 * this one refused (the fake then returns an error, as the real call
 * does when its server is not connected). */
static struct call *
record(enum call_kind kind, void *arg, const char *job_id, const char *consumer) {
    if (refuse[kind] > 0) {
        refuse[kind]--;
        return NULL;
    }
    cr_assert_lt(ncalls, MAX_CALLS, "the task made too many calls");
    struct call *c = &calls[ncalls++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->arg = arg;
    copy(c->job_id, sizeof c->job_id, job_id);
    copy(c->consumer, sizeof c->consumer, consumer);
    return c;
}

static int
fake_start(struct queue *q, const struct queue_entry *e, const char *consumer, int max_attempts,
           queue_job_cb cb, void *arg) {
    (void)q;
    struct call *c = record(CALL_START, arg, e->job_id, consumer);
    if (!c) return UV_ENOTCONN;
    c->cb.job = cb;
    c->max_attempts = max_attempts;
    return 0;
}

static int
fake_renew(struct queue *q, const char *consumer, const struct queue_entry *entries, size_t n,
           queue_renew_cb cb, void *arg) {
    (void)q;
    struct call *c = record(CALL_RENEW, arg, entries[0].job_id, consumer);
    if (!c) return UV_ENOTCONN;
    c->cb.renew = cb;
    c->n = n;
    return 0;
}

static int
fake_finish(struct queue *q, const struct queue_entry *e, const char *consumer,
            const struct queue_result *res, queue_done_cb cb, void *arg) {
    (void)q;
    struct call *c = record(CALL_FINISH, arg, e->job_id, consumer);
    if (!c) return UV_ENOTCONN;
    c->cb.done = cb;
    c->has_summary = res && res->summary;
    copy(c->summary, sizeof c->summary, res ? res->summary : NULL);
    copy(c->note_key, sizeof c->note_key, res ? res->url_key : NULL);
    c->validators = res && res->validators;
    return 0;
}

/* ended records fail (due_ms 0) or retry. */
static int
ended(enum call_kind kind, const struct queue_entry *e, const char *consumer, int64_t due_ms,
      const char *code, const char *message, queue_done_cb cb, void *arg) {
    struct call *c = record(kind, arg, e->job_id, consumer);
    if (!c) return UV_ENOTCONN;
    c->cb.done = cb;
    c->due_ms = due_ms;
    copy(c->code, sizeof c->code, code);
    copy(c->message, sizeof c->message, message);
    return 0;
}

static int
fake_fail(struct queue *q, const struct queue_entry *e, const char *consumer, const char *code,
          const char *message, queue_done_cb cb, void *arg) {
    (void)q;
    return ended(CALL_FAIL, e, consumer, 0, code, message, cb, arg);
}

static int
fake_retry(struct queue *q, const struct queue_entry *e, const char *consumer, int64_t due_ms,
           const char *code, const char *message, queue_done_cb cb, void *arg) {
    (void)q;
    return ended(CALL_RETRY, e, consumer, due_ms, code, message, cb, arg);
}

static int
fake_release(struct queue *q, const struct queue_entry *e, const char *consumer, queue_done_cb cb,
             void *arg) {
    (void)q;
    struct call *c = record(CALL_RELEASE, arg, e->job_id, consumer);
    if (!c) return UV_ENOTCONN;
    c->cb.done = cb;
    return 0;
}

static int
fake_find(pg_uv_t *pg, const char *job_id, store_found_cb cb, void *arg) {
    (void)pg;
    struct call *c = record(CALL_FIND, arg, job_id, NULL);
    if (!c) return UV_ENOTCONN;
    c->cb.found = cb;
    return 0;
}

static int
fake_store(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg) {
    (void)pg;
    struct call *c = record(CALL_STORE, arg, row->value[RESULTS_JOB_ID], NULL);
    if (!c) return UV_ENOTCONN;
    c->cb.stored = cb;
    copy(c->url, sizeof c->url, row->value[RESULTS_URL]);
    copy(c->code, sizeof c->code, row->copy_of ? row->copy_of : "");
    copy(c->message, sizeof c->message,
         row->value[RESULTS_NOT_MODIFIED] ? row->value[RESULTS_NOT_MODIFIED] : "");
    return 0;
}

/* The fake analysis's wait for memory: while waiting_for_memory, all
 * of its time so far; after, what it was then (frozen_wait_ms). */
static bool waiting_for_memory;
static uint64_t analysis_began, frozen_wait_ms;
static int wait_asks;

static int
fake_analyze(curl_uv_t *cu, cpu_pool_t *pool, const struct config *cf, const struct stopwords *sw,
             struct membudget *mem, struct membudget_acct *acct, const char *url,
             const struct fetch_validators *v, analysis_build_cb build, analysis_done_cb cb,
             void *arg, analysis_t **out) {
    (void)build; /* the task builds its row on the loop then */
    (void)cu;
    (void)pool;
    (void)mem;
    (void)acct;
    analysis_began = uv_now(&loop);
    (void)cf;
    (void)sw;
    *out = NULL;
    struct call *c = record(CALL_ANALYZE, arg, NULL, NULL);
    if (!c) return UV_ENOMEM;
    c->cb.analyzed = cb;
    copy(c->url, sizeof c->url, url);
    /* The validators sent, "etag|last-modified"; "-" for none. */
    if (v)
        snprintf(c->message, sizeof c->message, "%s|%s", v->etag ? v->etag : "",
                 v->last_modified ? v->last_modified : "");
    else copy(c->message, sizeof c->message, "-");
    *out = (analysis_t *)c; /* the handle is the call */
    return 0;
}

/* fake_cancel answers the analysis at once, as fetch_cancel does. */
static void
fake_cancel(analysis_t *a) {
    struct call *c = (struct call *)a;
    cr_assert_eq(c->kind, CALL_ANALYZE);
    cr_assert(!c->answered, "an analysis canceled after it answered");
    cancels++;
    c->answered = true;
    struct analysis_result r = {
        .status = UV_ECANCELED, .error_code = "canceled", .error = "the fetch was canceled"};
    c->cb.analyzed(a, &r, c->arg);
}

static int
fake_gate(polite_t *p, const char *url, struct polite_slot *slot, polite_cb cb, void *arg) {
    (void)p;
    struct call *c = record(CALL_GATE, arg, JOB_ID, NULL);
    if (!c) return UV_ECANCELED;
    c->cb.gate = cb;
    c->slot = slot;
    copy(c->url, sizeof c->url, url);
    return 0;
}

static void
fake_polite_release(polite_t *p, struct polite_slot *slot, long http_status,
                    int64_t retry_after_ms) {
    (void)p;
    cr_assert(slot->held, "a slot released that was not held");
    slot->held = false;
    releases++;
    released_status = http_status;
    released_retry_after = retry_after_ms;
}

/* fake_polite_cancel answers the gate in flight canceled, as a check
 * waiting for another worker's robots.txt does. */
static int gate_cancels;
static void
fake_polite_cancel(polite_t *p, struct polite_slot *slot) {
    (void)p;
    gate_cancels++;
    for (int i = 0; i < ncalls; i++) {
        struct call *c = &calls[i];
        if (c->kind != CALL_GATE || c->answered || c->slot != slot) continue;
        c->answered = true;
        c->cb.gate(UV_ECANCELED, NULL, c->arg);
        return;
    }
}

static int
fake_defer(struct queue *q, const struct queue_entry *e, const char *consumer, int64_t due_ms,
           const char *reason, const char *host, int limit, queue_done_cb cb, void *arg) {
    (void)q;
    struct call *c = record(CALL_DEFER, arg, e->job_id, consumer);
    if (!c) return UV_ENOTCONN;
    c->cb.done = cb;
    c->due_ms = due_ms;
    c->limit = limit;
    copy(c->code, sizeof c->code, reason);
    copy(c->message, sizeof c->message, host);
    return 0;
}

static void
fake_resume(analysis_t *a) {
    (void)a;
}

static uint64_t
fake_waited(const analysis_t *a) {
    (void)a;
    wait_asks++;
    return waiting_for_memory ? uv_now(&loop) - analysis_began : frozen_wait_ms;
}

/* fake_last answers at once with the page's newest stored row as the
 * test set it (none unless a test says otherwise), or with last_status
 * when that is an error. */
static struct store_prev last_row;
static int last_status;
static char last_key[128];

static int
fake_last(pg_uv_t *pg, const char *url_key, store_prev_cb cb, void *arg) {
    (void)pg;
    copy(last_key, sizeof last_key, url_key);
    if (last_status < 0) cb(last_status, NULL, "connection lost", arg);
    else cb(0, &last_row, NULL, arg);
    return 0;
}

/* fake_noted answers at once whether the page has the note that its
 * newest result has validators: page_noted 1 (as every test of a stored
 * page expects unless it says otherwise), 0, or an error when < 0. */
static int page_noted;
static char noted_key[128];

static int
fake_noted(struct queue *q, const char *url_key, queue_done_cb cb, void *arg) {
    (void)q;
    copy(noted_key, sizeof noted_key, url_key);
    if (page_noted < 0) cb(page_noted, 0, "connection lost", arg);
    else cb(0, page_noted, NULL, arg);
    return 0;
}

static const struct task_io fake_io = {
    .queue_page_noted = fake_noted,
    .store_last = fake_last,
    .queue_defer = fake_defer,
    .polite_check = fake_gate,
    .polite_cancel = fake_polite_cancel,
    .polite_release = fake_polite_release,
    .queue_start = fake_start,
    .queue_renew = fake_renew,
    .queue_finish_with = fake_finish,
    .queue_fail = fake_fail,
    .queue_retry = fake_retry,
    .queue_release = fake_release,
    .store_find = fake_find,
    .store_insert = fake_store,
    .analysis_start = fake_analyze,
    .analysis_cancel = fake_cancel,
    .analysis_resume = fake_resume,
    .analysis_waited_ms = fake_waited,
};

/* --- the runner's side --- */

static void
on_end(struct task *t, enum task_outcome o, void *arg) {
    (void)t;
    (void)arg;
    ends++;
    outcome = o;
}

static void
on_freed(void *arg) {
    (void)arg;
    freed = true;
}

static void
setup(void) {
    log_threshold = LOG_ERROR; /* the retries' warnings are expected */
    cr_assert_eq(uv_loop_init(&loop), 0);
    task_io = fake_io;
    memset(calls, 0, sizeof calls);
    ncalls = cancels = ends = releases = gate_cancels = 0;
    waiting_for_memory = false;
    frozen_wait_ms = 0;
    wait_asks = 0;
    memset(refuse, 0, sizeof refuse);
    memset(&last_row, 0, sizeof last_row);
    last_status = 0;
    last_key[0] = '\0';
    page_noted = 1;
    noted_key[0] = '\0';
    freed = false;
    cfg = (struct config){.job_timeout_ms = 60000,
                          .job_max_attempts = 3,
                          .job_retry_base_ms = 1000,
                          .job_retry_max_ms = 8000};
    env = (struct task_env){.loop = &loop,
                            .cfg = &cfg,
                            .pgs = pgs,
                            .npg = 1,
                            .consumer = "host-42",
                            .lease_safe_ms = 60000,
                            .on_end = on_end,
                            .on_freed = on_freed};
    count_init(&all);
    count_init(&no_stop);
    count_add(&all, "the", 3);
    count_add(&all, "cat", 3);
    count_add(&all, "cat", 3);
    count_add(&no_stop, "cat", 3);
    count_add(&no_stop, "cat", 3);
}

static void
teardown(void) {
    /* Every task made ends, once, and its memory goes; nothing leaks. */
    testenv_run_until(&loop, &freed, WAIT_MS);
    count_free(&all);
    count_free(&no_stop);
    cr_assert_eq(testenv_loop_close(&loop), 0, "handles left open");
}

TestSuite(task, .init = setup, .fini = teardown, .timeout = 30);

/* --- reading the table and answering --- */

static bool
has_pending(void *arg) {
    (void)arg;
    for (int i = 0; i < ncalls; i++)
        if (!calls[i].answered) return true;
    return false;
}

/* expect waits for the task's next call, which must be of kind and the
 * only one waiting (a task has one step in flight at a time). */
static struct call *
expect(enum call_kind kind) {
    cr_assert(testenv_run_until_pred(&loop, has_pending, NULL, WAIT_MS),
              "no call made; expected %s (ends %d)", kind_names[kind], ends);
    struct call *c = NULL;
    int pending = 0;
    for (int i = 0; i < ncalls; i++) {
        if (calls[i].answered) continue;
        pending++;
        if (!c) c = &calls[i];
    }
    cr_assert_eq(pending, 1, "%d calls in flight at once", pending);
    cr_assert_eq(c->kind, kind, "the task called %s, not %s", kind_names[c->kind],
                 kind_names[kind]);
    cr_assert_str_eq(c->job_id, kind == CALL_ANALYZE ? "" : JOB_ID);
    return c;
}

/* expect_quiet lets the loop turn: the task must not call anything now. */
static void
expect_quiet(void) {
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert(!has_pending(NULL), "unexpected call: %s", kind_names[calls[ncalls - 1].kind]);
}

static void
expect_end(enum task_outcome want) {
    cr_assert(testenv_run_until(&loop, &freed, WAIT_MS), "the task did not end");
    cr_assert_eq(ends, 1, "on_end ran %d times", ends);
    cr_assert_eq(outcome, want, "ended %s, not %s", task_outcome_name(outcome),
                 task_outcome_name(want));
    cr_assert(!has_pending(NULL), "ended with a call in flight");
}

static void
answer_job(struct call *c, int attempts) {
    struct job job = {.url = PAGE_URL, .attempts = attempts};
    snprintf(job.id, sizeof job.id, "%s", JOB_ID);
    c->answered = true;
    c->cb.job(0, &job, NULL, c->arg);
}

static void
answer_start(struct call *c, int status) {
    c->answered = true;
    c->cb.job(status, NULL, status < 0 ? "connection lost" : NULL, c->arg);
}

static void
answer_done(struct call *c, int status, long long owned) {
    c->answered = true;
    c->cb.done(status, owned, status < 0 ? "connection lost" : NULL, c->arg);
}

static void
answer_renew(struct call *c, int status, bool lost) {
    const char *ids[] = {entry.stream_id};
    c->answered = true;
    c->cb.renew(status, ids, lost ? 1 : 0, status < 0 ? "connection lost" : NULL, c->arg);
}

static void
answer_found(struct call *c, int status, bool found) {
    c->answered = true;
    c->cb.found(status, found, status < 0 ? "connection lost" : NULL, c->arg);
}

static void
answer_stored(struct call *c, int status) {
    c->answered = true;
    c->cb.stored(status, status == UV_EPROTO ? "ERROR: value too long" : "connection lost", c->arg);
}

/* answer_counted_with answers the analysis: the page counted, with the
 * ETag etag (NULL: none). */
static void
answer_counted_with(struct call *c, const char *etag) {
    struct analysis_result r = {.http_status = 200,
                                .final_url = PAGE_URL,
                                .content_type = "text/html",
                                .charset = "utf-8",
                                .bytes = 1234,
                                .fetch_ms = 56,
                                .etag = etag,
                                .all = &all,
                                .no_stop = &no_stop};
    c->answered = true;
    c->cb.analyzed((analysis_t *)c, &r, c->arg);
}

static void
answer_counted(struct call *c) {
    answer_counted_with(c, NULL);
}

static void
answer_fetch_error(struct call *c, const char *code, bool transient) {
    struct analysis_result r = {
        .status = -1, .error_code = code, .error = "it went wrong", .transient = transient};
    c->answered = true;
    c->cb.analyzed((analysis_t *)c, &r, c->arg);
}

/* answer_wait_for_memory ends the analysis before its first byte: the
 * budget said wait (analysis.h). */
static void
answer_wait_for_memory(struct call *c) {
    struct analysis_result r = {.status = -1,
                                .error_code = "memory_wait",
                                .error = "waiting for memory before the download",
                                .transient = true,
                                .wait_for_memory = true};
    c->answered = true;
    c->cb.analyzed((analysis_t *)c, &r, c->arg);
}

/* --- paths into each phase --- */

static struct task *
begin(void) {
    struct task *t = NULL;
    cr_assert_eq(task_start(&env, &entry, &t), 0);
    cr_assert_not_null(t);
    return t;
}

/* analyzing: started on attempt `attempts` (not stored before). */
static struct task *
analyzing(int attempts) {
    struct task *t = begin();
    struct call *c = expect(CALL_START);
    cr_assert_str_eq(c->consumer, "host-42");
    cr_assert_eq(c->max_attempts, cfg.job_max_attempts);
    answer_job(c, attempts);
    if (attempts > 1) answer_found(expect(CALL_FIND), 0, false);
    c = expect(CALL_ANALYZE);
    cr_assert_str_eq(c->url, PAGE_URL);
    cr_assert_eq(t->phase, TASK_ANALYZING);
    return t;
}

/* storing: counted, the row's INSERT in flight (returned in *c). */
static struct task *
storing(struct call **c) {
    struct task *t = analyzing(1);
    answer_counted(expect(CALL_ANALYZE));
    *c = expect(CALL_STORE);
    cr_assert_eq(t->phase, TASK_STORING);
    return t;
}

/* waiting_out_backoff: a store failed; the task waits to try again. */
static struct task *
waiting_out_backoff(void) {
    struct call *c;
    struct task *t = storing(&c);
    answer_stored(c, UV_ECONNRESET);
    expect_quiet();
    cr_assert(uv_is_active((uv_handle_t *)&t->timer), "no backoff timer");
    return t;
}

/* === starting === */

Test(task, a_refused_start_makes_no_task) {
    refuse[CALL_START] = 1;
    struct task *t = NULL;
    cr_assert_eq(task_start(&env, &entry, &t), UV_ENOTCONN);
    cr_assert_null(t);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(ends, 0, "on_end ran for a task that was never made");
    cr_assert(!freed);
    freed = true; /* nothing for teardown to wait for */
}

Test(task, a_start_redis_dropped_ends_not_started) {
    begin();
    answer_start(expect(CALL_START), UV_ECONNRESET);
    expect_end(TASK_OUTCOME_NOT_STARTED);
}

Test(task, a_delivery_with_nothing_to_run_is_skipped) {
    begin();
    answer_start(expect(CALL_START), 0);
    expect_end(TASK_OUTCOME_SKIPPED);
}

Test(task, a_first_attempt_goes_straight_to_the_analysis) {
    struct task *t = analyzing(1);
    cr_assert_eq(t->attempt, 1);
    for (int i = 0; i < ncalls; i++) cr_assert_neq(calls[i].kind, CALL_FIND);
    task_stop(t, false);
    expect_end(TASK_OUTCOME_ABANDONED);
}

Test(task, a_redelivery_already_stored_only_finishes) {
    begin();
    answer_job(expect(CALL_START), 2);
    answer_found(expect(CALL_FIND), 0, true);
    struct call *c = expect(CALL_FINISH);
    cr_assert(!c->has_summary, "no row, so no summary");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
    for (int i = 0; i < ncalls; i++) cr_assert_neq(calls[i].kind, CALL_ANALYZE);
}

/* When Postgres cannot say whether the result is there, the job runs
 * again: the insert is idempotent. (Criterion copies parameters into the
 * test's process by value: strings are arrays.) */
struct find_case {
    char name[32];
    bool refused;
    int status;
    bool found;
};

ParameterizedTestParameters(task, a_redelivery_not_known_stored_runs_again) {
    static struct find_case cases[] = {
        {"not stored", false, 0, false},
        {"postgres lost", false, UV_ECONNRESET, false},
        {"sql error", false, UV_EPROTO, false},
        {"not connected", true, 0, false},
    };
    return cr_make_param_array(struct find_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct find_case *fc, task, a_redelivery_not_known_stored_runs_again) {
    struct task *t = begin();
    refuse[CALL_FIND] = fc->refused;
    answer_job(expect(CALL_START), 3);
    if (!fc->refused) answer_found(expect(CALL_FIND), fc->status, fc->found);
    answer_counted(expect(CALL_ANALYZE));
    cr_assert_eq(t->attempt, 3, "%s", fc->name);
    answer_stored(expect(CALL_STORE), 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_drain_during_the_start_hands_the_job_back) {
    struct task *t = begin();
    struct call *c = expect(CALL_START);
    task_stop(t, true);
    answer_job(c, 1);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

Test(task, a_close_during_the_start_abandons_the_job) {
    struct task *t = begin();
    struct call *c = expect(CALL_START);
    task_stop(t, false);
    answer_job(c, 1);
    expect_end(TASK_OUTCOME_ABANDONED);
    cr_assert_eq(ncalls, 1, "nothing written after the start");
}

Test(task, a_drain_during_the_stored_check_hands_the_job_back) {
    struct task *t = begin();
    answer_job(expect(CALL_START), 2);
    struct call *c = expect(CALL_FIND);
    task_stop(t, true);
    answer_found(c, 0, true);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

/* === analyzing === */

/* What the task does with a failed analysis: retry while the failure is
 * transient and attempts remain, else fail for good. */
struct failure_case {
    char code[32]; /* "": the analysis gave no code */
    bool transient;
    int attempt, max_attempts;
    enum call_kind then;
    char recorded[32];
};

ParameterizedTestParameters(task, a_failed_analysis) {
    static struct failure_case cases[] = {
        {"http_503", true, 1, 3, CALL_RETRY, "http_503"},
        {"timeout", true, 2, 3, CALL_RETRY, "timeout"},
        {"connect", true, 3, 3, CALL_FAIL, "connect"}, /* out of attempts */
        {"connect", true, 1, 1, CALL_FAIL, "connect"},
        {"http_404", false, 1, 3, CALL_FAIL, "http_404"},
        {"blocked_address", false, 1, 3, CALL_FAIL, "blocked_address"},
        {"", false, 1, 3, CALL_FAIL, "fetch"},
        {"", true, 1, 3, CALL_RETRY, "fetch"},
    };
    return cr_make_param_array(struct failure_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct failure_case *fc, task, a_failed_analysis) {
    cfg.job_max_attempts = fc->max_attempts;
    analyzing(fc->attempt);
    answer_fetch_error(expect(CALL_ANALYZE), fc->code[0] ? fc->code : NULL, fc->transient);
    struct call *c = expect(fc->then);
    cr_assert_str_eq(c->code, fc->recorded);
    cr_assert_str_eq(c->message, "it went wrong");
    answer_done(c, 0, 1);
    expect_end(fc->then == CALL_RETRY ? TASK_OUTCOME_RETRYING : TASK_OUTCOME_FAILED);
    for (int i = 0; i < ncalls; i++) cr_assert_neq(calls[i].kind, CALL_STORE);
}

/* A retry is due after JOB_RETRY_BASE doubled per attempt, at most
 * JOB_RETRY_MAX, with jitter: in the upper half of that step. */
struct due_case {
    int attempt;
    int64_t step_ms;
};

ParameterizedTestParameters(task, a_retry_is_due_after_the_jobs_backoff) {
    static struct due_case cases[] = {{1, 1000}, {2, 2000}, {3, 4000}, {4, 8000}, {6, 8000}};
    return cr_make_param_array(struct due_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct due_case *dc, task, a_retry_is_due_after_the_jobs_backoff) {
    cfg.job_max_attempts = 10;
    analyzing(dc->attempt);
    int64_t before = clock_now_ms();
    answer_fetch_error(expect(CALL_ANALYZE), "http_503", true);
    int64_t after = clock_now_ms();
    struct call *c = expect(CALL_RETRY);
    cr_assert(c->due_ms >= before + dc->step_ms / 2 && c->due_ms <= after + dc->step_ms,
              "attempt %d: due in %lld ms, not %lld to %lld", dc->attempt,
              (long long)(c->due_ms - before), (long long)dc->step_ms / 2, (long long)dc->step_ms);
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_RETRYING);
}

Test(task, an_analysis_that_cannot_start_fails_the_job) {
    refuse[CALL_ANALYZE] = 1;
    begin();
    answer_job(expect(CALL_START), 1);
    struct call *c = expect(CALL_FAIL);
    cr_assert_str_eq(c->code, "fetch");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

static bool
canceled(void *arg) {
    (void)arg;
    return cancels > 0;
}

Test(task, job_timeout_cancels_the_analysis_and_retries) {
    cfg.job_timeout_ms = 20;
    analyzing(1);
    /* The analysis never answers: JOB_TIMEOUT cancels it. */
    cr_assert(testenv_run_until_pred(&loop, canceled, NULL, WAIT_MS), "not canceled");
    struct call *c = expect(CALL_RETRY);
    cr_assert_eq(cancels, 1);
    cr_assert_str_eq(c->code, "timeout");
    cr_assert(strstr(c->message, "JOB_TIMEOUT (20 ms)"), "%s", c->message);
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_RETRYING);
}

Test(task, a_job_that_must_wait_for_memory_starts_over_without_a_retry) {
    analyzing(1);
    /* Memory is back already (no budget here): the analysis starts over
     * at once, the same attempt; nothing is recorded as failed. */
    answer_wait_for_memory(expect(CALL_ANALYZE));
    answer_counted(expect(CALL_ANALYZE));
    struct call *c = expect(CALL_STORE);
    answer_stored(c, 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_drain_while_waiting_for_memory_hands_the_job_back) {
    struct membudget mem;
    membudget_init(&mem, 4 << 20, NULL, NULL);
    struct membudget_acct other;
    membudget_open(&mem, &other, NULL, NULL);
    cr_assert_eq(membudget_grow(&mem, &other, 4 << 20), 0);
    env.mem = &mem;
    struct task *t = analyzing(1);
    /* The task's account asks and must wait while the other job moves. */
    cr_assert_eq(membudget_grow(&mem, &t->acct, 2 << 20), -1);
    answer_wait_for_memory(expect(CALL_ANALYZE));
    cr_assert(t->waiting_memory);
    task_stop(t, true);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
    cr_assert_eq(mem.used, 4 << 20, "the task's account is closed");
    membudget_release(&mem, &other);
    env.mem = NULL;
}

static bool
asked_thrice(void *arg) {
    (void)arg;
    return wait_asks >= 3;
}

Test(task, time_waiting_for_memory_does_not_count_against_job_timeout) {
    cfg.job_timeout_ms = 20;
    waiting_for_memory = true;
    wait_asks = 0;
    analyzing(1);
    /* Three JOB_TIMEOUTs pass while the download waits: the deadline
     * moves each time, nothing is canceled. */
    cr_assert(testenv_run_until_pred(&loop, asked_thrice, NULL, WAIT_MS), "JOB_TIMEOUT never ran");
    cr_assert_eq(cancels, 0, "canceled while waiting for memory");
    /* The wait ends: JOB_TIMEOUT of working time later, it is over. */
    frozen_wait_ms = uv_now(&loop) - analysis_began;
    waiting_for_memory = false;
    cr_assert(testenv_run_until_pred(&loop, canceled, NULL, WAIT_MS), "not canceled");
    struct call *c = expect(CALL_RETRY);
    cr_assert_str_eq(c->code, "timeout");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_RETRYING);
}

Test(task, job_timeout_on_the_last_attempt_fails_the_job) {
    cfg.job_timeout_ms = 20;
    analyzing(3);
    cr_assert(testenv_run_until_pred(&loop, canceled, NULL, WAIT_MS), "not canceled");
    struct call *c = expect(CALL_FAIL);
    cr_assert_str_eq(c->code, "timeout");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

Test(task, a_drain_during_the_analysis_hands_the_job_back) {
    struct task *t = analyzing(1);
    task_stop(t, true);
    cr_assert_eq(cancels, 1);
    task_stop(t, true); /* a second drain request changes nothing */
    cr_assert_eq(cancels, 1);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

Test(task, a_close_during_the_analysis_abandons_the_job) {
    struct task *t = analyzing(1);
    task_stop(t, false);
    cr_assert_eq(cancels, 1);
    expect_end(TASK_OUTCOME_ABANDONED);
    cr_assert_eq(ncalls, 2, "nothing written after the analysis");
}

Test(task, a_lease_lost_during_the_analysis_writes_nothing) {
    struct task *t = analyzing(1);
    task_lease_lost(t);
    cr_assert_eq(cancels, 1);
    expect_end(TASK_OUTCOME_ABANDONED);
    cr_assert_eq(ncalls, 2, "nothing written after the analysis");
}

/* === storing === */

Test(task, a_counted_page_is_stored_then_finished_with_its_summary) {
    struct call *c;
    storing(&c);
    cr_assert_str_eq(c->url, PAGE_URL);
    answer_stored(c, 0);
    c = expect(CALL_FINISH);
    cr_assert(c->has_summary);
    cr_assert(strstr(c->summary, "\"total_words\":3") && strstr(c->summary, "\"cat\""), "%s",
              c->summary);
    cr_assert_str_eq(c->note_key, PAGE_URL, "the page's note is updated");
    cr_assert(!c->validators, "the page sent neither ETag nor Last-Modified");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

/* stale makes the task's lease look a full safe period old. */
static void
stale(struct task *t) {
    t->lease_at = uv_now(&loop) - (uint64_t)env.lease_safe_ms;
}

Test(task, a_stale_lease_is_renewed_before_storing) {
    struct task *t = analyzing(1);
    stale(t);
    answer_counted(expect(CALL_ANALYZE));
    struct call *c = expect(CALL_RENEW);
    cr_assert_eq(c->n, 1);
    cr_assert(t->renewing);
    answer_renew(c, 0, false);
    cr_assert(!t->renewing);
    answer_stored(expect(CALL_STORE), 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_lease_found_lost_before_storing_ends_the_task_unstored) {
    struct task *t = analyzing(1);
    stale(t);
    answer_counted(expect(CALL_ANALYZE));
    answer_renew(expect(CALL_RENEW), 0, true);
    expect_end(TASK_OUTCOME_LOST);
    for (int i = 0; i < ncalls; i++) cr_assert_neq(calls[i].kind, CALL_STORE);
}

Test(task, a_lease_check_redis_dropped_is_tried_again) {
    struct task *t = analyzing(1);
    stale(t);
    answer_counted(expect(CALL_ANALYZE));
    answer_renew(expect(CALL_RENEW), UV_ECONNRESET, false);
    expect_quiet();
    answer_renew(expect(CALL_RENEW), 0, false); /* after the backoff */
    answer_stored(expect(CALL_STORE), 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_store_postgres_dropped_is_tried_again_after_a_backoff) {
    struct call *c;
    struct task *t = storing(&c);
    uint64_t failed_at = uv_now(&loop);
    answer_stored(c, UV_ECONNRESET);
    expect_quiet();
    c = expect(CALL_STORE);
    uint64_t waited = uv_now(&loop) - failed_at;
    cr_assert_geq(waited, 100, "tried again after %llu ms, before the backoff's 100 ms",
                  (unsigned long long)waited);
    cr_assert_eq(t->steps.failures, 1);
    answer_stored(c, 0);
    c = expect(CALL_FINISH);
    cr_assert_eq(t->steps.failures, 0, "the backoff starts again in each phase");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_store_not_sent_is_tried_again) {
    struct call *c;
    storing(&c);
    refuse[CALL_STORE] = 1;
    answer_stored(c, UV_ECONNRESET); /* the next store cannot even be sent */
    answer_stored(expect(CALL_STORE), 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_row_postgres_refuses_three_times_fails_the_job) {
    struct call *c;
    storing(&c);
    answer_stored(c, UV_EPROTO);
    answer_stored(expect(CALL_STORE), UV_EPROTO);
    answer_stored(expect(CALL_STORE), UV_EPROTO);
    c = expect(CALL_FAIL);
    cr_assert_str_eq(c->code, "store");
    cr_assert(strstr(c->message, "value too long"), "%s", c->message);
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

Test(task, a_row_refused_twice_then_taken_finishes) {
    struct call *c;
    storing(&c);
    answer_stored(c, UV_EPROTO);
    answer_stored(expect(CALL_STORE), UV_EPROTO);
    answer_stored(expect(CALL_STORE), 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_drain_during_a_failing_store_hands_the_job_back) {
    struct call *c;
    struct task *t = storing(&c);
    task_stop(t, true);
    answer_stored(c, UV_ECONNRESET);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

Test(task, a_drain_during_a_store_that_succeeds_still_finishes) {
    struct call *c;
    struct task *t = storing(&c);
    task_stop(t, true);
    answer_stored(c, 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_drain_during_a_store_backoff_hands_the_job_back_at_once) {
    struct task *t = waiting_out_backoff();
    task_stop(t, true);
    struct call *c = expect(CALL_RELEASE);
    cr_assert(!uv_is_active((uv_handle_t *)&t->timer), "the backoff still runs");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

Test(task, a_close_during_a_backoff_abandons_at_once) {
    struct task *t = waiting_out_backoff();
    int before = ncalls;
    task_stop(t, false);
    cr_assert_eq(ends, 1, "not ended at once");
    expect_end(TASK_OUTCOME_ABANDONED);
    cr_assert_eq(ncalls, before);
}

Test(task, a_lease_lost_during_a_backoff_ends_at_once) {
    struct task *t = waiting_out_backoff();
    int before = ncalls;
    task_lease_lost(t);
    cr_assert_eq(ends, 1, "not ended at once");
    expect_end(TASK_OUTCOME_LOST);
    cr_assert_eq(ncalls, before);
}

Test(task, a_lease_lost_during_the_store_ends_on_its_answer) {
    struct call *c;
    struct task *t = storing(&c);
    task_lease_lost(t);
    cr_assert_eq(ends, 0, "the store's answer is still to come");
    answer_stored(c, 0);
    expect_end(TASK_OUTCOME_ABANDONED); /* stored (harmless: idempotent), not finished */
    for (int i = 0; i < ncalls; i++) cr_assert_neq(calls[i].kind, CALL_FINISH);
}

Test(task, a_close_after_a_drain_gives_up_the_hand_back) {
    struct task *t = waiting_out_backoff();
    task_stop(t, true);
    struct call *c = expect(CALL_RELEASE);
    task_stop(t, false);
    answer_done(c, UV_ECONNRESET, 0); /* not tried again */
    expect_end(TASK_OUTCOME_ABANDONED);
}

/* === finishing === */

Test(task, a_finish_without_the_lease_ends_lost) {
    struct call *c;
    storing(&c);
    answer_stored(c, 0);
    answer_done(expect(CALL_FINISH), 0, 0);
    expect_end(TASK_OUTCOME_LOST);
}

Test(task, a_finish_redis_dropped_is_tried_again) {
    struct call *c;
    storing(&c);
    answer_stored(c, 0);
    answer_done(expect(CALL_FINISH), UV_ECONNRESET, 0);
    expect_quiet();
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_drain_during_a_finish_backoff_finishes_at_once) {
    struct call *c;
    struct task *t = storing(&c);
    answer_stored(c, 0);
    answer_done(expect(CALL_FINISH), UV_ECONNRESET, 0);
    expect_quiet();
    task_stop(t, true);
    answer_done(expect(CALL_FINISH), 0, 1); /* stored: finish, not release */
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_fail_redis_dropped_is_tried_again_with_the_same_error) {
    analyzing(1);
    answer_fetch_error(expect(CALL_ANALYZE), "http_404", false);
    answer_done(expect(CALL_FAIL), UV_ECONNRESET, 0);
    struct call *c = expect(CALL_FAIL);
    cr_assert_str_eq(c->code, "http_404");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

Test(task, a_retry_without_the_lease_ends_lost) {
    analyzing(1);
    answer_fetch_error(expect(CALL_ANALYZE), "http_503", true);
    answer_done(expect(CALL_RETRY), 0, 0);
    expect_end(TASK_OUTCOME_LOST);
}

Test(task, a_release_redis_dropped_is_tried_again) {
    struct task *t = analyzing(1);
    task_stop(t, true);
    answer_done(expect(CALL_RELEASE), UV_ECONNRESET, 0);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

Test(task, a_close_during_a_finish_in_flight_abandons_on_failure) {
    struct call *c;
    struct task *t = storing(&c);
    answer_stored(c, 0);
    c = expect(CALL_FINISH);
    task_stop(t, false);
    cr_assert_eq(ends, 0);
    answer_done(c, UV_ECONNRESET, 0);
    expect_end(TASK_OUTCOME_ABANDONED);
}

Test(task, outcomes_have_names) {
    cr_assert_str_eq(task_outcome_name(TASK_OUTCOME_FINISHED), "finished");
    cr_assert_str_eq(task_outcome_name(TASK_OUTCOME_NOT_STARTED), "not_started");
    cr_assert_str_eq(task_outcome_name(TASK_OUTCOME_ABANDONED), "abandoned");
    cr_assert_str_eq(task_outcome_name((enum task_outcome)99), "unknown");
    freed = true; /* no task */
}

/* --- politeness: the gate between start and fetch --- */

static struct call *
gate_reached(void) {
    env.polite = (polite_t *)&polite_dummy;
    begin();
    answer_job(expect(CALL_START), 1);
    struct call *g = expect(CALL_GATE);
    cr_assert_str_eq(g->url, PAGE_URL);
    return g;
}

static void
answer_gate(struct call *c, enum polite_verdict v, int64_t wait_ms, const char *reason,
            const char *code, const char *detail) {
    struct polite_answer a = {.verdict = v,
                              .wait_ms = wait_ms,
                              .reason = reason,
                              .code = code,
                              .host = "pages.test:80",
                              .detail = detail};
    if (v == POLITE_GO) c->slot->held = true;
    c->answered = true;
    c->cb.gate(0, &a, c->arg);
}

Test(task, a_busy_host_parks_the_job_without_failing_it) {
    struct call *g = gate_reached();
    int64_t before = clock_now_ms();
    answer_gate(g, POLITE_WAIT, 1500, "host_busy", NULL, "waiting");
    struct call *d = expect(CALL_DEFER);
    cr_assert_str_eq(d->code, "host_busy");
    cr_assert_str_eq(d->message, "pages.test:80");
    cr_assert_geq(d->due_ms, before + 1500);
    cr_assert_leq(d->due_ms, clock_now_ms() + 1500);
    answer_done(d, 0, 1);
    expect_end(TASK_OUTCOME_DEFERRED);
    cr_assert_eq(releases, 0, "no slot was held");
}

Test(task, a_url_robots_txt_disallows_fails_at_once) {
    struct call *g = gate_reached();
    answer_gate(g, POLITE_DISALLOWED, 0, NULL, NULL,
                "http://pages.test:80/robots.txt disallows this URL (Disallow: /a)");
    struct call *f = expect(CALL_FAIL);
    cr_assert_str_eq(f->code, "robots_disallowed");
    cr_assert(strstr(f->message, "Disallow: /a"), "%s", f->message);
    answer_done(f, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

Test(task, an_unavailable_robots_txt_retries_no_earlier_than_its_next_fetch) {
    struct call *g = gate_reached();
    int64_t before = clock_now_ms();
    answer_gate(g, POLITE_ROBOTS_UNAVAILABLE, 60000, NULL, "robots_unavailable", "503");
    struct call *r = expect(CALL_RETRY);
    cr_assert_str_eq(r->code, "robots_unavailable");
    cr_assert_geq(r->due_ms, before + 60000, "the job's backoff (1 s) is not enough");
    answer_done(r, 0, 1);
    expect_end(TASK_OUTCOME_RETRYING);
}

Test(task, retry_after_sets_the_next_attempt_and_the_slot_goes_back) {
    struct call *g = gate_reached();
    answer_gate(g, POLITE_GO, 0, NULL, NULL, "");
    struct call *a = expect(CALL_ANALYZE);
    int64_t before = clock_now_ms();
    struct analysis_result res = {.status = -1,
                                  .error_code = "http_429",
                                  .error = "the server answered HTTP 429",
                                  .transient = true,
                                  .http_status = 429,
                                  .retry_after_ms = 7000};
    a->answered = true;
    a->cb.analyzed((analysis_t *)a, &res, a->arg);
    cr_assert_eq(releases, 1);
    cr_assert_eq(released_status, 429);
    cr_assert_eq(released_retry_after, 7000);
    struct call *r = expect(CALL_RETRY);
    cr_assert_geq(r->due_ms, before + 7000, "Retry-After beats the 1 s backoff");
    answer_done(r, 0, 1);
    expect_end(TASK_OUTCOME_RETRYING);
}

Test(task, a_fetch_without_an_answer_gives_its_slot_back) {
    struct call *g = gate_reached();
    answer_gate(g, POLITE_GO, 0, NULL, NULL, "");
    struct call *a = expect(CALL_ANALYZE);
    cr_assert_eq(releases, 0, "held while the fetch runs");
    answer_fetch_error(a, "timeout", true);
    cr_assert_eq(releases, 1);
    cr_assert_eq(released_status, 0, "no answer: nothing to learn about the host");
    answer_done(expect(CALL_RETRY), 0, 1);
    expect_end(TASK_OUTCOME_RETRYING);
}

Test(task, a_gate_that_cannot_reach_redis_is_asked_again) {
    struct call *g = gate_reached();
    g->answered = true;
    g->cb.gate(UV_ECONNRESET, NULL, g->arg);
    /* After the step backoff (100 to 200 ms), the gate again. */
    answer_gate(expect(CALL_GATE), POLITE_GO, 0, NULL, NULL, "");
    answer_counted(expect(CALL_ANALYZE));
    cr_assert_eq(releases, 1);
    cr_assert_eq(released_status, 200);
    answer_stored(expect(CALL_STORE), 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

Test(task, a_drain_while_the_gate_waits_hands_the_job_back_at_once) {
    struct task *t = gate_reached()->arg; /* the task is the gate call's arg */
    task_stop(t, true);
    cr_assert_eq(gate_cancels, 1, "the gate's wait was not canceled");
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
}

Test(task, a_lost_lease_while_the_gate_waits_ends_the_task) {
    struct task *t = gate_reached()->arg;
    task_lease_lost(t);
    cr_assert_eq(gate_cancels, 1);
    expect_end(TASK_OUTCOME_ABANDONED);
}

/* === conditional fetches === */

static void
answer_not_modified(struct call *c) {
    struct analysis_result r = {.http_status = 304,
                                .final_url = PAGE_URL,
                                .fetch_ms = 3,
                                .etag = "\"v1\"",
                                .not_modified = true};
    c->answered = true;
    c->cb.analyzed((analysis_t *)c, &r, c->arg);
}

Test(task, a_page_stored_before_is_fetched_conditionally_and_a_304_repeats_its_row) {
    last_row = (struct store_prev){.found = true, .id = "42", .etag = "\"v1\""};
    strcpy(last_row.last_modified, "Tue, 01 Sep 2026 10:00:00 GMT");
    struct task *t = analyzing(1);
    cr_assert_str_eq(last_key, PAGE_URL, "asked by the normalised URL");
    struct call *c = expect(CALL_ANALYZE);
    cr_assert_str_eq(c->message, "\"v1\"|Tue, 01 Sep 2026 10:00:00 GMT");
    answer_not_modified(c);
    c = expect(CALL_STORE);
    cr_assert_str_eq(c->code, "42", "the row repeats row 42");
    cr_assert_str_eq(c->message, "true", "not_modified");
    cr_assert_eq(t->phase, TASK_STORING);
    answer_stored(c, 0);
    c = expect(CALL_FINISH);
    cr_assert(!c->has_summary, "a copy's summary is read from Postgres");
    cr_assert_str_eq(c->note_key, PAGE_URL);
    cr_assert(c->validators, "a copy keeps the validators it was asked with");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

/* abandon_for_another stops t (abandoned) and clears the record for a
 * second task in the same test. */
static void
abandon_for_another(struct task *t) {
    task_stop(t, false);
    expect_end(TASK_OUTCOME_ABANDONED);
    ncalls = 0;
    ends = 0;
    freed = false;
}

Test(task, a_page_never_stored_or_unknown_is_fetched_in_full) {
    struct task *t = analyzing(1);
    cr_assert_str_eq(expect(CALL_ANALYZE)->message, "-", "no validators");
    abandon_for_another(t);
    /* Postgres cannot say: fetched in full, not failed. */
    last_status = UV_ECONNRESET;
    t = analyzing(1);
    struct call *c = expect(CALL_ANALYZE);
    cr_assert_str_eq(c->message, "-");
    /* A 304 nobody asked for is the server's error. */
    answer_not_modified(c);
    c = expect(CALL_FAIL);
    cr_assert_str_eq(c->code, "http_304");
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

Test(task, only_a_page_noted_in_redis_is_looked_up_in_postgres) {
    /* Not noted: no query, an unconditional fetch, even if Postgres has
     * a row (stored before the note existed). */
    page_noted = 0;
    last_row = (struct store_prev){.found = true, .id = "42", .etag = "\"v1\""};
    struct task *t = analyzing(1);
    cr_assert_str_eq(noted_key, PAGE_URL, "asked by the normalised URL");
    cr_assert_str_eq(last_key, "", "Postgres was not asked");
    cr_assert_str_eq(expect(CALL_ANALYZE)->message, "-", "no validators");
    abandon_for_another(t);
    /* Redis cannot say: Postgres is asked, as before the note. */
    page_noted = UV_ECONNRESET;
    t = analyzing(1);
    cr_assert_str_eq(last_key, PAGE_URL);
    cr_assert_str_eq(expect(CALL_ANALYZE)->message, "\"v1\"|");
    task_stop(t, false);
    expect_end(TASK_OUTCOME_ABANDONED);
}

Test(task, a_page_with_an_etag_is_noted_at_its_finish) {
    struct call *c = gate_reached();
    answer_gate(c, POLITE_GO, 0, NULL, NULL, "");
    answer_counted_with(expect(CALL_ANALYZE), "\"v2\"");
    answer_stored(expect(CALL_STORE), 0);
    c = expect(CALL_FINISH);
    cr_assert_str_eq(c->note_key, PAGE_URL);
    cr_assert(c->validators);
    answer_done(c, 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

/* === redirects: each hop through the gate of its own host === */

static void
answer_redirect(struct call *c, const char *to) {
    struct analysis_result r = {.status = -1,
                                .error_code = "redirect",
                                .error = "the server redirected",
                                .http_status = 302,
                                .final_url = c->url,
                                .fetch_ms = 10,
                                .retry_after_ms = -1,
                                .redirect_url = to};
    c->answered = true;
    c->cb.analyzed((analysis_t *)c, &r, c->arg);
}

Test(task, a_redirect_goes_back_to_the_gate_with_the_next_hop) {
    last_row = (struct store_prev){.found = true, .id = "42", .etag = "\"v1\""};
    cfg.fetch_max_redirects = 5;
    struct call *g = gate_reached();
    answer_gate(g, POLITE_GO, 0, NULL, NULL, "");
    struct call *a = expect(CALL_ANALYZE);
    cr_assert_str_eq(a->message, "\"v1\"|", "the first request is conditional");
    answer_redirect(a, "http://other.test/b.html");
    cr_assert_eq(releases, 1, "the first host's slot goes back at the redirect");
    cr_assert_eq(released_status, 302);
    /* The next hop asks its own host's gate, then fetches unconditionally. */
    g = expect(CALL_GATE);
    cr_assert_str_eq(g->url, "http://other.test/b.html");
    answer_gate(g, POLITE_GO, 0, NULL, NULL, "");
    a = expect(CALL_ANALYZE);
    cr_assert_str_eq(a->url, "http://other.test/b.html");
    cr_assert_str_eq(a->message, "-", "validators belong to the first request");
    /* A hop to the same host is another request: the gate again. */
    answer_redirect(a, "http://other.test/c.html");
    answer_gate(expect(CALL_GATE), POLITE_GO, 0, NULL, NULL, "");
    answer_counted(expect(CALL_ANALYZE));
    cr_assert_eq(releases, 3);
    struct call *s = expect(CALL_STORE);
    cr_assert_str_eq(s->url, PAGE_URL, "the row keeps the URL as submitted");
    answer_stored(s, 0);
    answer_done(expect(CALL_FINISH), 0, 1);
    expect_end(TASK_OUTCOME_FINISHED);
}

/* hop_deferred: the first host lets the job through, which is sent on
 * to other.test, whose host is busy: the job's defer. */
static struct call *
hop_deferred(void) {
    cfg.fetch_max_redirects = 5;
    answer_gate(gate_reached(), POLITE_GO, 0, NULL, NULL, "");
    answer_redirect(expect(CALL_ANALYZE), "http://other.test/b.html");
    struct call *g = expect(CALL_GATE);
    struct polite_answer a = {.verdict = POLITE_WAIT,
                              .wait_ms = 1000,
                              .reason = "host_busy",
                              .host = "other.test:80",
                              .detail = "busy"};
    g->answered = true;
    g->cb.gate(0, &a, g->arg);
    return expect(CALL_DEFER);
}

Test(task, a_hop_whose_host_is_busy_parks_the_job_for_that_host) {
    struct call *d = hop_deferred();
    cr_assert_str_eq(d->code, "host_busy");
    cr_assert_str_eq(d->message, "other.test:80", "it waits for the hop's host");
    answer_done(d, 0, 1);
    expect_end(TASK_OUTCOME_DEFERRED);
}

/* With shards (common/shards.h), a host's wait list is on the host's
 * shard: a job waits on it only when it is on that shard too; a job of
 * another shard (here: a redirect's hop) waits out its due time. */
static void
defer_on_shard(int job_shard, int want_limit) {
    static struct queue q;
    cr_assert_eq(keys_init_shard(&q.keys, "t:", job_shard), 0);
    env.queue = &q;
    env.nshards = 3;
    cfg.fetch_host_concurrency = 2;
    struct call *d = hop_deferred();
    cr_assert_eq(d->limit, want_limit);
    answer_done(d, 0, 1);
    expect_end(TASK_OUTCOME_DEFERRED);
}

Test(task, a_job_waits_on_its_hosts_list_only_on_the_hosts_shard) {
    defer_on_shard(shards_of_host("other.test:80", 3), 2);
}

Test(task, a_job_of_another_shard_waits_out_its_due_time) {
    defer_on_shard((shards_of_host("other.test:80", 3) + 1) % 3, -1);
}

Test(task, more_redirects_than_allowed_fail_the_job) {
    cfg.fetch_max_redirects = 2;
    answer_gate(gate_reached(), POLITE_GO, 0, NULL, NULL, "");
    for (int hop = 0; hop < 2; hop++) {
        answer_redirect(expect(CALL_ANALYZE), "http://pages.test/loop");
        answer_gate(expect(CALL_GATE), POLITE_GO, 0, NULL, NULL, "");
    }
    answer_redirect(expect(CALL_ANALYZE), "http://pages.test/loop");
    struct call *f = expect(CALL_FAIL);
    cr_assert_str_eq(f->code, "too_many_redirects");
    cr_assert(strstr(f->message, "Maximum (2) redirects followed"), "%s", f->message);
    cr_assert_eq(releases, 3, "every hop's slot went back");
    answer_done(f, 0, 1);
    expect_end(TASK_OUTCOME_FAILED);
}

Test(task, a_drain_between_two_hops_hands_the_job_back) {
    cfg.fetch_max_redirects = 5;
    struct call *g = gate_reached();
    struct task *t = g->arg;
    answer_gate(g, POLITE_GO, 0, NULL, NULL, "");
    answer_redirect(expect(CALL_ANALYZE), "http://other.test/b.html");
    /* The next hop is due from the task's timer: nothing asked yet. */
    cr_assert(!has_pending(NULL));
    task_stop(t, true);
    answer_done(expect(CALL_RELEASE), 0, 1);
    expect_end(TASK_OUTCOME_RELEASED);
    cr_assert_eq(releases, 1);
}
