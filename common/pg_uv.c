/* pg_uv.c — libpq's asynchronous API on a libuv loop: the connect state
 * machine, one query in flight with a FIFO behind it, and reconnect. See
 * pg_uv.h for the contract.
 *
 * States: DOWN (waiting on the retry timer; queries are refused),
 * CONNECTING (PQconnectPoll in progress; queries wait in the FIFO) and
 * READY (one query in flight at a time). Any failure goes through
 * conn_failed(), which finishes the connection, fails every query, and
 * arms the retry timer.
 *
 * The uv_poll_t lives on the heap, one per socket: libpq may switch
 * sockets while connecting (next address or host), and a socket must be
 * closed only after its poll handle is gone, so PQfinish runs in the
 * poll's close callback. The owner is freed when the last of its handles
 * (two timers and any polls still closing) has closed. */
#include "common/pg_uv.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/pg_stmts.h"
#include "common/xalloc.h"

/* Reconnect: steps of 100 ms doubling to 5 s, with jitter. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_PARAMS 65535 /* the protocol's limit */

struct query {
    struct query *next;
    char *sql;
    int nparams;
    char **params; /* copies, or the caller's (borrowed); NULL entries are SQL NULLs */
    bool borrowed;
    int stmt;       /* its prepared statement (pg_stmts), or -1: run unprepared */
    bool preparing; /* its Prepare is in flight; the execution follows */
    pg_uv_cb cb;
    void *arg;
};

/* One poll handle per socket. conn is set only when the connection is to
 * be finished in the close callback. */
struct pgpoll {
    uv_poll_t handle;
    pg_uv_t *pg;
    PGconn *conn;
    int fd;
    ino_t ino;  /* a new socket may reuse the old descriptor number */
    int events; /* what the handle was last started with */
};

enum pg_state { PG_DOWN, PG_CONNECTING, PG_READY };

struct pg_uv {
    uv_loop_t *loop;
    char *conninfo;
    char *name;
    int timeout_ms;
    size_t max_queue;

    enum pg_state state;
    PGconn *conn;
    struct pgpoll *poll;
    struct query *inflight;
    const struct query *late; /* the query found late once, given one more read */
    PGresult *last;           /* latest result of the query in flight */
    bool flushing;            /* PQflush has more to send */
    struct query *head, *tail;
    size_t queued;

    uv_timer_t retry_timer;
    uv_timer_t query_timer;   /* query timeout, or connect timeout while connecting */
    struct backoff reconnect; /* its failures: connect attempts failed in a row */
    char last_error[256];

    bool prepare;          /* statements prepared once per connection (pg_uv_set_prepare) */
    struct pg_stmts stmts; /* ... those of the current connection */

    pg_uv_state_cb state_cb;
    void *state_arg;
    void *data; /* the owner's (pg_uv_set_data) */

    bool closing;
    int pending_closes;
    pg_uv_close_cb close_cb;
    void *close_arg;
};

static void start_connect(pg_uv_t *pg);
static void start_next(pg_uv_t *pg);

/* --- queries --- */

static void
query_free(struct query *q) {
    if (!q->borrowed)
        for (int i = 0; i < q->nparams; i++) free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}

/* fail_all fails the query in flight and the queued ones. The list is
 * detached first: a callback may submit (refused) or close. */
static void
fail_all(pg_uv_t *pg, const char *why) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why);
    struct query *list = pg->head;
    if (pg->inflight) {
        pg->inflight->next = list;
        list = pg->inflight;
    }
    pg->inflight = NULL;
    pg->head = pg->tail = NULL;
    pg->queued = 0;
    while (list) {
        struct query *q = list;
        list = q->next;
        q->cb(pg, NULL, msg, q->arg);
        query_free(q);
    }
}

/* --- the socket --- */

