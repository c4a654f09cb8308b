/* The failed set and cancellation through the web server: the admin
 * routes (list newest first and paged, retry one or all, delete) behind
 * ADMIN_TOKEN, DELETE /api/v1/jobs/{id} for jobs not yet started, and the
 * expiry of ended job states after RESULT_TTL while results stay
 * readable from Postgres. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/http_client.h"
#include "tests/lib/wcsys.h"

#define TOKEN "Authorization: Bearer s3cret-t0ken"

static struct wcsys sys;

static void
start(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "ADMIN_TOKEN", "s3cret-t0ken");
    wcsys_env(&sys, "JOB_MAX_ATTEMPTS", "1");
    /* A job these tests see started stays started: with robots.txt on,
     * one child's job may instead wait for the other child's fetch of
     * it (robots_pending, a deferral: test_polite's matter). */
    wcsys_env(&sys, "FETCH_ROBOTS", "ignore");
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(admin, .init = start, .fini = stop, .timeout = 120);

static json_t *
call(const char *method, const char *path, const char *auth, long want) {
    long status;
    json_t *v = wcsys_http(&sys, method, path, auth, &status);
    cr_assert_eq(status, want, "%s %s: %ld %s", method, path, status, v ? json_dumps(v, 0) : "");
    return v;
}

static const char *
id_at(json_t *list, size_t i) {
    return json_string_value(
        json_object_get(json_array_get(json_object_get(list, "jobs"), i), "id"));
}

Test(admin, failed_set_list_retry_and_delete) {
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    enum { N = 5 };
    char *ids[N], url[160], path[160];
    /* Fail one after the other, so "newest first" has one answer. */
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "/later-%d.html", i);
        ids[i] = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, path, url, sizeof url)));
        json_t *job = wcsys_wait_status(&sys, ids[i], "finished,failed", 30000);
        cr_assert_str_eq(wcsys_status(job), "failed");
        json_decref(job);
        usleep(5 * 1000);
    }

    /* The token guards the list. */
    char full[256];
    snprintf(full, sizeof full, "%s/api/v1/admin/failed", sys.base);
    struct http_response r;
    cr_assert_eq(http_request("GET", full, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 401);
    char hdr[128];
    cr_assert_eq(http_header(&r, "WWW-Authenticate", hdr, sizeof hdr), 0);
    cr_assert(strstr(hdr, "Bearer"), "%s", hdr);
    http_response_free(&r);
    json_decref(call("GET", "/api/v1/admin/failed", "Authorization: Bearer wrong", 401));
    json_decref(call("GET", "/api/v1/admin/failed", "Authorization: Bearer s3cret-t0ke", 401));
    json_decref(call("POST", "/api/v1/admin/failed/retry", NULL, 401));

    json_t *list = call("GET", "/api/v1/admin/failed", TOKEN, 200);
    cr_assert_eq(json_integer_value(json_object_get(list, "total")), N);
    cr_assert_eq(json_array_size(json_object_get(list, "jobs")), N);
    for (int i = 0; i < N; i++) cr_assert_str_eq(id_at(list, (size_t)i), ids[N - 1 - i]);
    json_t *first = json_array_get(json_object_get(list, "jobs"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(first, "error"), "code")),
                     "http_404");
    json_decref(list);
    list = call("GET", "/api/v1/admin/failed?offset=1&limit=2", TOKEN, 200);
    cr_assert_eq(json_integer_value(json_object_get(list, "total")), N);
    cr_assert_eq(json_array_size(json_object_get(list, "jobs")), 2);
    cr_assert_str_eq(id_at(list, 0), ids[N - 2]);
    cr_assert_str_eq(id_at(list, 1), ids[N - 3]);
    json_decref(list);
    json_decref(call("GET", "/api/v1/admin/failed?limit=0", TOKEN, 400));
    json_decref(call("GET", "/api/v1/admin/failed?offset=x", TOKEN, 400));

    /* The pages exist now: retry one. */
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "later-%d.html", i);
        wcsys_write_page(&sys, path, "<p>here at last</p>");
    }
    snprintf(path, sizeof path, "/api/v1/admin/failed/%s/retry", ids[0]);
    json_t *v = call("POST", path, TOKEN, 200);
    cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "queued");
    json_decref(v);
    json_t *job = wcsys_wait_status(&sys, ids[0], "finished,failed", 30000);
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1, "a fresh count");
    cr_assert_eq(json_array_size(json_object_get(job, "errors")), 1, "the old error stays");
    cr_assert_eq(wcsys_rows(&sys, ids[0]), 1);
    json_decref(job);
    json_decref(call("POST", path, TOKEN, 404)); /* not failed any more */

    /* Delete one. */
    snprintf(path, sizeof path, "/api/v1/admin/failed/%s", ids[1]);
    json_decref(call("DELETE", path, TOKEN, 204));
    json_decref(call("DELETE", path, TOKEN, 404));
    snprintf(path, sizeof path, "/api/v1/jobs/%s", ids[1]);
    json_decref(call("GET", path, NULL, 404));
    json_decref(call("DELETE", "/api/v1/admin/failed/not-an-id", TOKEN, 404));

    /* Retry all: the other three. */
    v = call("POST", "/api/v1/admin/failed/retry", TOKEN, 200);
    cr_assert_eq(json_integer_value(json_object_get(v, "requeued")), N - 2);
    json_decref(v);
    for (int i = 2; i < N; i++) {
        job = wcsys_wait_status(&sys, ids[i], "finished,failed", 30000);
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        json_decref(job);
    }
    list = call("GET", "/api/v1/admin/failed", TOKEN, 200);
    cr_assert_eq(json_integer_value(json_object_get(list, "total")), 0);
    json_decref(list);
}

