/* fresh — finding stored results young enough to answer a submit with
 * (max_age): one query for one page (POST /api/v1/jobs) or for every
 * page of a batch (POST /api/v1/batches), so both follow one rule: the
 * page's newest result (by url_key, the normalised URL) created less
 * than max_age seconds ago, by the (url_key, created_at DESC, id DESC)
 * index. Sent as a list read (web/pg_read.h): a replica that lags only
 * misses a fresh result, and the page is fetched again.
 *
 * Owns nothing after the call: the keys are copied into the query. The
 * rows cb gets hold RESULTS_JOB_ID and RESULTS_URL_KEY (common/results.h),
 * at most one per key, in no particular order. */
#ifndef WC_FRESH_H
#define WC_FRESH_H

#include <stddef.h>

#include "common/pg_uv.h"
#include "web/app.h"

/* fresh_lookup asks for the fresh results of url_keys[0..n); the pg_uv
 * contract holds (0 and cb once, or < 0 and no cb). */
int fresh_lookup(struct app *app, const char *const *url_keys, size_t n, long max_age_s,
                 pg_uv_cb cb, void *arg);

#endif
