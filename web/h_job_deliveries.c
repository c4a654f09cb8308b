/* h_job_deliveries — a job's webhook delivery and its attempts:
 * GET /api/v1/jobs/{id}/deliveries (worker/hooks.h delivers them).
 *
 * {"job": id, "deliveries": [{"webhook_id", "url", "event" (the job's
 * status it tells of), "state" (pending, delivering, retrying, delivered,
 * failed), "attempts", "created_at", "next_attempt_at", "done_at",
 * "attempts_log": [{"at", "webhook_id", "attempt", "status" (HTTP, 0
 * when none came), "latency_ms", "error"}, ...]}]}: one delivery per job
 * end (a job ends once, unless an operator requeues it: the newest end's
 * delivery replaces the older one), none for a job without a
 * callback_url. One chain: the delivery record (on_record), then, when
 * there is none, whether the job exists (on_job_exists: 404 or empty). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/job_req.h"

static json_t *
time_of(const char *ms) {
    if (!ms || !*ms) return json_null();
    char t[32];
    clock_format_rfc3339(strtoll(ms, NULL, 10), t);
    return json_string(t);
}

static const char *
field(const redisReply *r, const char *name) {
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name) &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            return r->element[i + 1]->str;
    return NULL;
}

static void
answer(struct job_req *x, json_t *deliveries) {
    req_json(x->req, 200, json_pack("{s:s, s:o}", "job", x->id, "deliveries", deliveries));
    job_req_free(x);
}

static void
on_job_exists(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct job_req *x = arg;
    (void)r;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        log_warn("msg=\"job read failed\" job=%s error=%s", x->id,
                 log_q(reply ? reply->str : errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
        job_req_free(x);
    } else if (reply->integer == 0) {
        req_problem(x->req, 404, "Not Found", "no job with this id (or its state expired)");
        job_req_free(x);
    } else {
        answer(x, json_array());
    }
}

static void
on_record(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct job_req *x = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        log_warn("msg=\"delivery read failed\" job=%s error=%s", x->id,
                 log_q(reply ? reply->str : errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
        job_req_free(x);
        return;
    }
    if (reply->elements == 0) {
        struct queue *q = app_queue_of_id(x->req->app, x->id);
        struct keybuf kj;
        const char *k = q ? keys_job(&q->keys, x->id, &kj) : "";
        const char *argv[] = {"EXISTS", k};
        size_t lens[] = {6, strlen(k)};
        if (!q || redis_uv_command(r, on_job_exists, x, 2, argv, lens) < 0) {
            req_unavailable(x->req, REQ_REDIS, NULL);
            job_req_free(x);
        }
        return;
    }
    const char *log = field(reply, "log");
    json_t *attempts = log ? json_loads(log, 0, NULL) : NULL;
    if (!json_is_array(attempts)) {
        json_decref(attempts);
        attempts = json_array();
    }
    size_t i;
    json_t *a;
    json_array_foreach(attempts, i, a) json_object_del(a, "job");
    const char *n = field(reply, "attempts");
    json_t *d = json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:o, s:o, s:o, s:o}", "webhook_id",
                          field(reply, "msg"), "url", field(reply, "url"), "event",
                          field(reply, "status"), "state", field(reply, "state"), "attempts",
                          (json_int_t)(n ? strtoll(n, NULL, 10) : 0), "created_at",
                          time_of(field(reply, "created_at")), "next_attempt_at",
                          time_of(field(reply, "next_attempt_at")), "done_at",
                          time_of(field(reply, "done_at")), "attempts_log", attempts);
    answer(x, json_pack("[o]", d));
}

void
h_jobs_deliveries(struct req *req) {
    const char *id = req_job_id(req);
    if (!id) return;
    struct queue *q = app_queue_of_id(req->app, id);
    struct job_req *x = job_req_new(req, id);
    struct keybuf kh;
    const char *k = q ? keys_hook(&q->keys, id, &kh) : NULL;
    const char *argv[] = {"HGETALL", k};
    size_t lens[] = {7, k ? strlen(k) : 0};
    if (!q || redis_uv_command(q->redis, on_record, x, 2, argv, lens) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        job_req_free(x);
    }
}