static void
maybe_free(pg_uv_t *pg) {
    if (!pg->closing || pg->pending_closes > 0) return;
    assert(!pg->conn && !pg->poll && !pg->inflight && !pg->head);
    pg_uv_close_cb cb = pg->close_cb;
    void *arg = pg->close_arg;
    free(pg->conninfo);
    free(pg->name);
    free(pg);
    if (cb) cb(arg);
}

static void
on_poll_closed(uv_handle_t *h) {
    struct pgpoll *p = h->data;
    pg_uv_t *pg = p->pg;
    if (p->conn) PQfinish(p->conn);
    free(p);
    pg->pending_closes--;
    maybe_free(pg);
}

/* close_poll closes the current poll; with finish, the connection goes
 * with it (PQfinish in the close callback). */
static void
close_poll(pg_uv_t *pg, bool finish) {
    struct pgpoll *p = pg->poll;
    pg->poll = NULL;
    if (finish) {
        p->conn = pg->conn;
        pg->conn = NULL;
    }
    pg->pending_closes++;
    uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* watch polls PQsocket for events, replacing the poll handle when libpq
 * has moved to another socket (it closes the old one itself). libpq
 * moves only while connecting: a ready connection keeps its socket, so
 * its queries skip the fstat. */
static int
watch(pg_uv_t *pg, int events) {
    int fd = PQsocket(pg->conn);
    if (fd < 0) return UV_EBADF;
    bool same = pg->state == PG_READY && pg->poll && pg->poll->fd == fd;
    struct stat st = {0};
    if (!same) {
        if (fstat(fd, &st) < 0) return UV_EBADF;
        if (pg->poll && (pg->poll->fd != fd || pg->poll->ino != st.st_ino)) close_poll(pg, false);
    }
    if (!pg->poll) {
        struct pgpoll *p = xcalloc(1, sizeof *p);
        int rc = uv_poll_init(pg->loop, &p->handle, fd);
        if (rc < 0) {
            free(p);
            return rc;
        }
        p->handle.data = p;
        p->pg = pg;
        p->fd = fd;
        p->ino = st.st_ino;
        pg->poll = p;
    }
    /* libuv's uv_poll_start takes the socket out of epoll and puts it
     * back even for the same events (two epoll_ctl): only a change, or a
     * handle libuv stopped (POLLERR), starts it again. */
    if (events == pg->poll->events && uv_is_active((uv_handle_t *)&pg->poll->handle)) return 0;
    int rc = uv_poll_start(&pg->poll->handle, events, on_poll);
    pg->poll->events = rc == 0 ? events : 0;
    return rc;
}

/* finish_conn closes the poll and finishes the connection. */
static void
finish_conn(pg_uv_t *pg) {
    pg_stmts_clear(&pg->stmts); /* a new connection has none */
    if (pg->last) PQclear(pg->last);
    pg->last = NULL;
    pg->flushing = false;
    if (pg->poll) close_poll(pg, true);
    if (pg->conn) PQfinish(pg->conn); /* never had a poll */
    pg->conn = NULL;
}

/* --- connection state --- */

static void
on_retry_timer(uv_timer_t *t) {
    pg_uv_t *pg = t->data;
    if (!pg->closing) start_connect(pg);
}

/* schedule_retry counts a failed attempt and waits out its backoff. */
static void
schedule_retry(pg_uv_t *pg) {
    uv_timer_start(&pg->retry_timer, on_retry_timer, (uint64_t)backoff_next(&pg->reconnect), 0);
}

/* conn_failed drops the connection, reports it once, fails every query
 * with why and schedules a reconnect. */
static void
conn_failed(pg_uv_t *pg, const char *why) {
    bool was_ready = pg->state == PG_READY;
    /* why may live in the PGconn: copy it (first line only) before
     * finishing the connection. */
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why && *why ? why : "connection lost");
    msg[strcspn(msg, "\n")] = '\0';
    snprintf(pg->last_error, sizeof pg->last_error, "%s", msg);
    finish_conn(pg);
    pg->state = PG_DOWN;
    uv_timer_stop(&pg->query_timer);
    if (was_ready) {
        log_warn("msg=\"postgres disconnected\" conn=%s error=%s", pg->name, log_q(msg));
    } else if (pg->reconnect.failures == 0) {
        log_warn("msg=\"postgres connect failed\" conn=%s error=%s", pg->name, log_q(msg));
    } else {
        log_debug("msg=\"postgres connect failed\" conn=%s error=%s attempt=%u", pg->name,
                  log_q(msg), pg->reconnect.failures + 1);
    }
    schedule_retry(pg);
    fail_all(pg, msg);
    if (was_ready && pg->state_cb && !pg->closing) pg->state_cb(pg, false, pg->state_arg);
}

