/* Batches (issue 17) on the real programs, Redis, Postgres and a loopback
 * page server: a batch of 10,000 lines (good pages, 404s, lines that are
 * no URL) reaching done with every line in both exports; each body form
 * with its per-line errors; bodies refused whole with a clear 4xx; a
 * DELETE that cancels only what the batch created and has not started;
 * unknown batches. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/lib/http_client.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;

static void
start_web_only(void) {
    wcsys_init(&sys, NULL);
    wcsys_start_web_ready(&sys);
}

static void
start_system(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "WORKER_PROCESSES", "2");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "16");
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
}

static void
stop_system(void) {
    wcsys_free(&sys);
}

/* Each test names its own .init: a suite's .init would run as well. */
TestSuite(batches, .fini = stop_system, .timeout = 300);

static const char *
str(const json_t *v, const char *k) {
    const char *s = json_string_value(json_object_get(v, k));
    return s ? s : "";
}

static long long
num(const json_t *v, const char *k) {
    return (long long)json_integer_value(json_object_get(v, k));
}

/* post sends body to path with ctype; returns the JSON answer (kept),
 * the status and the Location header. */
static json_t *
post_to(const char *path, const char *ctype, const char *body, long *status, char *loc,
        size_t loclen) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", sys.base, path);
    struct http_response r;
    cr_assert_eq(http_request("POST", url, ctype, body, NULL, &r), 0, "%s", path);
    *status = r.status;
    if (loc) {
        loc[0] = '\0';
        http_header(&r, "Location", loc, loclen);
    }
    json_t *v = json_loads(r.body.data ? r.body.data : "", 0, NULL);
    cr_assert_not_null(v, "%ld %s", r.status, r.body.data);
    http_response_free(&r);
    return wcsys_keep_json(&sys, v);
}

static json_t *
post_batch(const char *ctype, const char *body, long *status) {
    char loc[256];
    json_t *v = post_to("/api/v1/batches", ctype, body, status, loc, sizeof loc);
    if (*status == 202) {
        char want[128];
        snprintf(want, sizeof want, "/api/v1/batches/%s", str(v, "id"));
        cr_assert_str_eq(loc, want);
    }
    return v;
}

static json_t *
get_batch(const char *id, long *status) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/batches/%s", id);
    return wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, status));
}

static json_t *
wait_batch(const char *id, const char *field, long long want, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    for (;;) {
        long st;
        json_t *v = get_batch(id, &st);
        cr_assert_eq(st, 200);
        json_t *counts = json_object_get(v, "counts");
        long long have = !strcmp(field, "done") ? num(v, "done") : num(counts, field);
        if (have == want) return v;
        cr_assert_lt(wcsys_now_ms(), until, "batch %s: %s is %lld, not %lld: %s", id, field, have,
                     want, json_dumps(v, 0));
        wcsys_drop(&sys, v);
        usleep(100 * 1000);
    }
}

/* export reads the batch's results with accept; the body is kept. */
static char *export(const char *id, const char *accept, long *status, char *ctype, size_t ctlen) {
    char url[512], hdr[64];
    snprintf(url, sizeof url, "%s/api/v1/batches/%s/results", sys.base, id);
    snprintf(hdr, sizeof hdr, "Accept: %s", accept);
    struct http_response r;
    cr_assert_eq(http_request_within(60000, "GET", url, NULL, NULL, hdr, &r), 0);
    *status = r.status;
    http_header(&r, "Content-Type", ctype, ctlen);
    char *body = wcsys_keep(&sys, buf_steal(&r.body));
    http_response_free(&r);
    return body;
}

/* --- 10,000 lines --- */

#define BIG 10000

