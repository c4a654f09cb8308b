/* req — the handler kit: what a handler calls to read its request and to
 * answer it, so that a handler reads like its route (h2o's
 * h2o_send_inline / h2o_send_error_* are the model).
 *
 * Every answer function ends the request: it builds the response (status
 * line, headers, body, Retry-After, problem+json) and hands it to
 * req_send (web/conn.h), after which req is gone. Call exactly one, once.
 * The readers that can fail (req_job_id, req_query_long) answer the
 * client themselves (404, 400) and tell the handler to stop.
 *
 * Owns nothing: JSON values passed in are consumed (their reference is
 * taken, as json_pack's "o"); strings are copied. */
#ifndef WC_REQ_H
#define WC_REQ_H

#include <jansson.h>

#include "web/conn.h"

/* A backing service a handler waits on; names the 503 it gets. */
enum req_dependency { REQ_REDIS, REQ_POSTGRES };

/* Seconds a client is asked to wait when a dependency is down. */
#define REQ_UNAVAILABLE_RETRY_S 2

/* req_json answers status with the JSON value v (consumed). */
void req_json(struct req *req, int status, json_t *v);
/* req_json_retry is req_json with "Retry-After: retry_after_s". */
void req_json_retry(struct req *req, int status, int retry_after_s, json_t *v);
/* req_text answers status with text/plain text. */
void req_text(struct req *req, int status, const char *text);
/* req_text_retry is req_text with "Retry-After: retry_after_s". */
void req_text_retry(struct req *req, int status, int retry_after_s, const char *text);
/* req_problem_retry is req_problem (web/conn.h) with "Retry-After". */
void req_problem_retry(struct req *req, int status, int retry_after_s, const char *title,
                       const char *detail);
/* req_problem_ext answers a problem+json with extension members (an
 * object, consumed), as response_problem_ext. */
void req_problem_ext(struct req *req, int status, const char *title, const char *detail,
                     json_t *members);
/* req_unavailable answers 503 "<Redis|Postgres> Unavailable" with
 * Retry-After; detail NULL says the job queue or the results store is
 * unreachable. */
void req_unavailable(struct req *req, enum req_dependency dep, const char *detail);

/* req_job_id returns the job id in the path's first parameter, or answers
 * 404 and returns NULL when it is missing or not a job id. */
const char *req_job_id(struct req *req);
/* req_query_long reads query parameter name as a whole number in [lo, hi]
 * (web/query.h's query_long): 1 and *out set when present, 0 when absent
 * (*out untouched: the caller's default), or -1 after answering 400 with
 * detail when it is there but not such a number. */
int req_query_long(struct req *req, const char *name, long lo, long hi, const char *detail,
                   long *out);

#endif
