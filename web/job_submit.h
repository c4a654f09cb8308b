/* job_submit — what the two submit routes share (POST /api/v1/jobs in
 * h_jobs.c and the original app's POST /start in h_compat.c): the
 * per-address rate limit, reading the body, the URL check and its
 * normalised form, the Idempotency-Key, freshness (max_age: a result of
 * the same page younger than that is the answer) and the queue's submit
 * (which joins the page's live job unless fresh).
 *
 * job_submit answers every outcome the routes have in common itself
 * (422 invalid URL, 400 bad key, 422 key reused with another body, 503
 * queue down) and calls the route's callback for the others: a job
 * created, an earlier job replayed under the same key and body, the
 * page's live job joined, or a fresh result's job. The callback must
 * answer req. Nothing is kept after it returns. */
#ifndef WC_JOB_SUBMIT_H
#define WC_JOB_SUBMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/job.h"
#include "common/queue.h"
#include "web/conn.h"

/* How long an Idempotency-Key is remembered. */
#define JOB_SUBMIT_IDEM_TTL_S 86400
/* The largest max_age (a year, in seconds). */
#define JOB_SUBMIT_MAX_AGE_MAX 31536000L

/* What a submission asks for; the strings are malloc'd and owned
 * (job_submit_args_free). */
struct job_submit_args {
    char *url;
    char *callback_url; /* NULL: none */
    bool fresh;         /* never join a live job nor take a stored result */
    long max_age_s;     /* 0: always fetch */
};

/* job is the new job (QUEUE_CREATED; other_id NULL), or other_id the
 * job answered with (job NULL). Both are valid during the call only. */
typedef void (*job_submit_cb)(struct req *req, enum queue_submit_outcome outcome,
                              const struct job *job, const char *other_id);

/* job_submit_limited answers 429 (with Retry-After) and returns true when
 * the client has used up its submissions (SUBMIT_RATE, SUBMIT_BURST). */
bool job_submit_limited(struct req *req);
/* job_submit_parse_json reads the body as a JSON object: a string "url"
 * and, when all is true, "callback_url" (string or null), "fresh"
 * (boolean or null) and "max_age" (whole seconds, 0 to a year, or null);
 * other members are ignored. Returns 0, or -1 after answering 400
 * (malformed JSON) or 422 (a field missing or of the wrong type or
 * range, or fresh with a max_age). */
int job_submit_parse_json(struct req *req, bool all, struct job_submit_args *a);
/* job_submit_parse_form is the same for a form body (url, callback_url,
 * fresh: true/false/1/0, max_age). */
int job_submit_parse_form(struct req *req, struct job_submit_args *a);
void job_submit_args_free(struct job_submit_args *a);
/* job_submit_freshness_json reads v's "fresh" (boolean or null) and
 * "max_age" (whole seconds, 0 to a year, or null) as a submit does (the
 * batch route too); returns NULL, or why they are unusable (the detail
 * of a 422 "Invalid Freshness": a wrong type or range, or both asked). */
const char *job_submit_freshness_json(const json_t *v, bool *fresh, long *max_age_s);
/* job_submit_freshness_text is the same for text values (a form, a
 * query string): fresh true/false/1/0, max_age digits; NULL is absent. */
const char *job_submit_freshness_text(const char *fresh, const char *max_age, bool *fresh_out,
                                      long *max_age_s);
/* job_submit checks a's url, callback_url (an http(s) URL whose address,
 * when it is a literal, the fetch address policy allows, and only when
 * WEBHOOK_SECRET is set) and the request's Idempotency-Key, and submits;
 * req is answered here or by cb, exactly once. */
void job_submit(struct req *req, const struct job_submit_args *a, job_submit_cb cb);

#endif
