/* Freshness (issue 17) on the real programs, Redis, Postgres and a
 * loopback page server that counts its requests and serves ETags: one
 * key per page (spellings of one URL share history, dedup and cache), a
 * burst of identical submissions making one job, max_age answered from a
 * stored result with no request to the page, and a conditional re-fetch
 * answered 304 stored as a row repeating the counts. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/raw_http.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;

static void
start_web_only(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "WEB_CONCURRENCY", "2"); /* two processes race for real */
    wcsys_start_web_ready(&sys);
}

static void
start_system(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
}

static void
stop_system(void) {
    wcsys_free(&sys);
}

/* Each test names its own start: Criterion runs a suite's .init and a
 * test's both, and two starts would leave the first system's processes
 * running after the test. */
TestSuite(fresh, .fini = stop_system, .timeout = 120);

/* post sends body (JSON unless ctype says otherwise) to /api/v1/jobs and
 * returns the answer's JSON (kept by sys); *status gets the status. */
static json_t *
post(const char *ctype, const char *body, long *status) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/jobs", sys.base);
    struct http_response r;
    cr_assert_eq(http_request("POST", url, ctype ? ctype : "application/json", body, NULL, &r), 0);
    *status = r.status;
    json_t *v = json_loads(r.body.data ? r.body.data : "", 0, NULL);
    cr_assert_not_null(v, "%s: %ld %s", body, r.status, r.body.data);
    http_response_free(&r);
    return wcsys_keep_json(&sys, v);
}

static const char *
str(const json_t *v, const char *k) {
    const char *s = json_string_value(json_object_get(v, k));
    return s ? s : "";
}

static long long
queue_len(void) {
    char key[256];
    snprintf(key, sizeof key, "%squeue", sys.prefix);
    redisReply *r = redisCommand(wcsys_redis(&sys), "XLEN %s", key);
    cr_assert_not_null(r);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* --- dedup --- */

#define CONNS 20
#define PER_CONN 10

Test(fresh, a_burst_of_identical_submissions_makes_one_job, .init = start_web_only) {
    /* Nothing runs the job: it stays queued while the burst lands. The
     * URL comes in three spellings of one page. */
    const char *spellings[] = {"http://Example.COM:80/burst#a", "HTTP://example.com/./burst",
                               "http://example.com/burst"};
    int fds[CONNS];
    for (int c = 0; c < CONNS; c++) {
        fds[c] = raw_connect(atoi(strrchr(sys.base, ':') + 1));
        cr_assert_geq(fds[c], 0);
    }
    /* Every connection sends all its requests at once (pipelined), so
     * all 200 are in flight together across the two web processes. */
    for (int c = 0; c < CONNS; c++) {
        char req[8192];
        size_t at = 0;
        for (int k = 0; k < PER_CONN; k++) {
            char body[128];
            int n = snprintf(body, sizeof body, "{\"url\": \"%s\"}", spellings[(c + k) % 3]);
            at += (size_t)snprintf(req + at, sizeof req - at,
                                   "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                   "application/json\r\nContent-Length: %d\r\n\r\n%s",
                                   n, body);
        }
        cr_assert_eq(raw_send(fds[c], req, at), 0);
    }
    char first[40] = "";
    int created = 0, joined = 0;
    for (int c = 0; c < CONNS; c++) {
        for (int k = 0; k < PER_CONN; k++) {
            struct raw_response r;
            cr_assert_eq(raw_read(fds[c], &r, 30000), 0, "connection %d answer %d", c, k);
            json_t *v = json_loads(r.body.data, 0, NULL);
            cr_assert_not_null(v, "%s", r.body.data);
            const char *id = str(v, "id");
            if (!first[0]) snprintf(first, sizeof first, "%s", id);
            cr_expect_str_eq(id, first, "every answer names the one job");
            if (r.status == 202) {
                created++;
            } else {
                cr_expect_eq(r.status, 200, "%s", r.body.data);
                cr_expect(json_is_true(json_object_get(v, "deduplicated")), "%s", r.body.data);
                joined++;
            }
            cr_expect_str_eq(str(v, "normalized_url"), "http://example.com/burst");
            json_decref(v);
            raw_response_free(&r);
        }
        close(fds[c]);
    }
    cr_assert_eq(created, 1, "one job created (%d)", created);
    cr_assert_eq(joined, CONNS * PER_CONN - 1);
    cr_assert_eq(queue_len(), 1, "one queue entry");

    /* fresh: true is a job of its own, and the page's newest. */
    long st;
    json_t *v = post(NULL, "{\"url\": \"http://example.com/burst\", \"fresh\": true}", &st);
    cr_assert_eq(st, 202);
    char fresh_id[40];
    snprintf(fresh_id, sizeof fresh_id, "%s", str(v, "id"));
    cr_assert_str_neq(fresh_id, first);
    v = post(NULL, "{\"url\": \"http://example.com/burst\", \"fresh\": false}", &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(v, "id"), fresh_id);
    cr_assert_eq(queue_len(), 2);
    /* The original app's /start joins too (its answer is the id). */
    char url[512];
    snprintf(url, sizeof url, "%s/start", sys.base);
    struct http_response r;
    cr_assert_eq(
        http_request("POST", url, "application/json", "{\"url\": \"example.com/burst\"}", NULL, &r),
        0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, fresh_id);
    http_response_free(&r);
    cr_assert_eq(queue_len(), 2);
}

Test(fresh, bad_freshness_is_refused_clearly, .init = start_web_only) {
    static const struct {
        const char *ctype, *body;
        long status;
        const char *detail; /* in the problem's detail */
    } cases[] = {
        {NULL, "{\"url\": \"http://example.com/\", \"fresh\": \"yes\"}", 422, "fresh"},
        {NULL, "{\"url\": \"http://example.com/\", \"fresh\": 1}", 422, "fresh"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": -1}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": \"60\"}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": 1.5}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": true}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": 31536001}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": 1e30}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": [60]}", 422, "max_age"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": 60, \"fresh\": true}", 422,
         "one or the other"},
        {NULL, "{\"url\": \"http://example.com/\", \"max_age\": 60", 400, ""},
        {NULL, "{\"url\": \"http://exa mple.com/\", \"max_age\": 60}", 422, "URL"},
        {"application/x-www-form-urlencoded", "url=http://example.com/&fresh=maybe", 422, "fresh"},
        {"application/x-www-form-urlencoded", "url=http://example.com/&max_age=abc", 422,
         "max_age"},
        {"application/x-www-form-urlencoded", "url=http://example.com/&max_age=-5", 422, "max_age"},
        {"application/x-www-form-urlencoded", "url=http://example.com/&max_age=99999999999", 422,
         "max_age"},
        {"application/x-www-form-urlencoded", "url=http://example.com/&max_age=5&fresh=1", 422,
         "one or the other"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char url[512];
        snprintf(url, sizeof url, "%s/api/v1/jobs", sys.base);
        struct http_response r;
        cr_assert_eq(http_request("POST", url, cases[i].ctype ? cases[i].ctype : "application/json",
                                  cases[i].body, NULL, &r),
                     0);
        char ct[128] = "";
        http_header(&r, "Content-Type", ct, sizeof ct);
        cr_expect_eq(r.status, cases[i].status, "%s: %ld %s", cases[i].body, r.status, r.body.data);
        cr_expect_str_eq(ct, "application/problem+json", "%s", cases[i].body);
        cr_expect_not_null(strstr(r.body.data ? r.body.data : "", cases[i].detail), "%s: %s",
                           cases[i].body, r.body.data);
        http_response_free(&r);
    }
    cr_assert_eq(queue_len(), 0, "nothing was queued");
    /* null is as good as absent; good values are taken. */
    long st;
    post(NULL, "{\"url\": \"http://example.com/n\", \"fresh\": null, \"max_age\": null}", &st);
    cr_assert_eq(st, 202);
    post("application/x-www-form-urlencoded", "url=http://example.com/f&fresh=true&max_age=", &st);
    cr_assert_eq(st, 202);
    post("application/x-www-form-urlencoded", "url=http://example.com/f&max_age=0", &st);
    cr_assert_eq(st, 200, "max_age 0 fetches, and joins the live job");
}

