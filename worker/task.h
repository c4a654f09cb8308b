/* task — one delivery of one job inside a worker process, from start to
 * acknowledgement.
 *
 * Owns: the task struct, its timer (JOB_TIMEOUT while analyzing, backoff
 * while persisting), the running analysis, the encoded result row (built
 * where the page was counted: a counting thread of env->pool), and
 * its memory account (worker/membudget.h) from the analysis's start:
 * grown by the analysis, set to the row's cost once counted, released
 * when the analysis fails or the task is freed. JOB_TIMEOUT does not
 * count the time the download waits for memory.
 *
 * Phases: starting (queue_start) -> looking up the page's newest stored
 * row (store_last: its validators make the fetch conditional; Postgres
 * unreachable only makes it unconditional) -> gating (worker/polite.h:
 * robots.txt and the host's slot) -> analyzing (fetch, extract, count;
 * a 304 stores a row repeating the newest one's counts; a redirect
 * releases the host's slot and goes back to gating for the next hop's
 * URL, so each hop counts against its own host, its robots.txt and its
 * pacing, up to FETCH_MAX_REDIRECTS hops within one JOB_TIMEOUT; the
 * validators go with the first request only) ->
 * storing (INSERT, idempotent) -> finishing (job finished + ack); or, on
 * failure, failing (job failed) / retrying (job parked until its backoff
 * is over); or releasing (handed back to the queue by a drain). A step
 * that cannot reach Redis or Postgres is repeated with backoff; nothing
 * is acknowledged before the result is committed. A gate that says wait
 * parks the job (deferring: queue_defer, the attempt not counted); one
 * that says the host's robots.txt forbids the URL fails it
 * (robots_disallowed); an unreachable robots.txt is retried as a failed
 * attempt (robots_unavailable), no earlier than the robots.txt is tried
 * again. The host slot is released as soon as the fetch ends, with its
 * HTTP status and Retry-After; a 429 or 503 with Retry-After puts the
 * job's next attempt no earlier than that (capped at 1 h).
 *
 * Leases: the runner renews every task's lease at each heartbeat and
 * tells the task (task_lease_renewed / task_lease_lost). A task stores its
 * result only while its lease is fresh; otherwise it renews first, and a
 * task whose lease was lost stops without writing anything.
 *
 * A task that task_start returned ends exactly once, with an outcome;
 * then env->on_end runs and, after its timer has closed, the memory is
 * freed and env->on_freed runs (the runner must stay alive until then). A
 * task_start that fails makes no task and calls neither (the libuv rule).
 *
 * Seam: every call a task makes to the queue, the store and the analysis
 * goes through task_io (struct task_io below), which holds the real
 * functions; a test swaps some or all of them, as it swaps
 * clock_now_ms_fn, to answer each call itself: tests/unit/worker/
 * test_task.c drives every phase from such a table of answers, with no
 * server. */
#ifndef WC_TASK_H
#define WC_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/backoff.h"
#include "common/config.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "worker/analysis.h"
#include "worker/curl_uv.h"
#include "worker/polite.h"
#include "worker/stopwords.h"
#include "worker/store.h"

/* Rows this large go to env->pg_big: libpq keeps a connection's send
 * buffer at its largest message (membudget_retain counts it), and
 * Postgres takes long over them. */
#define TASK_BIG_ROW ((size_t)1 << 20)

struct task;

/* How a task ended. */
enum task_outcome {
    TASK_OUTCOME_FINISHED,    /* result stored, job finished, delivery acknowledged */
    TASK_OUTCOME_FAILED,      /* job failed for good (code and message recorded) */
    TASK_OUTCOME_RETRYING,    /* job parked until its retry is due */
    TASK_OUTCOME_RELEASED,    /* handed back to the queue by a drain */
    TASK_OUTCOME_SKIPPED,     /* nothing to run: job gone, ended or out of attempts */
    TASK_OUTCOME_LOST,        /* the lease was lost: nothing more recorded */
    TASK_OUTCOME_NOT_STARTED, /* Redis refused or dropped the start: rescued later */
    TASK_OUTCOME_ABANDONED,   /* stopped, nothing more written: rescued by lease */
    TASK_OUTCOME_DEFERRED,    /* parked for politeness (or queued again), attempt not counted */
};

/* What a task needs from its runner; owned by the runner, outlives tasks. */
struct task_env {
    uv_loop_t *loop;
    const struct config *cfg;
    const struct stopwords *sw;
    struct queue *queue; /* shard 0's (task_start_on names another) */
    int nshards;         /* Redis shards (common/shards.h); 0 or 1: one */
    pg_uv_t *const *pgs; /* result writes go to pgs[hash of job id % npg] */
    int npg;
    pg_uv_t *pg_big; /* rows of TASK_BIG_ROW bytes and more; NULL: pgs[0] */
    curl_uv_t *curl;
    cpu_pool_t *pool;      /* where pages are counted; NULL: on the loop */
    polite_t *polite;      /* NULL: no politeness (tests) */
    struct membudget *mem; /* the process's memory budget (worker/membudget.h); may be NULL */
    const char *consumer;
    /* A lease renewed less than this long ago (ms) is safe to act on. */
    int lease_safe_ms;
    /* on_end runs when a task ends, with how it ended. */
    void (*on_end)(struct task *t, enum task_outcome outcome, void *arg);
    /* on_freed runs after the task's memory is gone. */
    void (*on_freed)(void *arg);
    void *arg;
};

enum task_phase {
    TASK_STARTING,
    TASK_GATING,
    TASK_ANALYZING,
    TASK_STORING,
    TASK_FINISHING,
    TASK_FAILING,
    TASK_RETRYING,
    TASK_RELEASING,
    TASK_DEFERRING,
    TASK_ENDED
};

