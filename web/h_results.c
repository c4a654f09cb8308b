/* h_results — GET /api/v1/results?url=…&limit=&cursor=: the results stored
 * for one URL, newest first, a page at a time.
 *
 * Keyset paging on the (url, created_at DESC, id DESC) index: the cursor
 * is the id of the last row of the previous page, so every page costs one
 * index range scan however deep the history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/url_check.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/query.h"

#define RESULTS_LIMIT_DEFAULT 20
#define RESULTS_LIMIT_MAX 100

static const char PAGE_SQL[] =
    "SELECT r.id, r.job_id, (extract(epoch FROM r.created_at) * 1000)::bigint, r.total_words,"
    " r.unique_words, r.total_words_no_stop, r.unique_words_no_stop,"
    " (SELECT coalesce(jsonb_agg(t), '[]'::jsonb) FROM"
    "   (SELECT t FROM jsonb_array_elements(r.top_words) t LIMIT 10) s)::text"
    " FROM results r"
    " WHERE r.url = $1 AND ($2::bigint IS NULL OR (r.created_at, r.id) <"
    "   (SELECT c.created_at, c.id FROM results c WHERE c.id = $2::bigint))"
    " ORDER BY r.created_at DESC, r.id DESC LIMIT $3";

struct page {
    struct req *req;
    char *url;
    long limit;
};

static json_int_t
col_int(PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void
on_page(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct page *p = arg;
    (void)pg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"results query failed\" error=%s",
                 log_q(res ? PQresultErrorMessage(res) : errstr));
        struct response r;
        response_init(&r, 503);
        response_header(&r, "Retry-After", "2");
        response_problem(&r, 503, "Postgres Unavailable", "the results store is unreachable");
        req_send(p->req, &r);
    } else {
        int n = PQntuples(res);
        json_t *items = json_array();
        for (int i = 0; i < n && i < p->limit; i++) {
            char created[32];
            clock_format_rfc3339(col_int(res, i, 2), created);
            json_t *top = json_loads(PQgetvalue(res, i, 7), 0, NULL);
            json_array_append_new(
                items, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "job_id",
                                 PQgetvalue(res, i, 1), "created_at", created, "total_words",
                                 col_int(res, i, 3), "unique_words", col_int(res, i, 4),
                                 "total_words_no_stop", col_int(res, i, 5), "unique_words_no_stop",
                                 col_int(res, i, 6), "top", top ? top : json_array()));
        }
        /* One row more than the page was asked for: there is a next page. */
        json_t *next =
            n > p->limit ? json_string(PQgetvalue(res, (int)p->limit - 1, 0)) : json_null();
        json_t *body =
            json_pack("{s:s, s:o, s:o}", "url", p->url, "results", items, "next_cursor", next);
        struct response r;
        response_init(&r, 200);
        response_json(&r, 200, body);
        json_decref(body);
        req_send(p->req, &r);
    }
    free(p->url);
    free(p);
}

void
h_results_list(struct req *req) {
    const char *query = req->http->query;
    char *url = query_get(query, strlen(query), "url");
    char err[256];
    if (!url) {
        req_problem(req, 400, "Bad Request", "the query needs url=<the page's URL>");
        return;
    }
    if (url_check(url, err, sizeof err) < 0) {
        req_problem(req, 422, "Invalid URL", err);
        free(url);
        return;
    }
    long limit = RESULTS_LIMIT_DEFAULT, cursor = 0;
    if (query_int(query, "limit", 1, RESULTS_LIMIT_MAX, &limit) < 0) {
        req_problem(req, 400, "Bad Request", "limit must be a whole number from 1 to 100");
        free(url);
        return;
    }
    int has_cursor = query_int(query, "cursor", 1, 0x7fffffffffffffffL, &cursor);
    if (has_cursor < 0) {
        req_problem(req, 400, "Bad Request", "cursor must be the next_cursor of a previous page");
        free(url);
        return;
    }
    struct page *p = xcalloc(1, sizeof *p);
    p->req = req;
    p->url = url;
    p->limit = limit;
    char cur[24], lim[24];
    snprintf(cur, sizeof cur, "%ld", cursor);
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    const char *params[] = {url, has_cursor ? cur : NULL, lim};
    int rc = app_pg_query(req->app, PAGE_SQL, 3, params, on_page, p);
    if (rc < 0) {
        free(p->url);
        free(p);
        struct response r;
        response_init(&r, 503);
        response_header(&r, "Retry-After", "2");
        response_problem(&r, 503, "Postgres Unavailable", "the results store is unreachable");
        req_send(req, &r);
    }
}