/* --- max_age and conditional re-fetch --- */

static json_t *
wait_finished(const char *id) {
    json_t *j = wcsys_keep_json(&sys, wcsys_wait_status(&sys, id, "finished,failed", 60000));
    cr_assert_str_eq(wcsys_status(j), "finished", "%s", json_dumps(j, 0));
    return j;
}

static json_t *
result_of(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", id);
    long st;
    json_t *v = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &st));
    cr_assert_eq(st, 200);
    return v;
}

static long long
num(const json_t *v, const char *k) {
    return (long long)json_integer_value(json_object_get(v, k));
}

Test(fresh, a_fresh_result_is_the_answer_with_no_request_to_the_page, .init = start_system) {
    wcsys_write_page(&sys, "cached.html", "<p>one two two three three three</p>");
    char page[256], spelled[300], body[512];
    wcsys_page_url(&sys, "/cached.html", page, sizeof page);
    char *first = wcsys_keep(&sys, wcsys_submit(&sys, page));
    wait_finished(first);
    size_t requests = page_server_requests(sys.pages, NULL, 0);

    /* Another spelling of the page, young enough: that job, finished, at once. */
    snprintf(spelled, sizeof spelled, "HTTP://127.0.0.1:%d/x/../cached.html#top",
             page_server_port(sys.pages));
    snprintf(body, sizeof body, "{\"url\": \"%s\", \"max_age\": 3600}", spelled);
    long st;
    json_t *v = post(NULL, body, &st);
    cr_assert_eq(st, 200, "%s", json_dumps(v, 0));
    cr_assert_str_eq(str(v, "id"), first);
    cr_assert_str_eq(str(v, "status"), "finished");
    cr_assert(json_is_true(json_object_get(v, "cached")));
    cr_assert_eq(num(json_object_get(v, "result"), "total_words"), 6);
    cr_assert_eq(page_server_requests(sys.pages, NULL, 0), requests, "no request to the page");
    cr_assert_eq(queue_len(), 0, "no queue entry");
    json_t *res = result_of(str(v, "id"));
    cr_assert_eq(num(res, "unique_words"), 3);

    /* Redis noted the page's finished job (the note and the job's copy),
     * which answered; without them (a result stored before notes, or a
     * note expired), Postgres answers the same. */
    redisReply *keys = redisCommand(wcsys_redis(&sys), "KEYS %spage:*", sys.prefix);
    cr_assert(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements == 2, "one page noted");
    for (size_t i = 0; i < keys->elements; i++)
        freeReplyObject(redisCommand(wcsys_redis(&sys), "DEL %s", keys->element[i]->str));
    freeReplyObject(keys);
    v = post(NULL, body, &st);
    cr_assert_eq(st, 200, "%s", json_dumps(v, 0));
    cr_assert_str_eq(str(v, "id"), first, "found in Postgres");
    cr_assert(json_is_true(json_object_get(v, "cached")));
    cr_assert_eq(queue_len(), 0, "no queue entry");

    /* The history of either spelling is the one page's. */
    char path[700], enc[400];
    size_t k = 0;
    for (const char *p = spelled; *p && k + 4 < sizeof enc; p++) {
        if (*p == '#' || *p == '&' || *p == '?' || *p == '+')
            k += (size_t)snprintf(enc + k, 4, "%%%02X", *p);
        else enc[k++] = *p;
    }
    enc[k] = '\0';
    snprintf(path, sizeof path, "/api/v1/results?url=%s", enc);
    json_t *hist = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &st));
    cr_assert_eq(st, 200);
    cr_assert_eq(json_array_size(json_object_get(hist, "results")), 1, "one row per fetch");

    /* max_age 0 (or none) fetches again: a new job. */
    snprintf(body, sizeof body, "{\"url\": \"%s\", \"max_age\": 0}", page);
    v = post(NULL, body, &st);
    cr_assert_eq(st, 202);
    cr_assert_str_neq(str(v, "id"), first);
    wait_finished(str(v, "id"));
    cr_assert_gt(page_server_requests(sys.pages, NULL, 0), requests);
}