Test(admin, cancel_before_start_only) {
    /* The retrying job waits 30 to 60 s: it is still retrying when the
     * test cancels it, however slow the machine. */
    wcsys_env(&sys, "JOB_MAX_ATTEMPTS", "3");
    wcsys_env(&sys, "JOB_RETRY_BASE", "60s");
    wcsys_env(&sys, "JOB_RETRY_MAX", "60s");
    wcsys_start_web_ready(&sys);
    char url[160], path[160];
    /* No worker yet: the job stays queued. */
    char *queued =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/10", url, sizeof url)));
    snprintf(path, sizeof path, "/api/v1/jobs/%s", queued);
    json_t *v = call("DELETE", path, NULL, 200); /* the job's holder needs no token */
    cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "canceled");
    json_decref(v);
    json_decref(call("DELETE", path, NULL, 200)); /* again: still canceled */
    json_decref(call("DELETE", "/api/v1/jobs/01920000-0000-7000-8000-000000000000", NULL, 404));

    wcsys_start_worker(&sys, NULL);
    /* The running job's page waits at the gate until the test has tried
     * to cancel it. The retrying job's 503 comes from another host: a 503
     * pauses its host, and had it come first, the running job would have
     * waited (cancelable) instead of fetching. */
    char *running =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    page_server_t *other = page_server_start(sys.pages_dir);
    cr_assert_not_null(other);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/status/503", page_server_port(other));
    char *retrying = wcsys_keep(&sys, wcsys_submit(&sys, url));
    wcsys_job_pid(&sys, running, 1, 20000);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", running);
    v = wcsys_keep_json(&sys, call("DELETE", path, NULL, 409));
    cr_assert(strstr(json_string_value(json_object_get(v, "detail")), "started"), "%s",
              json_dumps(v, 0));
    page_server_gate_open(sys.pages);
    json_decref(wcsys_wait_status(&sys, retrying, "retrying", 20000));
    page_server_stop(other);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", retrying);
    json_decref(call("DELETE", path, NULL, 200));

    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, running, "finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "finished");
    job = wcsys_keep_json(&sys, wcsys_job(&sys, queued));
    cr_assert_str_eq(wcsys_status(job), "canceled");
    job = wcsys_keep_json(&sys, wcsys_job(&sys, retrying));
    cr_assert_str_eq(wcsys_status(job), "canceled");
    cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1);
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"job started\"", queued), 0);
    cr_assert_eq(wcsys_rows(&sys, queued), 0);
}

Test(admin, admin_routes_need_a_token_outside_development) {
    wcsys_env(&sys, "ADMIN_TOKEN", "");
    wcsys_start_web_ready(&sys);
    json_t *v = call("GET", "/api/v1/admin/failed", NULL, 403);
    cr_assert(strstr(json_string_value(json_object_get(v, "detail")), "ADMIN_TOKEN"));
    json_decref(v);
    json_decref(call("POST", "/api/v1/admin/failed/retry", TOKEN, 403));
    /* In development the admin API is open without a token. */
    wcsys_env(&sys, "APP_ENV", "development");
    wcsys_start_web_ready(&sys);
    v = call("GET", "/api/v1/admin/failed", NULL, 200);
    cr_assert_eq(json_integer_value(json_object_get(v, "total")), 0);
    json_decref(v);
}

/* gone waits until the job's Redis hash has expired. */
static void
wait_expired(const char *id) {
    for (int i = 0; i < 200; i++) {
        redisReply *r = redisCommand(wcsys_redis(&sys), "EXISTS %sjob:%s", sys.prefix, id);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        long long n = r->integer;
        freeReplyObject(r);
        if (n == 0) return;
        usleep(50 * 1000);
    }
    cr_assert_fail("job %s did not expire", id);
}

Test(admin, ended_states_expire_results_stay) {
    wcsys_env(&sys, "RESULT_TTL", "1s");
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    wcsys_write_page(&sys, "a.html", "<p>one two two</p>");
    char url[160];
    char *ok =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/a.html", url, sizeof url)));
    char *bad =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/status/404", url, sizeof url)));
    json_decref(wcsys_wait_status(&sys, ok, "finished", 30000));
    /* An ended job expires after RESULT_TTL: a TTL of at most 1 s, or
     * gone already (-2) on a slow machine; never kept for good (-1). */
    redisReply *r = redisCommand(wcsys_redis(&sys), "TTL %sjob:%s", sys.prefix, ok);
    long long ttl = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
    freeReplyObject(r);
    cr_assert(ttl == -2 || (ttl >= 0 && ttl <= 1),
              "TTL %lld: an ended job expires after RESULT_TTL", ttl);
    json_decref(wcsys_wait_status(&sys, bad, "failed", 30000));
    wait_expired(ok);
    wait_expired(bad);

    json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ok));
    cr_assert_str_eq(wcsys_status(job), "finished", "answered from Postgres: %s",
                     json_dumps(job, 0));
    json_t *result = json_object_get(job, "result");
    cr_assert_eq(json_integer_value(json_object_get(result, "total_words")), 3);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", bad);
    json_decref(call("GET", path, NULL, 404));
    json_t *list = wcsys_keep_json(&sys, call("GET", "/api/v1/admin/failed", TOKEN, 200));
    cr_assert_eq(json_integer_value(json_object_get(list, "total")), 0,
                 "expired jobs leave the set");
}
