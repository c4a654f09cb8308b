/* longpoll.c — waiters, their deadlines and their reads; see longpoll.h. */
#include "web/longpoll.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/xalloc.h"

struct waiter {
    struct waiter *prev, *next; /* in the deadline list of its length */
    struct longpoll *lp;
    struct queue *q;
    struct job_watch watch;
    uint64_t deadline; /* uv_now() ms */
    int seconds;
    queue_job_cb done;
    void *arg;
    bool listed;  /* in a deadline list */
    bool reading; /* a queue_get is in flight */
    bool again;   /* read once more when it answers */
    bool last;    /* the next answer is the last */
    bool parked;  /* found running once (logged) */
};

static void rearm(struct longpoll *lp);

static void
unlist(struct waiter *w) {
    if (!w->listed) return;
    struct longpoll *lp = w->lp;
    if (w->prev) w->prev->next = w->next;
    else lp->heads[w->seconds] = w->next;
    if (w->next) w->next->prev = w->prev;
    else lp->tails[w->seconds] = w->prev;
    w->prev = w->next = NULL;
    w->listed = false;
}

/* finish hands the read to the caller and frees w. */
static void
finish(struct waiter *w, int status, const struct job *job, const char *errstr) {
    struct longpoll *lp = w->lp;
    unlist(w);
    job_events_unwatch(lp->events, &w->watch);
    lp->nwaiting--;
    queue_job_cb done = w->done;
    void *arg = w->arg;
    free(w);
    done(status, job, errstr, arg);
}

static void on_read(int status, const struct job *job, const char *errstr, void *arg);

static void
read_job(struct waiter *w) {
    w->reading = true;
    int rc = queue_get(w->q, w->watch.id, on_read, w);
    if (rc < 0) {
        w->reading = false;
        finish(w, rc, NULL, "the job queue is unreachable");
    }
}

static void
on_read(int status, const struct job *job, const char *errstr, void *arg) {
    struct waiter *w = arg;
    w->reading = false;
    if (status < 0 || !job || job_state_terminal(job->state) || w->last || w->lp->stopping) {
        finish(w, status, job, errstr);
    } else if (w->again) {
        w->again = false;
        read_job(w);
    } else if (!w->parked) {
        /* Still running: wait for its end, the deadline or a stop. */
        w->parked = true;
        log_debug("msg=\"long-poll waiting\" job=%s s=%d", w->watch.id, w->seconds);
    }
}

/* wake reads the job again (after the read in flight, if one is); last:
 * whatever it then is, answer. */
static void
wake(struct waiter *w, bool last) {
    if (last) {
        w->last = true;
        unlist(w);
    }
    if (w->reading) w->again = true;
    else read_job(w);
}

static void
on_event(struct job_watch *watch, const char *state, const char *event_id, void *arg) {
    struct waiter *w = arg;
    (void)watch;
    (void)event_id;
    enum job_state st;
    /* Only an end (or a possible miss: state NULL) is worth a read. */
    if (!state || (job_state_parse(state, &st) == 0 && job_state_terminal(st))) wake(w, false);
}

static void
on_timer(uv_timer_t *t) {
    struct longpoll *lp = t->data;
    uint64_t now = uv_now(lp->loop);
    for (int s = 1; s <= LONGPOLL_MAX_S; s++)
        while (lp->heads[s] && lp->heads[s]->deadline <= now) wake(lp->heads[s], true);
    rearm(lp);
}

/* rearm sets the timer for the earliest deadline (the lists' heads). */
static void
rearm(struct longpoll *lp) {
    uint64_t first = UINT64_MAX;
    for (int s = 1; s <= LONGPOLL_MAX_S; s++)
        if (lp->heads[s] && lp->heads[s]->deadline < first) first = lp->heads[s]->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&lp->timer);
        return;
    }
    uint64_t now = uv_now(lp->loop);
    uv_timer_start(&lp->timer, on_timer, first > now ? first - now : 0, 0);
}

void
longpoll_init(struct longpoll *lp, uv_loop_t *loop, struct job_events *events) {
    memset(lp, 0, sizeof *lp);
    lp->loop = loop;
    lp->events = events;
    uv_timer_init(loop, &lp->timer);
    lp->timer.data = lp;
}

int
longpoll_wait(struct longpoll *lp, struct queue *q, const char *id, int seconds, queue_job_cb done,
              void *arg) {
    if (seconds < 1) seconds = 1;
    if (seconds > LONGPOLL_MAX_S) seconds = LONGPOLL_MAX_S;
    struct waiter *w = xcalloc(1, sizeof *w);
    w->lp = lp;
    w->q = q;
    w->done = done;
    w->arg = arg;
    w->seconds = seconds;
    w->last = lp->stopping;
    /* The watch first, then the read: an end announced while the read is
     * in flight makes it read again. */
    job_events_watch(lp->events, &w->watch, id, on_event, w);
    w->reading = true;
    int rc = queue_get(q, id, on_read, w);
    if (rc < 0) {
        job_events_unwatch(lp->events, &w->watch);
        free(w);
        return rc;
    }
    lp->nwaiting++;
    if (!w->last) {
        w->deadline = uv_now(lp->loop) + (uint64_t)seconds * 1000;
        w->prev = lp->tails[seconds];
        if (w->prev) w->prev->next = w;
        else lp->heads[seconds] = w;
        lp->tails[seconds] = w;
        w->listed = true;
        if (!uv_is_active((uv_handle_t *)&lp->timer) || lp->heads[seconds] == w) rearm(lp);
    }
    return 0;
}

void
longpoll_stop(struct longpoll *lp) {
    lp->stopping = true;
    for (int s = 1; s <= LONGPOLL_MAX_S; s++)
        while (lp->heads[s]) wake(lp->heads[s], true);
    uv_timer_stop(&lp->timer);
}

static void
on_timer_closed(uv_handle_t *h) {
    struct longpoll *lp = h->data;
    if (lp->closed_cb) lp->closed_cb(lp->closed_arg);
}

void
longpoll_close(struct longpoll *lp, void (*cb)(void *arg), void *arg) {
    lp->stopping = true;
    lp->closed_cb = cb;
    lp->closed_arg = arg;
    uv_close((uv_handle_t *)&lp->timer, on_timer_closed);
}

long
longpoll_prefer_wait(const char *prefer) {
    if (!prefer) return 0;
    for (const char *p = prefer; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        /* One preference: "token[=value] *( ; param )". */
        size_t tok = strcspn(p, "=;,");
        size_t t = tok;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t')) t--;
        if (t == 4 && !strncasecmp(p, "wait", 4) && tok < n && p[tok] == '=') {
            const char *v = p + tok + 1;
            v += strspn(v, " \t");
            bool quoted = *v == '"';
            if (quoted) v++;
            if (!isdigit((unsigned char)*v)) return 0;
            char *end;
            long s = strtol(v, &end, 10);
            if (quoted && *end++ != '"') return 0;
            end += strspn(end, " \t");
            if ((*end && *end != ',' && *end != ';') || s <= 0) return 0;
            return s;
        }
        p += n;
    }
    return 0;
}
