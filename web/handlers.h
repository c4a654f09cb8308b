/* handlers — the route handlers and the route table.
 *
 * Each handler answers its request exactly once through the handler kit
 * (web/req.h: req_json, req_problem, req_unavailable, ...), now or from a
 * Redis/Postgres callback named for the step it finishes (on_job_read,
 * on_result_row). Path parameters are in req->match.params (req_job_id
 * reads a job id). One resource per file: h_jobs.c the jobs (and their
 * long-polls), h_job_result.c a job's result, h_job_events.c a job's
 * event stream, h_job_deliveries.c its webhook deliveries, h_batches.c the
 * batches (and batch_export.c their export), h_results.c the results by URL, h_compat.c the original
 * app's routes, h_health.c the probes and the OpenAPI document,
 * h_static.c the pages, h_stats.c the statistics (JSON and Prometheus),
 * h_admin.c the failed set (admin routes), h_job_search.c the job search
 * and its bulk actions (admin).
 *
 * A new route is one line in routes.c, one handler file (declared here),
 * its entry in web/openapi.json and a test (README: Development). */
#ifndef WC_HANDLERS_H
#define WC_HANDLERS_H

#include <stddef.h>

#include "web/conn.h"
#include "web/req.h"
#include "web/router.h"

void h_jobs_create(struct req *req);
void h_jobs_get(struct req *req);
void h_jobs_cancel(struct req *req);
void h_jobs_result(struct req *req);
void h_jobs_events(struct req *req);
void h_jobs_deliveries(struct req *req);
void h_batches_create(struct req *req);
void h_batches_list(struct req *req);
void h_batches_get(struct req *req);
void h_batches_cancel(struct req *req);
void h_batches_results(struct req *req);
void h_compat_start(struct req *req);
void h_compat_results(struct req *req);
void h_results_list(struct req *req);
void h_openapi(struct req *req);
void h_healthz(struct req *req);
void h_readyz(struct req *req);
void h_page_index(struct req *req);
void h_page_dashboard(struct req *req);
void h_static_file(struct req *req);
void h_stats(struct req *req);
void h_metrics(struct req *req);
void h_admin_failed_list(struct req *req);
void h_admin_failed_retry_all(struct req *req);
void h_admin_failed_retry(struct req *req);
void h_admin_failed_delete(struct req *req);
void h_jobs_search(struct req *req);
void h_admin_jobs_bulk(struct req *req);

/* The route table (routes.c). */
extern const struct route web_routes[];
extern const size_t web_nroutes;

#endif