Test(batches, ten_thousand_lines_reach_done_and_every_line_is_exported, .init = start_system) {
    wcsys_write_page(&sys, "page.html", "<p>alpha beta beta gamma gamma gamma</p>");
    struct buf body;
    buf_init(&body);
    char page[256], missing[256];
    wcsys_page_url(&sys, "/page.html", page, sizeof page);
    wcsys_page_url(&sys, "/status/404", missing, sizeof missing);
    /* Every 20th line is no URL, every 20th a 404; 460 distinct pages in
     * all (360 good, 100 missing), most asked for by many lines. */
    for (int i = 0; i < BIG; i++) {
        if (i % 20 == 19) buf_printf(&body, "not a url %d\r\n", i);
        else if (i % 20 == 18) buf_printf(&body, "%s?n=%d\r\n", missing, (i / 20) % 100);
        else buf_printf(&body, "%s?n=%d\r\n", page, i % 400);
    }
    long st;
    long long t0 = wcsys_now_ms();
    json_t *b = post_batch("text/plain", body.data, &st);
    long long took = wcsys_now_ms() - t0;
    buf_free(&body);
    cr_assert_eq(st, 202, "%s", json_dumps(b, 0));
    cr_log_info("10,000 lines accepted in %lld ms", took);
    cr_assert_eq(num(b, "total"), BIG);
    cr_assert_eq(num(b, "invalid"), BIG / 20);
    cr_assert_eq(num(b, "jobs"), BIG - BIG / 20);
    cr_assert_eq(num(b, "created"), 460, "one job per distinct page: %s", json_dumps(b, 0));
    cr_assert_eq(num(b, "deduplicated"), BIG - BIG / 20 - 460);
    json_t *bad = json_object_get(b, "invalid_lines");
    cr_assert_eq(json_array_size(bad), BIG / 20);
    cr_assert_eq(num(json_array_get(bad, 0), "index"), 19);
    cr_assert_str_eq(str(json_array_get(bad, 0), "text"), "not a url 19");
    cr_assert_str_neq(str(json_array_get(bad, 0), "reason"), "");
    char id[64];
    snprintf(id, sizeof id, "%s", str(b, "id"));

    json_t *done = wait_batch(id, "done", BIG - BIG / 20, 240000);
    cr_assert_str_eq(str(done, "status"), "done");
    json_t *counts = json_object_get(done, "counts");
    cr_assert_eq(num(counts, "failed"), BIG / 20, "%s", json_dumps(done, 0));
    cr_assert_eq(num(counts, "finished"), BIG - 2 * (BIG / 20));
    cr_assert_eq(json_real_value(json_object_get(done, "done_fraction")), 1.0);
    cr_assert(json_is_string(json_object_get(done, "started_at")));
    cr_assert(json_is_string(json_object_get(done, "finished_at")));
    cr_assert(json_is_null(json_object_get(done, "eta_seconds")));

    /* The jobs it created record it. */
    char key[256];
    redisReply *r = redisCommand(wcsys_redis(&sys), "LINDEX %sbatch:%s:jobs 0", sys.prefix, id);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    snprintf(key, sizeof key, "%sjob:%s", sys.prefix, r->str);
    freeReplyObject(r);
    r = redisCommand(wcsys_redis(&sys), "HGET %s batch", key);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, id));
    freeReplyObject(r);

    /* NDJSON: every line, in order. */
    char ct[128];
    char *nd = export(id, "application/x-ndjson", &st, ct, sizeof ct);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(ct, "application/x-ndjson");
    long line = 0;
    for (char *p = nd, *nl; *p; p = nl + 1, line++) {
        nl = strchr(p, '\n');
        cr_assert_not_null(nl, "line %ld is cut", line);
        *nl = '\0';
        json_t *v = json_loads(p, 0, NULL);
        cr_assert_not_null(v, "line %ld: %s", line, p);
        cr_assert_eq(num(v, "index"), line);
        const char *status = str(v, "status");
        if (line % 20 == 19) {
            cr_assert_str_eq(status, "invalid");
            cr_assert(json_is_null(json_object_get(v, "job_id")));
        } else if (line % 20 == 18) {
            cr_assert_str_eq(status, "failed", "%s", p);
            cr_assert_str_eq(str(v, "error_code"), "http_404", "%s", p);
        } else {
            cr_assert_str_eq(status, "finished", "%s", p);
            cr_assert_eq(num(v, "total_words"), 6, "%s", p);
            cr_assert_str_eq(str(json_array_get(json_object_get(v, "top"), 0), "word"), "gamma");
        }
        json_decref(v);
    }
    cr_assert_eq(line, BIG);

    /* CSV: a header, then every line. */
    char *csv = export(id, "text/csv", &st, ct, sizeof ct);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(ct, "text/csv; charset=utf-8");
    cr_assert_eq(strncmp(csv, "index,url,job_id,how,status,", 28), 0, "%.80s", csv);
    long records = 0;
    for (char *p = strstr(csv, "\r\n"); p; p = strstr(p + 2, "\r\n")) records++;
    cr_assert_eq(records, BIG + 1);
    /* Text fields are quoted (libcsv), numbers are not, nulls are empty. */
    cr_assert_not_null(strstr(csv, "\r\n19,\"not a url 19\",,,\"invalid\",\"invalid_url\","));
    cr_assert_not_null(strstr(csv, ",\"finished\",,,6,3,\"gamma:3 beta:2 alpha:1\"\r\n"));
}