Test(fresh, a_page_unchanged_is_not_counted_again, .init = start_system) {
    wcsys_write_page(&sys, "etag.html", "<p>alpha beta beta</p>");
    char page[256];
    wcsys_page_url(&sys, "/etag.html", page, sizeof page);
    char *first = wcsys_keep(&sys, wcsys_submit(&sys, page));
    wait_finished(first);
    json_t *r1 = result_of(first);
    json_t *f1 = json_object_get(r1, "fetch");
    cr_assert(json_is_false(json_object_get(f1, "not_modified")));
    cr_assert(json_is_string(json_object_get(f1, "etag")), "the ETag is stored");
    cr_assert_eq(page_server_not_modified(sys.pages), 0);

    /* The same page again: If-None-Match, a 304, the counts repeated. */
    char *second = wcsys_keep(&sys, wcsys_submit(&sys, page));
    wait_finished(second);
    cr_assert_eq(page_server_not_modified(sys.pages), 1, "the fetch was conditional");
    json_t *r2 = result_of(second);
    json_t *f2 = json_object_get(r2, "fetch");
    cr_assert(json_is_true(json_object_get(f2, "not_modified")), "%s", json_dumps(r2, 0));
    cr_assert_eq(num(f2, "http_status"), 304);
    cr_assert_eq(num(f2, "bytes"), 0, "nothing transferred but the head");
    cr_assert_str_eq(json_string_value(json_object_get(f2, "etag")),
                     json_string_value(json_object_get(f1, "etag")));
    cr_assert_eq(num(r2, "total_words"), 3);
    cr_assert_eq(num(r2, "unique_words"), 2);
    cr_assert(json_equal(json_object_get(r2, "counts"), json_object_get(r1, "counts")));
    cr_assert_str_eq(json_string_value(json_object_get(f2, "content_type")), "text/html");
    /* The job poll shows its summary (from Postgres: the copy has none in Redis). */
    json_t *j2 = wcsys_keep_json(&sys, wcsys_job(&sys, second));
    cr_assert_eq(num(json_object_get(j2, "result"), "total_words"), 3, "%s", json_dumps(j2, 0));

    /* Changed: a new ETag, a full fetch, new counts. */
    wcsys_write_page(&sys, "etag.html", "<p>alpha beta gamma delta epsilon</p>");
    char *third = wcsys_keep(&sys, wcsys_submit(&sys, page));
    wait_finished(third);
    cr_assert_eq(page_server_not_modified(sys.pages), 1);
    json_t *r3 = result_of(third);
    cr_assert(json_is_false(json_object_get(json_object_get(r3, "fetch"), "not_modified")));
    cr_assert_eq(num(r3, "total_words"), 5);
    char *rows =
        wcsys_keep(&sys, wcsys_sql(&sys, "SELECT count(*) FROM results WHERE not_modified"));
    cr_assert_str_eq(rows, "1");
}
