/* sse — Server-Sent Events streams of a job's state changes
 * (GET /api/v1/jobs/{id}/events, text/event-stream).
 *
 * Each state change the queue's scripts record in the job's event stream
 * (common/lua/lib/event.lua) is sent as one event:
 *
 *   id: <entry id in the job's event stream>
 *   event: <queued|started|retrying|finished|failed|canceled>
 *   data: {"id", "status", "at", "attempt"[, "error": {code, message}]
 *          [, "next_attempt_at"][, "result": {total_words, unique_words, top}]}
 *
 * A client that reconnects with Last-Event-ID gets what came after that
 * event; the stream ends after the terminal event (finished, failed,
 * canceled), and a client that comes back after it gets 204 No Content,
 * which tells an EventSource to stop reconnecting. A comment line every SSE_KEEPALIVE_MS keeps proxies from
 * closing an idle stream. A job that Redis does not know (never, or its
 * state expired) is a 404 before the stream begins.
 *
 * Owns: struct sse (the open streams in a list, one keepalive timer for
 * all of them) and each stream's state (heap; freed when it ends). New
 * events arrive through a watch on the process's job events
 * (web/job_events.h), and are read from Redis (XRANGE after the last one
 * sent), so a notification missed or coalesced loses nothing. Batches'
 * streams (GET /api/v1/batches/{id}/events) will be the same with a
 * batch's event stream. */
#ifndef WC_SSE_H
#define WC_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/queue.h"
#include "web/conn.h"
#include "web/job_events.h"

#define SSE_KEEPALIVE_MS 15000
/* What a browser waits before reconnecting (the stream's "retry:"). */
#define SSE_RETRY_MS 2000
/* Longest Last-Event-ID accepted (an entry id "<ms>-<seq>"). */
#define SSE_ID_MAX 47

struct sse_stream;

struct sse {
    uv_loop_t *loop;
    struct job_events *events; /* borrowed */
    uv_timer_t keepalive;
    struct sse_stream *streams; /* open, in a list */
    size_t nstreams;
    bool stopping;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

void sse_init(struct sse *s, uv_loop_t *loop, struct job_events *events);
/* sse_open answers req with the event stream of job id (valid), from
 * after last_id (NULL: from the start), reading events through q. req is
 * answered here or later, exactly once (404, 503 or the stream). */
void sse_open(struct sse *s, struct req *req, struct queue *q, const char *id, const char *last_id);
/* sse_id_valid tells whether id is a stream entry id ("<ms>-<seq>"). */
bool sse_id_valid(const char *id);
/* sse_stop ends every stream (clients reconnect, with Last-Event-ID, to a
 * process that is not stopping) and refuses new ones with 503. */
void sse_stop(struct sse *s);
/* sse_close closes the timer (after sse_stop); cb runs once it is closed. */
void sse_close(struct sse *s, void (*cb)(void *arg), void *arg);

#endif
