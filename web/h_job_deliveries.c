/* h_job_deliveries — placeholder, filled in by the webhook work. */
#include "web/handlers.h"

void
h_jobs_deliveries(struct req *req) {
    req_problem(req, 404, "Not Found", "no deliveries for this job");
}
