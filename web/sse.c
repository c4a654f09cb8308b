/* sse.c — event streams of jobs; see sse.h.
 *
 * A stream's life: the job's status is read (HGET), then its events after
 * the last one sent (XRANGE); the first read decides between 404 and the
 * stream's head. A watch notification reads again (once more after the
 * read in flight, if one is). The stream ends after a terminal event,
 * when its client leaves (req_on_gone), on sse_stop, or when the client
 * reads too slowly; while a read is in flight the end waits for it,
 * since the read's callback holds the stream. */
#include "web/sse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/req.h"
#include "web/response.h"

/* Events read per XRANGE; more are read at once after these are sent. */
#define READ_COUNT 100

struct sse_stream {
    struct sse_stream *prev, *next;
    struct sse *sse;
    struct req *req;
    struct queue *q;
    struct job_watch watch;
    char last_id[SSE_ID_MAX + 1]; /* "" before the first event */
    char status[16];              /* the job's status at the first read */
    bool begun;                   /* the head was sent */
    bool reading;                 /* a Redis read is in flight */
    bool again;                   /* an event came during the read */
    bool ending;                  /* end once the read answers */
    bool writing;                 /* inside req_stream_start or _write */
};

static void read_events(struct sse_stream *st);
static void on_keepalive(uv_timer_t *t);

bool
sse_id_valid(const char *id) {
    size_t n = strlen(id), ms = strspn(id, "0123456789");
    if (n == 0 || n > SSE_ID_MAX || ms == 0 || ms > 20 || id[ms] != '-') return false;
    size_t seq = strspn(id + ms + 1, "0123456789");
    return seq > 0 && seq <= 20 && ms + 1 + seq == n;
}

/* finish takes st out and frees it: the stream ends (or, before its
 * head, the client gets 503, the only answer an unbegun stream is left
 * with when it is ended from outside; st->req NULL: answered already). */
static void
finish(struct sse_stream *st) {
    struct sse *s = st->sse;
    job_events_unwatch(s->events, &st->watch);
    if (st->prev) st->prev->next = st->next;
    else s->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    s->nstreams--;
    if (s->nstreams == 0) uv_timer_stop(&s->keepalive);
    struct req *req = st->req;
    bool begun = st->begun;
    free(st);
    if (!req) return;
    if (begun) req_stream_end(req, true);
    else req_unavailable(req, REQ_REDIS, "the server is stopping or the job queue is unreachable");
}

/* end ends st now, or when its read answers. */
static void
end(struct sse_stream *st) {
    if (st->reading) st->ending = true;
    else finish(st);
}

/* write_text pushes text on st's stream; a client found gone there marks
 * st ending (its caller, or the gone callback, then finishes it). */
static void
write_text(struct sse_stream *st, const char *text, size_t len) {
    struct buf piece;
    buf_init(&piece);
    buf_append(&piece, text, len);
    st->writing = true;
    req_stream_write(st->req, &piece);
    st->writing = false;
    if (req_stream_gone(st->req)) st->ending = true;
}

/* on_more: the socket took what was written. Events are pushed as they
 * come, so only a client found gone matters here. */
static void
on_more(struct req *req, void *arg) {
    struct sse_stream *st = arg;
    if (!req_stream_gone(req)) return;
    if (st->writing) st->ending = true;
    else end(st);
}

/* event_data is the JSON of one entry's fields (name, value pairs). */
static json_t *
event_data(const char *job_id, const redisReply *fields) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(job_id));
    const char *code = NULL, *msg = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(k->str, "state")) {
            json_object_set_new(o, "status", json_string(v->str));
        } else if (!strcmp(k->str, "at") || !strcmp(k->str, "next_attempt_at")) {
            char t[32];
            clock_format_rfc3339(strtoll(v->str, NULL, 10), t);
            json_object_set_new(o, k->str, json_string(t));
        } else if (!strcmp(k->str, "attempt")) {
            json_object_set_new(o, "attempt", json_integer(strtoll(v->str, NULL, 10)));
        } else if (!strcmp(k->str, "error_code")) {
            code = v->str;
        } else if (!strcmp(k->str, "error")) {
            msg = v->str;
        } else if (!strcmp(k->str, "result")) {
            json_t *r = json_loads(v->str, 0, NULL);
            if (r) json_object_set_new(o, "result", r);
        }
    }
    if (code || msg)
        json_object_set_new(o, "error", json_pack("{s:s?, s:s?}", "code", code, "message", msg));
    return o;
}

