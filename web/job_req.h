/* job_req — a request about one job (/api/v1/jobs/{id}..., /results/{id})
 * on its way through Redis and Postgres: the state the handler's chain
 * carries, and the two reads a chain continues with.
 *
 * Owns: struct job_req (job_req_free releases it and the JSON it holds).
 * The reads follow one rule: when the read cannot be sent, the client
 * gets 503 and x is freed here; otherwise cb gets x, and the chain frees
 * it once it has answered (or hands it to the next read). */
#ifndef WC_JOB_REQ_H
#define WC_JOB_REQ_H

#include <jansson.h>

#include "common/job.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "web/conn.h"

struct job_req {
    struct req *req;
    char id[JOB_ID_LEN + 1];
    int top;         /* h_job_result: how many top words to show */
    unsigned fields; /* h_job_result: the members asked for (a bit per member) */
    json_t *job;     /* h_jobs: a finished job waiting for its result summary */
    /* h_jobs: a member set to true in the answer ("deduplicated",
     * "cached": how a submit found the job), or NULL. */
    const char *flag;
};

/* job_req_new starts the state for req about id (a valid job id). */
struct job_req *job_req_new(struct req *req, const char *id);
void job_req_free(struct job_req *x);
/* job_req_read_state asks Redis for the job (queue_get). */
void job_req_read_state(struct job_req *x, queue_job_cb cb);
/* job_req_read_row asks Postgres for the job's results row (job_row_read). */
void job_req_read_row(struct job_req *x, pg_uv_cb cb);
/* job_req_state_found tells what the state read brought: 1 the job, 0
 * no such job, -1 Redis failed (logged, and the client answered 503: the
 * chain only frees x). */
int job_req_state_found(struct job_req *x, int status, const struct job *job, const char *errstr);
/* job_req_row_found tells what the row read brought: 1 the row, 0 none,
 * -1 the query failed (logged, and the client answered 503: the chain
 * only frees x). */
int job_req_row_found(struct job_req *x, const PGresult *res, const char *errstr);

#endif