static void
on_timeout(uv_timer_t *t) {
    pg_uv_t *pg = t->data;
    if (pg->closing) return;
    if (pg->state == PG_CONNECTING) {
        conn_failed(pg, "connect timeout");
    } else if (pg->state == PG_READY && pg->inflight) {
        /* The loop may have been busy while the answer sat in the socket
         * (timers run before sockets are read): one more read first. */
        if (pg->late != pg->inflight) {
            pg->late = pg->inflight;
            uv_timer_start(&pg->query_timer, on_timeout, 1, 0);
            return;
        }
        conn_failed(pg, "timeout");
    }
}

static void
on_notice(void *arg, const char *message) {
    pg_uv_t *pg = arg;
    log_debug("msg=\"postgres notice\" conn=%s notice=%s", pg->name, log_q(message));
}

static void
ready(pg_uv_t *pg) {
    uv_timer_stop(&pg->query_timer);
    if (watch(pg, UV_READABLE) < 0) {
        conn_failed(pg, "cannot poll the socket");
        return;
    }
    pg->state = PG_READY;
    backoff_reset(&pg->reconnect);
    pg->last_error[0] = '\0';
    log_info("msg=\"postgres connected\" conn=%s db=%s server_version=%d", pg->name,
             log_q(PQdb(pg->conn)), PQserverVersion(pg->conn));
    if (pg->state_cb) pg->state_cb(pg, true, pg->state_arg);
    start_next(pg);
}

/* connect_step drives PQconnectPoll by its READING/WRITING answers. */
static void
connect_step(pg_uv_t *pg) {
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_READING:
        if (watch(pg, UV_READABLE) < 0) conn_failed(pg, "cannot poll the socket");
        break;
    case PGRES_POLLING_WRITING:
        if (watch(pg, UV_WRITABLE) < 0) conn_failed(pg, "cannot poll the socket");
        break;
    case PGRES_POLLING_OK:
        ready(pg);
        break;
    default:
        conn_failed(pg, PQerrorMessage(pg->conn));
        break;
    }
}

