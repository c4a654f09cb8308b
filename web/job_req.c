/* job_req.c — a request about one job; see job_req.h. */
#include "web/job_req.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/job_row.h"
#include "web/req.h"

struct job_req *
job_req_new(struct req *req, const char *id) {
    struct job_req *x = xcalloc(1, sizeof *x);
    x->req = req;
    snprintf(x->id, sizeof x->id, "%s", id);
    return x;
}

void
job_req_free(struct job_req *x) {
    json_decref(x->job);
    free(x);
}

void
job_req_read_state(struct job_req *x, queue_job_cb cb) {
    struct queue *q = app_queue_of_id(x->req->app, x->id);
    if (!q || queue_get(q, x->id, cb, x) < 0) {
        req_unavailable(x->req, REQ_REDIS, NULL);
        job_req_free(x);
    }
}

void
job_req_read_row(struct job_req *x, pg_uv_cb cb) {
    if (job_row_read(x->req->app, x->id, cb, x) < 0) {
        req_unavailable(x->req, REQ_POSTGRES, NULL);
        job_req_free(x);
    }
}

int
job_req_state_found(struct job_req *x, int status, const struct job *job, const char *errstr) {
    if (status < 0) {
        log_warn("msg=\"job read failed\" job=%s error=%s", x->id, log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
        return -1;
    }
    return job != NULL;
}

int
job_req_row_found(struct job_req *x, const PGresult *res, const char *errstr) {
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"result query failed\" job=%s error=%s", x->id,
                 log_q(res ? PQresultErrorMessage(res) : errstr));
        req_unavailable(x->req, REQ_POSTGRES, NULL);
        return -1;
    }
    return PQntuples(res) == 1;
}
