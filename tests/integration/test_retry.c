/* Retries, errors and timeouts, through the real programs and the API:
 * transient failures (5xx, 429, connection refused, fetch timeout, DNS)
 * are retried with exponential backoff and jitter and show `retrying`
 * with the next attempt's time and every attempt's error; permanent ones
 * (4xx, unsupported type, too large, blocked address) fail at once; every
 * failure carries a stable code and a message; JOB_TIMEOUT bounds a
 * job's whole run even when the fetch alone would go on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/servers.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;

/* The backoff: 1 to 2 s after the first attempt, 2 to 4 s after the
 * second; long enough for a poll to see each job waiting on a busy
 * machine. */
#define RETRY_BASE_MS 2000
#define CLOCK_SLACK_MS 250

static void
start(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "JOB_MAX_ATTEMPTS", "3");
    wcsys_env(&sys, "JOB_RETRY_BASE", "2s");
    wcsys_env(&sys, "JOB_RETRY_MAX", "8s");
    wcsys_env(&sys, "FETCH_TIMEOUT", "1s");
    wcsys_env(&sys, "FETCH_MAX_BYTES", "2k");
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(retry, .init = start, .fini = stop, .timeout = 120);

static const char *
error_field(const json_t *job, const char *field) {
    return json_string_value(json_object_get(json_object_get(job, "error"), field));
}

static long long
attempts(const json_t *job) {
    return json_integer_value(json_object_get(job, "attempts"));
}

Test(retry, transient_failures_retry_with_backoff) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char refused[64];
    snprintf(refused, sizeof refused, "http://127.0.0.1:%d/", servers_free_port("127.0.0.1"));
    struct {
        const char *path; /* on the page server, or a full URL */
        const char *code;
        char *id;
        bool seen_retrying;
    } cases[] = {
        {"/status/503", "http_503", NULL, false},
        {"/status/429", "http_429", NULL, false},
        {"/status/500", "http_500", NULL, false},
        {refused, "connect", NULL, false},
        {"/hang", "timeout", NULL, false},
        {"http://no-such-host.invalid/", "dns", NULL, false},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    char url[256];
    for (int i = 0; i < N; i++) {
        const char *u = cases[i].path[0] == '/'
                            ? wcsys_page_url(&sys, cases[i].path, url, sizeof url)
                            : cases[i].path;
        cases[i].id = wcsys_keep(&sys, wcsys_submit(&sys, u));
    }

    /* Catch each job while it waits out its backoff (at least 1 s). */
    long long until = wcsys_now_ms() + 30000;
    int seen = 0;
    while (seen < N && wcsys_now_ms() < until) {
        for (int i = 0; i < N; i++) {
            if (cases[i].seen_retrying) continue;
            json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, cases[i].id));
            if (!strcmp(wcsys_status(job), "retrying")) {
                cases[i].seen_retrying = true;
                seen++;
                cr_assert_str_eq(error_field(job, "code"), cases[i].code, "%s", json_dumps(job, 0));
                cr_assert(strlen(error_field(job, "message")) > 0);
                long long next =
                    wcsys_time_ms(json_string_value(json_object_get(job, "next_attempt_at")));
                json_t *errors = json_object_get(job, "errors");
                cr_assert_geq(json_array_size(errors), 1);
                json_t *last = json_array_get(errors, json_array_size(errors) - 1);
                long long failed_at = wcsys_time_ms(json_string_value(json_object_get(last, "at")));
                cr_assert(next > 0 && failed_at > 0, "%s", json_dumps(job, 0));
                /* The first delay is JOB_RETRY_BASE with jitter: 1 to 2 s. The
                 * worker reads the clock for the due time, then again for
                 * the failure's time; a busy machine can stall it between
                 * the two, hence the slack below the lower bound. */
                if (attempts(job) == 1) {
                    cr_assert_geq(next - failed_at, RETRY_BASE_MS / 2 - CLOCK_SLACK_MS, "%s",
                                  json_dumps(job, 0));
                    cr_assert_leq(next - failed_at, RETRY_BASE_MS, "%s", json_dumps(job, 0));
                }
                cr_assert(wcsys_rows(&sys, cases[i].id) == 0);
            }
            wcsys_drop(&sys, job);
        }
        usleep(30 * 1000);
    }
    for (int i = 0; i < N; i++)
        cr_assert(cases[i].seen_retrying, "%s was never seen retrying", cases[i].path);

    for (int i = 0; i < N; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, cases[i].id, "finished,failed", 60000));
        cr_assert_str_eq(wcsys_status(job), "failed", "%s", json_dumps(job, 0));
        cr_assert_eq(attempts(job), 3, "%s", json_dumps(job, 0));
        cr_assert_str_eq(error_field(job, "code"), cases[i].code);
        json_t *errors = json_object_get(job, "errors"), *e;
        cr_assert_eq(json_array_size(errors), 3, "every attempt's error: %s", json_dumps(job, 0));
        size_t k;
        long long prev = 0;
        json_array_foreach(errors, k, e) {
            cr_assert_eq(json_integer_value(json_object_get(e, "attempt")), (json_int_t)k + 1);
            cr_assert_str_eq(json_string_value(json_object_get(e, "code")), cases[i].code);
            cr_assert(json_string_length(json_object_get(e, "message")) > 0);
            long long at = wcsys_time_ms(json_string_value(json_object_get(e, "at")));
            /* Exponential: at least half of 2 s, then of 4 s, between attempts. */
            if (k > 0)
                cr_assert_geq(at - prev, ((RETRY_BASE_MS / 2LL) << (k - 1)) - CLOCK_SLACK_MS, "%s",
                              json_dumps(job, 0));
            prev = at;
        }
    }
}