static void
start_connect(pg_uv_t *pg) {
    /* Each connection names itself to the server (pg_stat_activity's
     * application_name), unless the URL names it. */
    char app[64];
    snprintf(app, sizeof app, "wordcount %s", pg->name);
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const values[] = {pg->conninfo, app, NULL};
    pg->conn = PQconnectStartParams(keys, values, 1);
    pg->state = PG_CONNECTING;
    if (!pg->conn) {
        conn_failed(pg, "out of memory");
        return;
    }
    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        conn_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
    if (PQsetnonblocking(pg->conn, 1) != 0) {
        conn_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
    PQsetNoticeProcessor(pg->conn, on_notice, pg);
    /* libpq's advice: after PQconnectStart, act as if it said WRITING. */
    if (watch(pg, UV_WRITABLE) < 0) {
        conn_failed(pg, "cannot poll the socket");
        return;
    }
    if (pg->timeout_ms > 0)
        uv_timer_start(&pg->query_timer, on_timeout, (uint64_t)pg->timeout_ms, 0);
}

/* --- running queries --- */

/* flush sends what libpq has buffered; while PQflush says 1, wait for
 * the socket to be writable as well. Returns -1 after a failure. */
static int
flush(pg_uv_t *pg) {
    int rc = PQflush(pg->conn);
    if (rc < 0) {
        conn_failed(pg, PQerrorMessage(pg->conn));
        return -1;
    }
    pg->flushing = rc == 1;
    if (watch(pg, UV_READABLE | (pg->flushing ? UV_WRITABLE : 0)) < 0) {
        conn_failed(pg, "cannot poll the socket");
        return -1;
    }
    return 0;
}

/* send_query sends q: as a prepared statement's execution when its SQL
 * was prepared on this connection, else its Prepare first (the execution
 * follows when that answers; see run_prepared), or unprepared when
 * preparing is off or the statement cache is full. Returns libpq's 1 or 0. */
static int
send_query(pg_uv_t *pg, struct query *q) {
    const char *const *params = (const char *const *)q->params;
    int i = pg->prepare ? pg_stmts_find(&pg->stmts, q->sql) : -1;
    char name[PG_STMTS_NAME_MAX];
    if (i >= 0 && pg_stmts_is_ready(&pg->stmts, i)) {
        q->stmt = i;
        pg_stmts_name(&pg->stmts, i, name);
        return PQsendQueryPrepared(pg->conn, name, q->nparams, params, NULL, NULL, 0);
    }
    if (i >= 0) pg_stmts_forget(&pg->stmts, i); /* a Prepare that never answered */
    i = pg->prepare ? pg_stmts_add(&pg->stmts, q->sql) : -1;
    if (i < 0) return PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL, params, NULL, NULL, 0);
    q->stmt = i;
    q->preparing = true;
    pg_stmts_name(&pg->stmts, i, name);
    return PQsendPrepare(pg->conn, name, q->sql, q->nparams, NULL);
}

static void
start_next(pg_uv_t *pg) {
    while (!pg->closing && pg->state == PG_READY && !pg->inflight && pg->head) {
        struct query *q = pg->head;
        pg->head = q->next;
        if (!pg->head) pg->tail = NULL;
        pg->queued--;
        q->next = NULL;
        pg->inflight = q;
        if (send_query(pg, q)) {
            if (pg->timeout_ms > 0)
                uv_timer_start(&pg->query_timer, on_timeout, (uint64_t)pg->timeout_ms, 0);
            flush(pg);
            return;
        }
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            conn_failed(pg, PQerrorMessage(pg->conn));
            return;
        }
        /* Refused by libpq itself, before anything was sent: only this
         * query fails. */
        if (q->preparing) pg_stmts_forget(&pg->stmts, q->stmt);
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg->conn));
        msg[strcspn(msg, "\n")] = '\0';
        pg->inflight = NULL;
        q->cb(pg, NULL, msg, q->arg);
        query_free(q);
    }
}

/* finish_query delivers the last result of the query in flight, clears
 * it when the callback returns, and starts the next query. */
static void
finish_query(pg_uv_t *pg) {
    struct query *q = pg->inflight;
    PGresult *res = pg->last;
    /* A statement the server no longer takes as prepared (its table's
     * columns changed under it, or it was deallocated): prepared afresh
     * next time; this run's error goes to the caller as any error. */
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (q->stmt >= 0 && !q->preparing && state &&
        (strcmp(state, "0A000") == 0 || strcmp(state, "26000") == 0))
        pg_stmts_forget(&pg->stmts, q->stmt);
    pg->inflight = NULL;
    pg->last = NULL;
    uv_timer_stop(&pg->query_timer);
    q->cb(pg, res, res ? NULL : "no result", q->arg);
    PQclear(res);
    query_free(q);
    start_next(pg);
}

/* run_prepared follows the answer to the query in flight's Prepare: on
 * success it sends the execution (true: keep collecting); on an error
 * (the SQL's own: the caller gets it as the query's result) it forgets
 * the statement (false: finish the query now). */
