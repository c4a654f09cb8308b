/* h_results — GET /api/v1/results?url=…&limit=&cursor=: the results stored
 * for one URL, newest first, a page at a time.
 *
 * A page is found by its normalised URL (common/url_norm.h), so every
 * spelling of one page has one history. Keyset paging on the (url_key,
 * created_at DESC, id DESC) index: the cursor
 * is the id of the last row of the previous page, so every page costs one
 * index range scan however deep the history. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/results.h"
#include "common/url_norm.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/pg_read.h"
#include "web/query.h"

#define RESULTS_LIMIT_DEFAULT 20
#define RESULTS_LIMIT_MAX 100

/* The page's columns (common/results.h); every row is read by name. */
static const enum results_col PAGE_COLS[] = {
    RESULTS_ID,           RESULTS_JOB_ID,        RESULTS_CREATED_AT,     RESULTS_TOTAL_WORDS,
    RESULTS_UNIQUE_WORDS, RESULTS_TOTAL_NO_STOP, RESULTS_UNIQUE_NO_STOP, RESULTS_TOP_TEN,
    RESULTS_NOT_MODIFIED,
};
static const char PAGE_WHERE[] =
    " FROM results r"
    " WHERE r.url_key = $1 AND ($2::bigint IS NULL OR (r.created_at, r.id) <"
    "   (SELECT c.created_at, c.id FROM results c WHERE c.id = $2::bigint))"
    " ORDER BY r.created_at DESC, r.id DESC LIMIT $3";

struct page {
    struct req *req;
    char *url;
    char key[URL_NORM_MAX + 1];
    long limit;
};

static void
on_page(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct page *p = arg;
    (void)pg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"results query failed\" error=%s",
                 log_q(res ? PQresultErrorMessage(res) : errstr));
        req_unavailable(p->req, REQ_POSTGRES, NULL);
    } else {
        int n = PQntuples(res);
        json_t *items = json_array();
        for (int i = 0; i < n && i < p->limit; i++) {
            char created[32];
            clock_format_rfc3339(results_int(res, i, RESULTS_CREATED_AT), created);
            const char *top_text = results_text(res, i, RESULTS_TOP_TEN);
            const char *job_id = results_text(res, i, RESULTS_JOB_ID);
            const char *nm = results_text(res, i, RESULTS_NOT_MODIFIED);
            json_t *top = top_text ? json_loads(top_text, 0, NULL) : NULL;
            json_array_append_new(
                items,
                json_pack(
                    "{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:b}", "job_id", job_id ? job_id : "",
                    "created_at", created, "total_words",
                    (json_int_t)results_int(res, i, RESULTS_TOTAL_WORDS), "unique_words",
                    (json_int_t)results_int(res, i, RESULTS_UNIQUE_WORDS), "total_words_no_stop",
                    (json_int_t)results_int(res, i, RESULTS_TOTAL_NO_STOP), "unique_words_no_stop",
                    (json_int_t)results_int(res, i, RESULTS_UNIQUE_NO_STOP), "top",
                    top ? top : json_array(), "not_modified", nm && !strcmp(nm, "true")));
        }
        /* One row more than the page was asked for: there is a next page. */
        const char *last = n > p->limit ? results_text(res, (int)p->limit - 1, RESULTS_ID) : NULL;
        json_t *next = last ? json_string(last) : json_null();
        json_t *body = json_pack("{s:s, s:s, s:o, s:o}", "url", p->url, "normalized_url", p->key,
                                 "results", items, "next_cursor", next);
        req_json(p->req, 200, body);
    }
    free(p->url);
    free(p);
}

void
h_results_list(struct req *req) {
    const char *query = req->http->query;
    char *url = query_get(query, strlen(query), "url");
    char err[256], key[URL_NORM_MAX + 1];
    if (!url) {
        req_problem(req, 400, "Bad Request", "the query needs url=<the page's URL>");
        return;
    }
    if (url_norm(url, key, sizeof key, err, sizeof err) < 0) {
        req_problem(req, 422, "Invalid URL", err);
        free(url);
        return;
    }
    long limit = RESULTS_LIMIT_DEFAULT, cursor = 0;
    if (req_query_long(req, "limit", 1, RESULTS_LIMIT_MAX,
                       "limit must be a whole number from 1 to 100", &limit) < 0) {
        free(url);
        return;
    }
    int has_cursor = req_query_long(req, "cursor", 1, LONG_MAX,
                                    "cursor must be the next_cursor of a previous page", &cursor);
    if (has_cursor < 0) {
        free(url);
        return;
    }
    struct page *p = xcalloc(1, sizeof *p);
    p->req = req;
    p->url = url;
    p->limit = limit;
    memcpy(p->key, key, sizeof key);
    char cur[24], lim[24];
    snprintf(cur, sizeof cur, "%ld", cursor);
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    const char *params[] = {p->key, has_cursor ? cur : NULL, lim};
    char sql[1024];
    int rc = results_select_sql(sql, sizeof sql, PAGE_COLS, sizeof PAGE_COLS / sizeof *PAGE_COLS,
                                PAGE_WHERE) < 0
                 ? UV_E2BIG
                 : pg_read_query(req->app, PG_READ_LIST, sql, 3, params, on_page, p);
    if (rc < 0) {
        free(p->url);
        free(p);
        req_unavailable(req, REQ_POSTGRES, NULL);
    }
}
