/* h_job_events — a job's state changes as Server-Sent Events:
 * GET /api/v1/jobs/{id}/events (web/sse.h has the stream's format).
 * Last-Event-ID (the header browsers send when they reconnect, or a
 * last_event_id query parameter for clients that cannot set headers)
 * resumes after that event. */
#include "web/app.h"
#include "web/handlers.h"
#include "web/query.h"
#include "web/sse.h"

#include <stdlib.h>
#include <string.h>

void
h_jobs_events(struct req *req) {
    const char *id = req_job_id(req);
    if (!id) return;
    const char *last = http_request_header(req->http, "Last-Event-ID");
    char *from_query =
        last ? NULL : query_get(req->http->query, strlen(req->http->query), "last_event_id");
    if (from_query) last = from_query;
    if (last && !*last) last = NULL; /* an empty id starts over, as in the SSE spec */
    if (last && !sse_id_valid(last)) {
        req_problem(req, 400, "Bad Request",
                    "Last-Event-ID must be an event id this stream sent (\"<ms>-<n>\")");
    } else {
        sse_open(&req->app->sse, req, app_queue_of_id(req->app, id), id, last);
    }
    free(from_query);
}
