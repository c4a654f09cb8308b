/* job_submit — what the two submit routes share (POST /api/v1/jobs in
 * h_jobs.c and the original app's POST /start in h_compat.c): the
 * per-address rate limit, the URL check, the Idempotency-Key and the
 * queue's submit.
 *
 * job_submit answers every outcome the routes have in common itself
 * (422 invalid URL, 400 bad key, 422 key reused with another body, 503
 * queue down) and calls the route's callback only for the two it answers
 * its own way: a job created, or an earlier job replayed under the same
 * key and body. The callback must answer req. Nothing is kept after it
 * returns. */
#ifndef WC_JOB_SUBMIT_H
#define WC_JOB_SUBMIT_H

#include <stdbool.h>

#include "common/job.h"
#include "web/conn.h"

/* How long an Idempotency-Key is remembered. */
#define JOB_SUBMIT_IDEM_TTL_S 86400

/* job is the new job (replay_id NULL), or replay_id the earlier job's id
 * (job NULL). Both are valid during the call only. */
typedef void (*job_submit_cb)(struct req *req, const struct job *job, const char *replay_id);

/* job_submit_limited answers 429 (with Retry-After) and returns true when
 * the client has used up its submissions (SUBMIT_RATE, SUBMIT_BURST). */
bool job_submit_limited(struct req *req);
/* job_submit_json_url reads the body as a JSON object with a string
 * "url": returns it (malloc'd; the caller frees), or NULL after answering
 * 400 (malformed JSON) or 422 (no "url", or a "callback_url" that is not
 * a string). *callback_url gets the optional "callback_url" (malloc'd, or
 * NULL); pass NULL where callbacks are not taken. */
char *job_submit_json_url(struct req *req, char **callback_url);
/* job_submit checks url, callback_url (NULL: none; an http(s) URL whose
 * address, when it is a literal, the fetch address policy allows, and
 * only when WEBHOOK_SECRET is set) and the request's Idempotency-Key,
 * and submits; req is answered here or by cb, exactly once. */
void job_submit(struct req *req, const char *url, const char *callback_url, job_submit_cb cb);

#endif
