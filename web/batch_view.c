/* batch_view.c — a batch's JSON; see batch_view.h. */
#include "web/batch_view.h"

#include "common/clock.h"

static json_t *
time_or_null(int64_t ms) {
    char t[32];
    if (!ms) return json_null();
    clock_format_rfc3339(ms, t);
    return json_string(t);
}

json_t *
batch_view_json(const struct batch_status *s, int64_t now_ms) {
    json_t *counts = json_object();
    for (int i = 0; i <= JOB_WAITING; i++)
        json_object_set_new(counts, job_state_name((enum job_state)i), json_integer(s->counts[i]));
    json_object_set_new(counts, "expired", json_integer(s->counts[BATCH_EXPIRED]));
    bool ended = s->done >= s->jobs;
    double fraction = s->jobs > 0 ? (double)s->done / (double)s->jobs : 1.0;
    json_t *eta = json_null();
    if (!ended && s->done > 0) {
        /* The pace so far, from the first start (or the creation). */
        int64_t from = s->started_at_ms ? s->started_at_ms : s->created_at_ms;
        double per_job = (double)(now_ms > from ? now_ms - from : 0) / (double)s->done;
        eta = json_integer((json_int_t)(per_job * (double)(s->jobs - s->done) / 1000.0 + 0.999));
    }
    char results[96];
    snprintf(results, sizeof results, "/api/v1/batches/%s/results", s->id);
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:f, s:o, s:o, s:o, "
        "s:o, s:I, s:b, s:s}",
        "id", s->id, "status", ended ? "done" : "running", "total", (json_int_t)s->total, "jobs",
        (json_int_t)s->jobs, "invalid", (json_int_t)s->invalid, "created", (json_int_t)s->created,
        "deduplicated", (json_int_t)s->deduplicated, "cached", (json_int_t)s->cached, "counts",
        counts, "done", (json_int_t)s->done, "done_fraction", fraction, "created_at",
        time_or_null(s->created_at_ms), "started_at", time_or_null(s->started_at_ms), "finished_at",
        time_or_null(ended ? s->finished_at_ms : 0), "eta_seconds", eta, "max_age",
        (json_int_t)s->max_age_s, "fresh", s->fresh, "results_url", results);
}

const char *
batch_view_id(struct req *req) {
    const char *id = req->match.nparams ? req->match.params[0] : NULL;
    if (id && job_id_valid(id)) return id;
    req_problem(req, 404, "Not Found", "no batch with this id");
    return NULL;
}
