/* job_row — a job's results row, as the handlers read it from Postgres
 * (h_jobs.c when the Redis state has expired, h_job_result.c, h_compat.c;
 * web/job_req.h sends the read).
 *
 * Owns: the query by job id (the columns come from common/results.h; all
 * but the two count maps, which web/result_stream.c streams) and the JSON
 * pieces made from the row. Functions that return json_t*
 * return a new reference. The row is read at row 0 of res, which stays
 * the caller's (pg_uv clears it after the callback). */
#ifndef WC_JOB_ROW_H
#define WC_JOB_ROW_H

#include <jansson.h>

#include "common/pg_uv.h"
#include "common/results.h"
#include "web/app.h"

/* job_row_read asks Postgres for job_id's row; the pg_uv contract holds
 * (0 and cb once, or < 0 and no cb). */
int job_row_read(struct app *app, const char *job_id, pg_uv_cb cb, void *arg);
/* job_row_top returns the first n of the row's top words ([{word, count}]). */
json_t *job_row_top(const PGresult *res, int n);
/* job_row_summary returns {total_words, unique_words, top: ten words}. */
json_t *job_row_summary(const PGresult *res);
/* job_row_summary_at is the same for row of a many-row answer that
 * selected RESULTS_TOTAL_WORDS, RESULTS_UNIQUE_WORDS and RESULTS_TOP_TEN
 * (web/batch_export.c). */
json_t *job_row_summary_at(const PGresult *res, int row);
/* job_row_json returns column c parsed as JSON (null when unreadable). */
json_t *job_row_json(const PGresult *res, enum results_col c);
/* job_row_string returns column c as a JSON string, or null when NULL. */
json_t *job_row_string(const PGresult *res, enum results_col c);

#endif