static bool
run_prepared(pg_uv_t *pg) {
    struct query *q = pg->inflight;
    q->preparing = false;
    if (!pg->last || PQresultStatus(pg->last) != PGRES_COMMAND_OK) {
        pg_stmts_forget(&pg->stmts, q->stmt);
        q->stmt = -1;
        return false;
    }
    PQclear(pg->last);
    pg->last = NULL;
    pg_stmts_ready(&pg->stmts, q->stmt);
    char name[PG_STMTS_NAME_MAX];
    pg_stmts_name(&pg->stmts, q->stmt, name);
    if (!PQsendQueryPrepared(pg->conn, name, q->nparams, (const char *const *)q->params, NULL, NULL,
                             0)) {
        conn_failed(pg, PQerrorMessage(pg->conn)); /* the Prepare went, this cannot: the link */
        return true;
    }
    flush(pg);
    return true;
}

/* collect reads results while libpq has whole ones; PQgetResult's NULL
 * ends the query in flight (or its Prepare: then its execution goes). */
static void
collect(pg_uv_t *pg) {
    while (pg->state == PG_READY && pg->inflight && !PQisBusy(pg->conn)) {
        PGresult *res = PQgetResult(pg->conn);
        if (res) {
            if (pg->last) PQclear(pg->last);
            pg->last = res;
            continue;
        }
        /* A query ended by a lost connection did not complete. */
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            conn_failed(pg, PQerrorMessage(pg->conn));
            return;
        }
        if (pg->inflight->preparing && run_prepared(pg)) continue;
        finish_query(pg);
        if (pg->closing) return;
    }
    if (pg->state == PG_READY && PQstatus(pg->conn) == CONNECTION_BAD)
        conn_failed(pg, PQerrorMessage(pg->conn));
}

/* socket_failed drops a connection whose socket reported an error, named
 * by the socket itself when it can. */
static void
socket_failed(pg_uv_t *pg) {
    int err = 0;
    socklen_t len = sizeof err;
    int fd = PQsocket(pg->conn);
    char msg[128];
    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
        snprintf(msg, sizeof msg, "socket error: %s", strerror(err));
    else snprintf(msg, sizeof msg, "socket error");
    conn_failed(pg, msg);
}

static void
on_poll(uv_poll_t *h, int status, int events) {
    struct pgpoll *p = h->data;
    pg_uv_t *pg = p->pg;
    if (pg->closing || p != pg->poll) return;
    if (pg->state == PG_CONNECTING) {
        connect_step(pg);
        return;
    }
    if (status < 0 || (events & UV_READABLE)) {
        if (!PQconsumeInput(pg->conn)) {
            conn_failed(pg, PQerrorMessage(pg->conn));
            return;
        }
        for (PGnotify *n; (n = PQnotifies(pg->conn));) PQfreemem(n);
    }
    if (status < 0) {
        /* POLLERR: the socket has an error pending (a server that went
         * away answers a write with a reset), and libuv has stopped the
         * handle. What came before the error (a result, the server's
         * last words) was read above and is delivered; the connection is
         * lost either way. */
        collect(pg);
        if (pg->state == PG_READY && !pg->closing && p == pg->poll) socket_failed(pg);
        return;
    }
    if (pg->flushing && flush(pg) < 0) return;
    collect(pg);
}

/* --- public API --- */

pg_uv_t *
pg_uv_new(uv_loop_t *loop, const char *conninfo, const char *name, int query_timeout_ms,
          size_t max_queue) {
    pg_uv_t *pg = xcalloc(1, sizeof *pg);
    pg->loop = loop;
    pg->conninfo = xstrdup(conninfo);
    pg->name = xstrdup(name ? name : "postgres");
    pg->timeout_ms = query_timeout_ms;
    pg->max_queue = max_queue;
    pg->prepare = true;
    backoff_init(&pg->reconnect, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
                 uv_hrtime() ^ (uint64_t)(uintptr_t)pg);
    uv_timer_init(loop, &pg->retry_timer);
    uv_timer_init(loop, &pg->query_timer);
    pg->retry_timer.data = pg;
    pg->query_timer.data = pg;
    start_connect(pg);
    return pg;
}