Test(retry, transient_failure_then_success) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    char *id = wcsys_keep(
        &sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/flaky/2/then-ok", url, sizeof url)));
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, id, "finished,failed", 60000));
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    cr_assert_eq(attempts(job), 3);
    cr_assert_eq(json_array_size(json_object_get(job, "errors")), 2, "the failed attempts stay");
    cr_assert_eq(wcsys_rows(&sys, id), 1);
}

Test(retry, permanent_failures_fail_at_once) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "<p>", 3);
    for (size_t i = 8; i < sizeof big - 1; i += 8) big[i] = ' ';
    wcsys_write_page(&sys, "big.html", big);
    wcsys_write_page(&sys, "doc.pdf", "%PDF-1.4 not a page");
    struct {
        const char *path, *code;
        char *id;
    } cases[] = {
        {"/status/404", "http_404", NULL},
        {"/status/410", "http_410", NULL},
        {"/doc.pdf", "unsupported_type", NULL},
        {"/big.html", "too_large", NULL},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    char url[160];
    for (int i = 0; i < N; i++)
        cases[i].id = wcsys_keep(
            &sys, wcsys_submit(&sys, wcsys_page_url(&sys, cases[i].path, url, sizeof url)));
    for (int i = 0; i < N; i++) {
        json_t *job = wcsys_keep_json(
            &sys, wcsys_wait_status(&sys, cases[i].id, "finished,failed,retrying", 30000));
        cr_assert_str_eq(wcsys_status(job), "failed", "%s: %s", cases[i].path, json_dumps(job, 0));
        cr_assert_eq(attempts(job), 1);
        cr_assert_str_eq(error_field(job, "code"), cases[i].code);
        cr_assert(strlen(error_field(job, "message")) > 0);
        cr_assert_eq(json_array_size(json_object_get(job, "errors")), 1);
        cr_assert_eq(wcsys_rows(&sys, cases[i].id), 0);
    }
}

Test(retry, blocked_address_fails_at_once) {
    wcsys_env(&sys, "FETCH_ALLOW_PRIVATE", "false");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    wcsys_write_page(&sys, "a.html", "<p>words</p>");
    char url[160];
    char *id =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/a.html", url, sizeof url)));
    json_t *job =
        wcsys_keep_json(&sys, wcsys_wait_status(&sys, id, "finished,failed,retrying", 30000));
    cr_assert_str_eq(wcsys_status(job), "failed", "%s", json_dumps(job, 0));
    cr_assert_eq(attempts(job), 1);
    cr_assert_str_eq(error_field(job, "code"), "blocked_address");
    cr_assert(strstr(error_field(job, "message"), "FETCH_ALLOW_PRIVATE"), "%s",
              error_field(job, "message"));
}

Test(retry, job_timeout_bounds_the_whole_run) {
    /* The page keeps sending for 20 s and the fetch may take 30 s: only
     * JOB_TIMEOUT can end the attempts early. */
    wcsys_env(&sys, "JOB_TIMEOUT", "1500ms");
    wcsys_env(&sys, "FETCH_TIMEOUT", "30s");
    wcsys_env(&sys, "JOB_MAX_ATTEMPTS", "2");
    wcsys_env(&sys, "JOB_RETRY_BASE", "100ms");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    long long t0 = wcsys_now_ms();
    char *id =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/drip/20000", url, sizeof url)));
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, id, "finished,failed", 30000));
    long long took = wcsys_now_ms() - t0;
    cr_assert_str_eq(wcsys_status(job), "failed", "%s", json_dumps(job, 0));
    cr_assert_str_eq(error_field(job, "code"), "timeout");
    cr_assert(strstr(error_field(job, "message"), "JOB_TIMEOUT"), "%s",
              error_field(job, "message"));
    cr_assert_eq(attempts(job), 2);
    cr_assert_eq(json_array_size(json_object_get(job, "errors")), 2);
    cr_assert_lt(took, 20000, "two attempts took %lld ms: JOB_TIMEOUT did not end them", took);
}