/* --- the body forms --- */

Test(batches, each_body_form_is_read_with_its_errors_per_line, .init = start_web_only) {
    char a[256], b[256], c[1024];
    wcsys_page_url(&sys, "/a.html", a, sizeof a);
    wcsys_page_url(&sys, "/b.html", b, sizeof b);
    long st;

    /* JSON: a non-string and a bad URL are lines of their own. */
    snprintf(c, sizeof c, "{\"urls\": [\"%s\", 42, \"ftp://x/\", \"%s\", \"%s#again\"]}", a, b, a);
    json_t *v = post_batch("application/json", c, &st);
    cr_assert_eq(st, 202, "%s", json_dumps(v, 0));
    cr_assert_eq(num(v, "total"), 5);
    cr_assert_eq(num(v, "created"), 2);
    cr_assert_eq(num(v, "deduplicated"), 1, "the same page twice is one job");
    cr_assert_eq(num(v, "invalid"), 2);
    json_t *bad = json_object_get(v, "invalid_lines");
    cr_assert_eq(num(json_array_get(bad, 0), "index"), 1);
    cr_assert_str_eq(str(json_array_get(bad, 0), "reason"), "not a string");
    cr_assert_eq(num(json_array_get(bad, 1), "index"), 2);
    cr_assert_str_eq(str(json_array_get(bad, 1), "text"), "ftp://x/");
    json_t *s = get_batch(str(v, "id"), &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(s, "status"), "running");
    cr_assert_eq(num(json_object_get(s, "counts"), "queued"), 3, "%s", json_dumps(s, 0));
    cr_assert_eq(num(s, "done"), 0);
    cr_assert(json_is_null(json_object_get(s, "started_at")));

    /* Text: CRLF, blank and comment lines skipped, blanks trimmed. */
    snprintf(c, sizeof c, "# pages\r\n\r\n  %s  \r\nnot a url\r\n%s\n", a, b);
    v = post_batch("text/plain; charset=utf-8", c, &st);
    cr_assert_eq(st, 202, "%s", json_dumps(v, 0));
    cr_assert_eq(num(v, "total"), 3);
    cr_assert_eq(num(v, "deduplicated"), 2, "joined the first batch's live jobs");
    cr_assert_eq(num(json_array_get(json_object_get(v, "invalid_lines"), 0), "index"), 1);

    /* CSV: quoted fields (a comma, a doubled quote, a line break), CRLF,
     * the url column anywhere, a record without it. */
    snprintf(c, sizeof c,
             "name,URL,note\r\n\"x, y\",%s,\"say \"\"hi\"\"\"\r\nz,\"%s\",\"two\r\nlines\"\r\n"
             "short\r\n",
             a, b);
    v = post_batch("text/csv", c, &st);
    cr_assert_eq(st, 202, "%s", json_dumps(v, 0));
    cr_assert_eq(num(v, "total"), 3);
    cr_assert_eq(num(v, "jobs"), 2);
    bad = json_object_get(v, "invalid_lines");
    cr_assert_eq(json_array_size(bad), 1);
    cr_assert_eq(num(json_array_get(bad, 0), "index"), 2);
    cr_assert_str_eq(str(json_array_get(bad, 0), "reason"), "the record has no url field");

    /* Options of text and CSV bodies come in the query string. */
    v = post_to("/api/v1/batches?fresh=true", "text/plain", a, &st, NULL, 0);
    cr_assert_eq(st, 202);
    cr_assert_eq(num(v, "created"), 1, "fresh: a new job though the page has a live one");
    s = get_batch(str(v, "id"), &st);
    cr_assert(json_is_true(json_object_get(s, "fresh")));

    /* The newest batches, newest first. */
    json_t *list = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/api/v1/batches", NULL, &st));
    cr_assert_eq(st, 200);
    json_t *items = json_object_get(list, "batches");
    cr_assert_eq(json_array_size(items), 4, "%s", json_dumps(list, 0));
    cr_assert_str_eq(str(json_array_get(items, 0), "id"), str(v, "id"));
}

