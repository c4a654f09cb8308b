/* job_filter — reading a job search's parameters from a query string
 * (GET /api/v1/jobs, POST /api/v1/admin/jobs/bulk): the filters of
 * common/job_search.h, the cursor and the page size, checked, so that a
 * handler hands job_search nothing it refuses.
 *
 *   url=U       the page U, in any spelling (normalised as at submit)
 *   url=P*      pages whose normalised URL starts with P (a trailing
 *               star; P's scheme and host are lower-cased)
 *   host=H      the jobs of host H (no port; lower-cased)
 *   status=S    queued, started, retrying, waiting, finished, failed, canceled
 *   error=C     jobs whose last error code is C ([a-z0-9_], 1-64)
 *   batch=B     the jobs batch B created
 *   cursor=X    the next_cursor of a previous page
 *   limit=N     the page size
 *   action=A    (bulk only) retry, cancel or delete
 *
 * Any other parameter, or one given twice, is refused: a misspelt filter
 * must not widen a search (least of all a bulk delete). Pure; a struct
 * job_filter is caller-owned and holds its strings. */
#ifndef WC_JOB_FILTER_H
#define WC_JOB_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/job_search.h"
#include "common/url_norm.h"

enum job_filter_action { JOB_FILTER_NONE, JOB_FILTER_RETRY, JOB_FILTER_CANCEL, JOB_FILTER_DELETE };

struct job_filter {
    struct job_search_filter f; /* points into the buffers below */
    const char *cursor;         /* NULL: from the newest */
    long limit;
    enum job_filter_action action;
    char url_key[URL_NORM_MAX + 1], prefix[URL_NORM_MAX + 1];
    char host[256], status[16], error[65], batch[40], cursor_buf[JOB_SEARCH_CURSOR_MAX + 1];
};

/* job_filter_parse reads query into out (bulk: action is required and
 * allowed), with limit_default and 1..limit_max for the page size.
 * Returns 0, or -1 with a sentence for the client in err. */
int job_filter_parse(const char *query, bool bulk, long limit_default, long limit_max,
                     struct job_filter *out, char *err, size_t errlen);

#endif