void
pg_uv_on_state(pg_uv_t *pg, pg_uv_state_cb cb, void *arg) {
    pg->state_cb = cb;
    pg->state_arg = arg;
}

bool
pg_uv_connected(const pg_uv_t *pg) {
    return pg->state == PG_READY && !pg->closing;
}

bool
pg_uv_retry_now(pg_uv_t *pg) {
    if (pg->closing) return false;
    if (pg->state == PG_DOWN) {
        uv_timer_stop(&pg->retry_timer);
        log_info("msg=\"postgres reconnecting now\" conn=%s attempt=%u", pg->name,
                 pg->reconnect.failures + 1);
        start_connect(pg); /* a failure here schedules the next wait again */
    }
    return pg->state != PG_DOWN;
}

/* submit queues a query; the parameter strings are copied unless borrowed. */
static int
submit(pg_uv_t *pg, const char *sql, int nparams, const char *const *params, bool borrowed,
       pg_uv_cb cb, void *arg) {
    assert(cb && sql);
    if (pg->closing) return UV_ECANCELED;
    if (nparams < 0 || nparams > MAX_PARAMS || (nparams > 0 && !params)) return UV_EINVAL;
    if (pg->state == PG_DOWN) return UV_ENOTCONN;
    if (pg->max_queue && pg->queued >= pg->max_queue) return UV_ENOBUFS;
    struct query *q = xcalloc(1, sizeof *q);
    q->sql = xstrdup(sql);
    q->nparams = nparams;
    q->params = xcalloc((size_t)nparams, sizeof *q->params);
    q->borrowed = borrowed;
    for (int i = 0; i < nparams; i++)
        q->params[i] = !params[i] ? NULL : borrowed ? (char *)params[i] : xstrdup(params[i]);
    q->stmt = -1;
    q->cb = cb;
    q->arg = arg;
    if (pg->tail) pg->tail->next = q;
    else pg->head = q;
    pg->tail = q;
    pg->queued++;
    start_next(pg);
    return 0;
}

int
pg_uv_query(pg_uv_t *pg, const char *sql, int nparams, const char *const *params, pg_uv_cb cb,
            void *arg) {
    return submit(pg, sql, nparams, params, false, cb, arg);
}

int
pg_uv_query_borrowed(pg_uv_t *pg, const char *sql, int nparams, const char *const *params,
                     pg_uv_cb cb, void *arg) {
    return submit(pg, sql, nparams, params, true, cb, arg);
}

void
pg_uv_set_prepare(pg_uv_t *pg, bool on) {
    pg->prepare = on;
}

void
pg_uv_set_data(pg_uv_t *pg, void *data) {
    pg->data = data;
}

void *
pg_uv_data(const pg_uv_t *pg) {
    return pg->data;
}

const char *
pg_uv_last_error(const pg_uv_t *pg) {
    return pg->last_error;
}

static void
on_timer_closed(uv_handle_t *h) {
    pg_uv_t *pg = h->data;
    pg->pending_closes--;
    maybe_free(pg);
}

void
pg_uv_close(pg_uv_t *pg, pg_uv_close_cb cb, void *arg) {
    assert(!pg->closing);
    pg->closing = true;
    pg->close_cb = cb;
    pg->close_arg = arg;
    finish_conn(pg);
    pg->state = PG_DOWN;
    pg->pending_closes += 2;
    uv_close((uv_handle_t *)&pg->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&pg->query_timer, on_timer_closed);
    fail_all(pg, "closing");
}