Test(batches, bodies_that_cannot_be_a_batch_get_a_clear_4xx, .init = start_web_only) {
    static const struct {
        const char *ctype, *body;
        long status;
        const char *detail;
    } cases[] = {
        {"application/json", "{\"urls\": [\"http://a/\"]", 400, "JSON"},
        {"application/json", "{\"urls\": \"http://a/\"}", 422, "urls"},
        {"application/json", "{\"url\": \"http://a/\"}", 422, "urls"},
        {"application/json", "{\"urls\": []}", 422, "no lines"},
        {"application/json", "{\"urls\": [\"http://a/\"], \"max_age\": -1}", 422, "max_age"},
        {"application/json", "{\"urls\": [\"http://a/\"], \"max_age\": 5, \"fresh\": true}", 422,
         "one or the other"},
        {"application/json", "{\"urls\": [\"nope\", 7]}", 422, "invalid_lines"},
        {"text/plain", "", 422, "no lines"},
        {"text/plain", "# only a comment\n\n", 422, "no lines"},
        {"text/csv", "link\r\nhttp://a/\r\n", 422, "url"},
        {"text/csv", "", 422, "empty"},
        {"text/csv", "url\r\n\"http://a/\r\n", 400, "CSV"},
        {"text/csv", "url\r\nhttp://a/\"x\"\r\n", 400, "CSV"},
        {"application/x-www-form-urlencoded", "url=http://a/", 415, "text/csv"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char url[512], ct[128] = "";
        snprintf(url, sizeof url, "%s/api/v1/batches", sys.base);
        struct http_response r;
        cr_assert_eq(http_request("POST", url, cases[i].ctype, cases[i].body, NULL, &r), 0);
        http_header(&r, "Content-Type", ct, sizeof ct);
        cr_expect_eq(r.status, cases[i].status, "%s: %ld %s", cases[i].body, r.status, r.body.data);
        cr_expect_str_eq(ct, "application/problem+json", "%s", cases[i].body);
        cr_expect_not_null(strstr(r.body.data ? r.body.data : "", cases[i].detail), "%s: %s",
                           cases[i].body, r.body.data);
        http_response_free(&r);
    }
    long st;
    post_to("/api/v1/batches?max_age=soon", "text/plain", "http://a/", &st, NULL, 0);
    cr_assert_eq(st, 422);

    /* More than 10,000 lines: 413, nothing created. */
    struct buf body;
    buf_init(&body);
    for (int i = 0; i <= 10000; i++) buf_printf(&body, "http://a/%d\n", i);
    json_t *v = post_batch("text/plain", body.data, &st);
    cr_assert_eq(st, 413, "%s", json_dumps(v, 0));
    cr_assert_not_null(strstr(str(v, "detail"), "10000"));
    /* A body past the batch limit: 413 before it is read; the single
     * submit's smaller limit still holds on its own route. */
    buf_reset(&body);
    while (body.len <= 4194304) buf_append_str(&body, "http://example.com/a-rather-long-path\n");
    v = post_batch("text/plain", body.data, &st);
    cr_assert_eq(st, 413);
    buf_reset(&body);
    buf_append_str(&body, "{\"url\": \"http://a/\", \"pad\": \"");
    while (body.len <= 70000) buf_append_str(&body, "xxxxxxxxxxxxxxxx");
    buf_append_str(&body, "\"}");
    v = post_to("/api/v1/jobs", "application/json", body.data, &st, NULL, 0);
    cr_assert_eq(st, 413);
    buf_free(&body);
    redisReply *r = redisCommand(wcsys_redis(&sys), "XLEN %squeue", sys.prefix);
    cr_assert_eq(r->integer, 0, "nothing was queued");
    freeReplyObject(r);
}

Test(batches, unknown_batches_are_404, .init = start_web_only) {
    static const char *paths[] = {"/api/v1/batches/0192f3a1-7c2e-7abc-8def-0123456789ab",
                                  "/api/v1/batches/0192f3a1-7c2e-7abc-8def-0123456789ab/results",
                                  "/api/v1/batches/not-an-id"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        long st;
        json_t *v = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", paths[i], NULL, &st));
        cr_expect_eq(st, 404, "%s", paths[i]);
        cr_expect_str_eq(str(v, "detail"), "no batch with this id");
    }
    long st;
    wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", paths[0], NULL, &st));
    cr_expect_eq(st, 404);
}

/* --- cancel --- */

static void
start_one_slot(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "1");
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
}

