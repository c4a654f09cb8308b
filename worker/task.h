/* task — one delivery of one job inside a worker process, from start to
 * acknowledgement.
 *
 * Owns: the task struct, its timer (JOB_TIMEOUT while analyzing, backoff
 * while persisting), the running analysis, and the encoded result row.
 *
 * Phases: starting (queue_start) -> analyzing (fetch, extract, count) ->
 * storing (INSERT, idempotent) -> finishing (job finished + ack); or, on
 * failure, failing (job failed) / retrying (job parked until its backoff
 * is over); or releasing (handed back to the queue by a drain). A step
 * that cannot reach Redis or Postgres is repeated with backoff; nothing
 * is acknowledged before the result is committed.
 *
 * Leases: the runner renews every task's lease at each heartbeat and
 * tells the task (task_lease_renewed / task_lease_lost). A task stores its
 * result only while its lease is fresh; otherwise it renews first, and a
 * task whose lease was lost stops without writing anything.
 *
 * A task that task_start returned ends exactly once; then env->on_end runs
 * and, after its timer has closed, the memory is freed and env->on_freed
 * runs (the runner must stay alive until then). A task_start that fails
 * makes no task and calls neither (the libuv rule).
 *
 * Seam: task_queue_start_fn is the call that starts a delivery
 * (queue_start); tests may swap it, as they swap clock_now_ms_fn. */
#ifndef WC_TASK_H
#define WC_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "worker/analysis.h"
#include "worker/curl_uv.h"
#include "worker/stopwords.h"
#include "worker/store.h"

struct task;

/* What a task needs from its runner; owned by the runner, outlives tasks. */
struct task_env {
    uv_loop_t *loop;
    const struct config *cfg;
    const struct stopwords *sw;
    struct queue *queue;
    pg_uv_t *const *pgs; /* result writes go to pgs[hash of job id % npg] */
    int npg;
    curl_uv_t *curl;
    const char *consumer;
    /* A lease renewed less than this long ago (ms) is safe to act on. */
    int lease_safe_ms;
    /* on_end runs when a task ends: outcome is "finished", "failed",
     * "retrying", "released", "skipped", "lost", "not_started" (Redis
     * refused or dropped the start) or "abandoned". */
    void (*on_end)(struct task *t, const char *outcome, void *arg);
    /* on_freed runs after the task's memory is gone. */
    void (*on_freed)(void *arg);
    void *arg;
};

enum task_phase {
    TASK_STARTING,
    TASK_ANALYZING,
    TASK_STORING,
    TASK_FINISHING,
    TASK_FAILING,
    TASK_RETRYING,
    TASK_RELEASING,
    TASK_ENDED
};

struct task {
    const struct task_env *env;
    struct task *prev, *next; /* the runner's list */
    struct queue_entry entry;
    enum task_phase phase;
    uint64_t lease_at; /* uv_now when the lease was last known good */
    bool renewing;     /* a renewal including this task is in flight */
    /* private */
    char *url;
    int attempt;
    analysis_t *analysis;
    uv_timer_t timer;
    int backoff_ms;
    bool timed_out;
    bool stopping; /* abandon or release requested */
    bool release_on_stop;
    struct store_row row;
    bool have_row;
    int store_errors; /* SQL errors (not connection losses) so far */
    char error_code[48];
    char *error;
    uint64_t started_ms;
};

/* task_queue_start_fn starts a delivery; queue_start unless a test swaps it. */
extern int (*task_queue_start_fn)(struct queue *q, const struct queue_entry *e,
                                  const char *consumer, int max_attempts, queue_job_cb cb,
                                  void *arg);

/* task_start creates a task for delivery e, starts it and stores it in
 * *out. It returns 0, or a negative UV_* error when the first step cannot
 * be sent (Redis is not connected): then there is no task, no callback
 * runs, and the delivery stays pending until a rescue takes it. */
int task_start(const struct task_env *env, const struct queue_entry *e, struct task **out);
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