/* send_event writes one event (id may be NULL); returns whether it was
 * terminal. */
static bool
send_event(struct sse_stream *st, const char *id, const char *state, json_t *data) {
    struct buf b;
    buf_init(&b);
    if (id) buf_printf(&b, "id: %s\n", id);
    buf_printf(&b, "event: %s\ndata: ", state);
    json_dump_append(data, &b);
    buf_append_str(&b, "\n\n");
    write_text(st, b.data, b.len);
    buf_free(&b);
    enum job_state js;
    return job_state_parse(state, &js) == 0 && job_state_terminal(js);
}

static bool
begin(struct sse_stream *st) {
    struct response r;
    response_init(&r, 200);
    response_header(&r, "Content-Type", "text/event-stream; charset=utf-8");
    response_header(&r, "Cache-Control", "no-cache");
    response_header(&r, "X-Accel-Buffering", "no"); /* nginx: pass each event on at once */
    st->begun = true;
    if (!uv_is_active((uv_handle_t *)&st->sse->keepalive))
        uv_timer_start(&st->sse->keepalive, on_keepalive, SSE_KEEPALIVE_MS, SSE_KEEPALIVE_MS);
    st->writing = true;
    req_stream_start(st->req, &r, on_more, st);
    st->writing = false;
    if (req_stream_gone(st->req)) return false;
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %d\n\n", SSE_RETRY_MS);
    write_text(st, retry, (size_t)n);
    return true;
}

static void
on_events(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct sse_stream *st = arg;
    (void)r;
    st->reading = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        log_warn("msg=\"event stream read failed\" job=%s error=%s", st->watch.id,
                 log_q(reply ? reply->str : errstr));
        finish(st); /* a begun stream ends; the client reconnects with its last id */
        return;
    }
    if (st->ending || st->sse->stopping) {
        finish(st);
        return;
    }
    bool terminal = false;
    if (!st->begun) {
        if (!st->status[0] && reply->elements == 0) {
            struct req *req = st->req;
            st->req = NULL; /* answered here */
            finish(st);
            req_problem(req, 404, "Not Found",
                        "no events for this job: unknown, or its state expired (GET the job)");
            return;
        }
        enum job_state js;
        if (reply->elements == 0 && st->last_id[0] && job_state_parse(st->status, &js) == 0 &&
            job_state_terminal(js)) {
            /* A client back after the last event: 204 tells an EventSource
             * to stop reconnecting (the SSE specification's way). */
            struct req *req = st->req;
            st->req = NULL;
            finish(st);
            struct response r;
            response_init(&r, 204);
            req_send(req, &r);
            return;
        }
        if (!begin(st)) {
            finish(st);
            return;
        }
        /* A job from before events were recorded: its state is all there is. */
        if (reply->elements == 0 && !st->last_id[0]) {
            json_t *d = json_pack("{s:s, s:s}", "id", st->watch.id, "status", st->status);
            terminal = send_event(st, NULL, st->status, d);
            json_decref(d);
        }
    }
    for (size_t i = 0; i < reply->elements && !terminal && !st->ending; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *fields = e->element[1];
        const char *state = NULL;
        for (size_t j = 0; j + 1 < fields->elements; j += 2)
            if (fields->element[j]->type == REDIS_REPLY_STRING &&
                !strcmp(fields->element[j]->str, "state"))
                state = fields->element[j + 1]->str;
        snprintf(st->last_id, sizeof st->last_id, "%s", e->element[0]->str);
        if (!state) continue;
        json_t *d = event_data(st->watch.id, fields);
        terminal = send_event(st, st->last_id, state, d);
        json_decref(d);
    }
    if (terminal || st->ending) {
        finish(st);
    } else if (st->again || reply->elements == READ_COUNT) {
        st->again = false;
        read_events(st);
    }
}

