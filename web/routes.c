/* routes — every route the web server answers, in one table. */
#include "web/handlers.h"

const struct route web_routes[] = {
    {"POST", "/api/v1/jobs", h_jobs_create},
    {"GET", "/api/v1/jobs", h_jobs_search},
    {"GET", "/api/v1/jobs/{id}", h_jobs_get},
    {"DELETE", "/api/v1/jobs/{id}", h_jobs_cancel},
    {"GET", "/api/v1/jobs/{id}/result", h_jobs_result},
    {"GET", "/api/v1/jobs/{id}/events", h_jobs_events},
    {"GET", "/api/v1/jobs/{id}/deliveries", h_jobs_deliveries},
    {"POST", "/api/v1/batches", h_batches_create},
    {"GET", "/api/v1/batches", h_batches_list},
    {"GET", "/api/v1/batches/{id}", h_batches_get},
    {"DELETE", "/api/v1/batches/{id}", h_batches_cancel},
    {"GET", "/api/v1/batches/{id}/results", h_batches_results},
    {"GET", "/api/v1/results", h_results_list},
    {"GET", "/api/v1/openapi.json", h_openapi},
    {"POST", "/start", h_compat_start},
    {"GET", "/results/{id}", h_compat_results},
    {"GET", "/healthz", h_healthz},
    {"GET", "/readyz", h_readyz},
    {"GET", "/api/v1/stats", h_stats},
    {"GET", "/metrics", h_metrics},
    {"GET", "/", h_page_index},
    {"GET", "/dashboard", h_page_dashboard},
    {"GET", "/static/{file}", h_static_file},
    {"GET", "/api/v1/admin/failed", h_admin_failed_list},
    {"POST", "/api/v1/admin/failed/retry", h_admin_failed_retry_all},
    {"POST", "/api/v1/admin/failed/{id}/retry", h_admin_failed_retry},
    {"DELETE", "/api/v1/admin/failed/{id}", h_admin_failed_delete},
    {"POST", "/api/v1/admin/jobs/bulk", h_admin_jobs_bulk},
};
const size_t web_nroutes = sizeof web_routes / sizeof web_routes[0];