Test(batches, delete_cancels_only_what_the_batch_created_and_has_not_started,
     .init = start_one_slot) {
    char gate[256], joined[256], p1[256], p2[256], body[2048];
    wcsys_page_url(&sys, "/gate", gate, sizeof gate);
    wcsys_page_url(&sys, "/joined.html", joined, sizeof joined);
    wcsys_page_url(&sys, "/p1.html", p1, sizeof p1);
    wcsys_page_url(&sys, "/p2.html", p2, sizeof p2);
    wcsys_write_page(&sys, "joined.html", "<p>joined</p>");
    wcsys_write_page(&sys, "p1.html", "<p>one</p>");
    wcsys_write_page(&sys, "p2.html", "<p>two</p>");
    long st;
    /* Batch one holds the worker's only slot at the gate. */
    json_t *one = post_batch("text/plain", gate, &st);
    cr_assert_eq(st, 202);
    wait_batch(str(one, "id"), "started", 1, 60000);
    /* A single job waits behind it; batch two joins both. */
    char *single = wcsys_keep(&sys, wcsys_submit(&sys, joined));
    snprintf(body, sizeof body, "%s\n%s\n%s\n%s\n", gate, joined, p1, p2);
    json_t *two = post_batch("text/plain", body, &st);
    cr_assert_eq(st, 202);
    cr_assert_eq(num(two, "created"), 2);
    cr_assert_eq(num(two, "deduplicated"), 2);

    char path[128];
    snprintf(path, sizeof path, "/api/v1/batches/%s", str(two, "id"));
    json_t *v = wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", path, NULL, &st));
    cr_assert_eq(st, 200, "%s", json_dumps(v, 0));
    cr_assert_eq(num(v, "canceled"), 2, "%s", json_dumps(v, 0));
    json_t *counts = json_object_get(v, "counts");
    cr_assert_eq(num(counts, "canceled"), 2);
    cr_assert_eq(num(counts, "started"), 1, "the gate's job, batch one's, runs on");
    cr_assert_eq(num(counts, "queued"), 1, "the single job it joined is not its to cancel");
    cr_assert_str_eq(wcsys_status(wcsys_keep_json(&sys, wcsys_job(&sys, single))), "queued");
    /* Again: nothing more to cancel. Batch one's job has started. */
    v = wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", path, NULL, &st));
    cr_assert_eq(st, 200);
    cr_assert_eq(num(v, "canceled"), 0);
    snprintf(path, sizeof path, "/api/v1/batches/%s", str(one, "id"));
    v = wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", path, NULL, &st));
    cr_assert_eq(num(v, "canceled"), 0);

    page_server_gate_open(sys.pages);
    json_t *done = wait_batch(str(two, "id"), "done", 4, 60000);
    counts = json_object_get(done, "counts");
    cr_assert_eq(num(counts, "finished"), 2, "%s", json_dumps(done, 0));
    cr_assert_eq(num(counts, "canceled"), 2);
    cr_assert_str_eq(str(done, "status"), "done");
}