struct task {
    const struct task_env *env;
    struct queue *queue;      /* the job's shard's */
    struct task *prev, *next; /* the runner's list */
    struct queue_entry entry;
    enum task_phase phase;
    uint64_t lease_at; /* uv_now when the lease was last known good */
    bool renewing;     /* a renewal including this task is in flight */
    /* private */
    char *url;
    int64_t created_at_ms; /* the job's submission: its result row's created_at */
    int attempt;
    analysis_t *analysis;
    struct membudget_acct acct; /* open while acct_open */
    bool acct_open;
    bool waiting_memory;  /* between analyses: waits for memory (analysis.h) */
    uint64_t analysis_at; /* uv_now when the analysis started */
    uv_timer_t timer;
    struct backoff steps; /* a step that cannot reach its server; reset per phase */
    bool timed_out;
    bool stopping; /* abandon or release requested */
    bool release_on_stop;
    struct store_row row;
    bool have_row;
    int store_errors; /* SQL errors (not connection losses) so far */
    char error_code[48];
    char *error;
    uint64_t started_ms;
    struct polite_slot slot; /* the host slot while fetching */
    bool gating;             /* a polite_check is in flight */
    int64_t not_before_ms;   /* a retry is due no earlier (Retry-After, robots.txt); 0: none */
    int64_t defer_due_ms;    /* deferring: until when */
    char defer_reason[24];
    char host[HOSTS_NAME_MAX + 1];
    int host_limit;
    struct store_prev stored; /* the page's newest stored row, when found */
    char *hop_url;            /* the redirect being followed; NULL: the job's URL */
    int hops;                 /* redirects followed in this delivery */
    bool following;           /* the next analysis is a redirect's hop (JOB_TIMEOUT goes on) */
    int redirect_ms;          /* the hops' fetch time so far */
};

/* The calls a task makes, by the name of the function each stands for;
 * each keeps that function's contract (0 and one callback later, or a
 * negative error and none). task_io holds the real ones. */
struct task_io {
    int (*queue_start)(struct queue *q, const struct queue_entry *e, const char *consumer,
                       int max_attempts, queue_job_cb cb, void *arg);
    int (*queue_renew)(struct queue *q, const char *consumer, const struct queue_entry *entries,
                       size_t n, queue_renew_cb cb, void *arg);
    int (*queue_finish_with)(struct queue *q, const struct queue_entry *e, const char *consumer,
                             const struct queue_result *res, queue_done_cb cb, void *arg);
    int (*queue_fail)(struct queue *q, const struct queue_entry *e, const char *consumer,
                      const char *code, const char *message, queue_done_cb cb, void *arg);
    int (*queue_retry)(struct queue *q, const struct queue_entry *e, const char *consumer,
                       int64_t due_ms, const char *code, const char *message, queue_done_cb cb,
                       void *arg);
    int (*queue_release)(struct queue *q, const struct queue_entry *e, const char *consumer,
                         queue_done_cb cb, void *arg);
    int (*store_find)(pg_uv_t *pg, const char *job_id, store_found_cb cb, void *arg);
    int (*store_insert)(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg);
    int (*analysis_start)(curl_uv_t *cu, cpu_pool_t *pool, const struct config *cfg,
                          const struct stopwords *sw, struct membudget *mem,
                          struct membudget_acct *acct, const char *url,
                          const struct fetch_validators *v, analysis_build_cb build,
                          analysis_done_cb cb, void *arg, analysis_t **out);
    int (*store_last)(pg_uv_t *pg, const char *url_key, store_prev_cb cb, void *arg);
    void (*analysis_cancel)(analysis_t *a);
    int (*queue_defer)(struct queue *q, const struct queue_entry *e, const char *consumer,
                       int64_t due_ms, const char *reason, const char *host, int limit,
                       queue_done_cb cb, void *arg);
    int (*polite_check)(polite_t *p, const char *url, struct polite_slot *slot, polite_cb cb,
                        void *arg);
    void (*polite_release)(polite_t *p, struct polite_slot *slot, long http_status,
                           int64_t retry_after_ms);
    void (*polite_cancel)(polite_t *p, struct polite_slot *slot);
    void (*analysis_resume)(analysis_t *a);
    uint64_t (*analysis_waited_ms)(const analysis_t *a);
    int (*queue_page_noted)(struct queue *q, const char *url_key, queue_done_cb cb, void *arg);
};

/* task_io: the real queue, store and analysis functions unless a test swaps them. */
extern struct task_io task_io;

/* task_outcome_name names an outcome for logs ("finished", "not_started", ...). */
const char *task_outcome_name(enum task_outcome outcome);

/* task_start creates a task for delivery e, starts it and stores it in
 * *out. It returns 0, or a negative UV_* error when the first step cannot
 * be sent (Redis is not connected): then there is no task, no callback
 * runs, and the delivery stays pending until a rescue takes it. */
int task_start(const struct task_env *env, const struct queue_entry *e, struct task **out);
/* task_start_on is task_start for a delivery of q's shard (env->queue is
 * shard 0's): every step of the job goes to q. */
int task_start_on(const struct task_env *env, struct queue *q, const struct queue_entry *e,
                  struct task **out);
/* task_lease_renewed records that the lease was renewed at `at` (uv_now). */
void task_lease_renewed(struct task *t, uint64_t at);
/* task_lease_lost stops the task without writing anything. */
void task_lease_lost(struct task *t);
/* task_stop stops the task. With release (a drain), a job not yet stored
 * is handed back to the queue at once, and a job already stored, failed
 * or due for a retry is ended as such. Without release, the task ends
 * without writing anything more and the job is left for rescue. */
void task_stop(struct task *t, bool release);

#endif
