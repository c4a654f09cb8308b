/* longpoll — requests that wait for their job to end
 * (GET /api/v1/jobs/{id}?wait=N, or Prefer: wait=N).
 *
 * Owns: the waiters (struct waiter, heap, a few dozen bytes each plus
 * their job_events watch) and one uv_timer_t for all their deadlines.
 * Waits are whole seconds from 1 to LONGPOLL_MAX_S, so the waiters of
 * each length form a list already sorted by deadline (appended as they
 * come): one list per length, and the timer is set for the earliest head
 * among them. Adding, waking and expiring a waiter are O(1); no timer or
 * Redis connection per request.
 *
 * A wait reads the job (queue_get) after its watch is linked, so no event
 * falls between the read and the watch. A terminal event, or a
 * resubscription, reads it again; the deadline, or longpoll_stop
 * (SIGTERM), reads it a last time. The read that finds the job ended
 * (finished, failed, canceled), unknown, or Redis failing, or the last
 * read, goes to the caller's done callback, which answers: exactly one
 * call per longpoll_wait, with what queue_get gave (valid during the
 * call). The caller's state (arg) is its own until then. */
#ifndef WC_LONGPOLL_H
#define WC_LONGPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/queue.h"
#include "web/job_events.h"

#define LONGPOLL_MAX_S 60

struct waiter;

struct longpoll {
    uv_loop_t *loop;
    struct job_events *events; /* borrowed */
    uv_timer_t timer;
    struct waiter *heads[LONGPOLL_MAX_S + 1], *tails[LONGPOLL_MAX_S + 1];
    size_t nwaiting;
    bool stopping;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

void longpoll_init(struct longpoll *lp, uv_loop_t *loop, struct job_events *events);
/* longpoll_wait waits up to seconds (1..LONGPOLL_MAX_S) for job id to end
 * and then calls done(status, job, errstr, arg) as queue_get would, once.
 * q is the queue to read the job from. Returns 0, or a negative UV_* error
 * (the read could not be sent; done is not called). */
int longpoll_wait(struct longpoll *lp, struct queue *q, const char *id, int seconds,
                  queue_job_cb done, void *arg);
/* longpoll_stop answers every waiter now (a last read each), and every
 * later wait at once. */
void longpoll_stop(struct longpoll *lp);
/* longpoll_close closes the timer (stop first; no waiter may be left
 * reading when the loop must end); cb runs once it is closed. */
void longpoll_close(struct longpoll *lp, void (*cb)(void *arg), void *arg);

/* longpoll_prefer_wait reads "wait=N" out of a Prefer header value (RFC
 * 7240: a comma-separated list, each preference possibly with
 * parameters): N, or 0 when it has none or a malformed one. */
long longpoll_prefer_wait(const char *prefer);

#endif