static void
read_events(struct sse_stream *st) {
    struct keybuf ke;
    char start[SSE_ID_MAX + 2], count[16];
    if (st->last_id[0]) snprintf(start, sizeof start, "(%s", st->last_id);
    else snprintf(start, sizeof start, "-");
    snprintf(count, sizeof count, "%d", READ_COUNT);
    const char *argv[] = {
        "XRANGE", keys_events(&st->q->keys, st->watch.id, &ke), start, "+", "COUNT", count};
    size_t lens[6];
    for (int i = 0; i < 6; i++) lens[i] = strlen(argv[i]);
    st->reading = true;
    if (redis_uv_command(st->q->redis, on_events, st, 6, argv, lens) < 0) {
        st->reading = false;
        finish(st);
    }
}

static void
on_status(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct sse_stream *st = arg;
    (void)r;
    st->reading = false;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        log_warn("msg=\"job read failed\" job=%s error=%s", st->watch.id,
                 log_q(reply ? reply->str : errstr));
        finish(st);
        return;
    }
    if (st->ending || st->sse->stopping) {
        finish(st);
        return;
    }
    if (reply->type == REDIS_REPLY_STRING)
        snprintf(st->status, sizeof st->status, "%s", reply->str);
    read_events(st);
}

static void
read_status(struct sse_stream *st) {
    struct keybuf kj;
    const char *argv[] = {"HGET", keys_job(&st->q->keys, st->watch.id, &kj), "status"};
    size_t lens[] = {4, strlen(argv[1]), 6};
    st->reading = true;
    if (redis_uv_command(st->q->redis, on_status, st, 3, argv, lens) < 0) {
        st->reading = false;
        finish(st);
    }
}

static void
on_event(struct job_watch *w, const char *state, const char *event_id, void *arg) {
    struct sse_stream *st = arg;
    (void)w;
    (void)state;
    (void)event_id;
    if (st->reading) st->again = true;
    else if (st->begun) read_events(st);
}

static void
on_gone(struct req *req, void *arg) {
    struct sse_stream *st = arg;
    (void)req;
    end(st);
}

static void
on_keepalive(uv_timer_t *t) {
    struct sse *s = t->data;
    static const char ping[] = ": keepalive\n\n";
    for (struct sse_stream *st = s->streams, *next; st; st = next) {
        next = st->next;
        if (st->begun && !st->ending) write_text(st, ping, sizeof ping - 1);
    }
}

void
sse_init(struct sse *s, uv_loop_t *loop, struct job_events *events) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->events = events;
    uv_timer_init(loop, &s->keepalive);
    s->keepalive.data = s;
}

void
sse_open(struct sse *s, struct req *req, struct queue *q, const char *id, const char *last_id) {
    if (s->stopping || !q) {
        req_problem_retry(req, 503, 1, "Service Unavailable",
                          s->stopping ? "the server is stopping" : "the job queue is unreachable");
        return;
    }
    struct sse_stream *st = xcalloc(1, sizeof *st);
    st->sse = s;
    st->req = req;
    st->q = q;
    if (last_id) snprintf(st->last_id, sizeof st->last_id, "%s", last_id);
    st->next = s->streams;
    if (s->streams) s->streams->prev = st;
    s->streams = st;
    s->nstreams++;
    /* The watch first, then the reads: nothing falls in between. */
    job_events_watch(s->events, &st->watch, id, on_event, st);
    req_on_gone(req, on_gone, st);
    read_status(st);
}

void
sse_stop(struct sse *s) {
    s->stopping = true;
    for (struct sse_stream *st = s->streams, *next; st; st = next) {
        next = st->next;
        end(st);
    }
}

static void
on_timer_closed(uv_handle_t *h) {
    struct sse *s = h->data;
    if (s->closed_cb) s->closed_cb(s->closed_arg);
}

void
sse_close(struct sse *s, void (*cb)(void *arg), void *arg) {
    s->stopping = true;
    s->closed_cb = cb;
    s->closed_arg = arg;
    uv_close((uv_handle_t *)&s->keepalive, on_timer_closed);
}
