/* End to end: the real wordcount-migrate, wordcount-web and wordcount-worker
 * binaries against real Redis and Postgres (tests/run.sh) and a loopback
 * page server. Pages are generated here, so every count is known by
 * construction. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/page_server.h"
#include "tests/lib/proc.h"
#include "tests/lib/testdb.h"
#include "tests/lib/wcsys.h"

#define NPAGES 24

/* One suite-wide timeout: a per-test .timeout leaks 48 bytes in
 * Criterion's runner, which LeakSanitizer reports. */
TestSuite(e2e, .timeout = 180);

/* The system under test (tests/lib/wcsys.h): its folder, page server,
 * database, key prefix, logs and programs. */
static struct wcsys sys;

/* Page i: "alpha" i times (the first capitalised), "beta" in two adjacent
 * blocks, three "the", one "and", one "don't", one "café" (as an entity),
 * a number, and script/style/noscript text that must not count. Words:
 * i + 8 in all, 6 unique; without stop words: i + 3, 3 unique. */
static void
write_page(int i) {
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                       "<style>body { color: red } stylewordnotcounted</style>"
                       "<script>var scriptwordnotcounted = 1;</script></head><body>"
                       "<noscript>noscriptwordnotcounted</noscript><h1>Alpha</h1><p>");
    for (int k = 1; k < i; k++) buf_append_str(&b, "alpha ");
    buf_append_str(&b, "</p><div>beta</div><div>beta</div><p>The the THE and don't caf&eacute; 42 "
                       "&amp;</p></body></html>\n");
    char path[256];
    snprintf(path, sizeof path, "page-%d.html", i);
    wcsys_write_page(&sys, path, b.data);
    buf_free(&b);
}

static void
start_system(void) {
    wcsys_init(&sys, NULL);
    for (int i = 1; i <= NPAGES; i++) write_page(i);
    wcsys_write_page(&sys, "plain.txt", "one two two three three three\n");
    /* The hand-counted fixture pages (tests/fixtures/expected.json). */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/tests/fixtures/pages/* '%s/'", WC_SRCDIR, sys.pages_dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);

    /* The address check stays on, as in production: only the page
     * server's own address and port are let through. The times are the
     * programs' defaults but for the fetch timeout. */
    char allow[64];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", page_server_port(sys.pages));
    wcsys_default_times(&sys);
    wcsys_env(&sys, "FETCH_ALLOW_PRIVATE", "false");
    wcsys_env(&sys, "FETCH_ALLOW_ADDRESSES", allow);
    wcsys_env(&sys, "FETCH_TIMEOUT", "5s");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
}

static void
stop_system(void) {
    wcsys_free(&sys); /* SIGTERM first, then SIGKILL after the wait */
}

static json_t *
get_json(const char *path, long *status) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", sys.base, path);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0, "GET %s failed", url);
    *status = r.status;
    json_error_t je;
    json_t *v = json_loads(r.body.data, 0, &je);
    cr_assert_not_null(v, "GET %s: not JSON: %s", path, r.body.data);
    http_response_free(&r);
    return v;
}

/* submit posts url as JSON or as a form and returns the new job id. */
static char *
submit(const char *page_url, bool as_form) {
    char url[512], body[1024];
    snprintf(url, sizeof url, "%s/api/v1/jobs", sys.base);
    if (as_form) snprintf(body, sizeof body, "url=%s", page_url);
    else snprintf(body, sizeof body, "{\"url\": \"%s\"}", page_url);
    struct http_response r;
    cr_assert_eq(http_request("POST", url,
                              as_form ? "application/x-www-form-urlencoded" : "application/json",
                              body, NULL, &r),
                 0);
    cr_assert_eq(r.status, 202, "POST %s: %ld %s", body, r.status, r.body.data);
    json_t *v = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(v);
    cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "queued");
    cr_assert_str_eq(json_string_value(json_object_get(v, "url")), page_url);
    char *id = xstrdup(json_string_value(json_object_get(v, "id")));
    char loc[256], want[256];
    cr_assert_eq(http_header(&r, "Location", loc, sizeof loc), 0, "no Location header");
    snprintf(want, sizeof want, "/api/v1/jobs/%s", id);
    cr_assert_str_eq(loc, want);
    json_decref(v);
    http_response_free(&r);
    return id;
}

/* wait_done polls a job until it ends and returns its final JSON. */
static json_t *
wait_done(const char *id, int timeout_ms) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        long status;
        json_t *v = get_json(path, &status);
        cr_assert_eq(status, 200, "GET %s: %ld", path, status);
        const char *st = json_string_value(json_object_get(v, "status"));
        cr_assert_not_null(st);
        if (!strcmp(st, "finished") || !strcmp(st, "failed")) return v;
        json_decref(v);
        usleep(100 * 1000);
    }
    cr_assert_fail("job %s did not end within %d ms; see %s", id, timeout_ms, sys.worker_logs[0]);
    return NULL;
}

static json_int_t
count_of(json_t *counts, const char *word) {
    json_t *v = json_object_get(counts, word);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

Test(e2e, submit_poll_and_count, .init = start_system, .fini = stop_system) {
    char *ids[NPAGES + 2];
    char url[256];
    int port = page_server_port(sys.pages);
    for (int i = 1; i <= NPAGES; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/page-%d.html", port, i);
        ids[i - 1] = submit(url, i % 2 == 0);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/plain.txt", port);
    ids[NPAGES] = submit(url, false);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/status/404", port);
    ids[NPAGES + 1] = submit(url, false);

    for (int i = 1; i <= NPAGES; i++) {
        json_t *job = wait_done(ids[i - 1], 30000);
        cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "finished",
                         "page %d: %s", i, json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1);
        json_t *summary = json_object_get(job, "result");
        cr_assert_eq(json_integer_value(json_object_get(summary, "total_words")), i + 8,
                     "the finished job carries its summary: %s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(summary, "unique_words")), 6);
        cr_assert_eq(json_array_size(json_object_get(summary, "top")), 3);
        json_decref(job);

        char path[256];
        snprintf(path, sizeof path, "/api/v1/jobs/%s/result?top=5", ids[i - 1]);
        long status;
        json_t *res = get_json(path, &status);
        cr_assert_eq(status, 200, "%s: %ld", path, status);
        cr_assert_eq(json_integer_value(json_object_get(res, "total_words")), i + 8, "page %d", i);
        cr_assert_eq(json_integer_value(json_object_get(res, "unique_words")), 6, "page %d", i);
        json_t *all = json_object_get(res, "counts");
        json_t *nostop = json_object_get(res, "counts_no_stop_words");
        cr_assert(json_is_object(all) && json_is_object(nostop));
        cr_assert_eq(count_of(all, "alpha"), i);
        cr_assert_eq(count_of(all, "beta"), 2, "adjacent blocks must not glue");
        cr_assert_eq(count_of(all, "the"), 3, "case folded");
        cr_assert_eq(count_of(all, "and"), 1);
        cr_assert_eq(count_of(all, "don't"), 1);
        cr_assert_eq(count_of(all, "café"), 1, "entity decoded");
        cr_assert_eq(count_of(all, "betabeta"), 0);
        cr_assert_eq(count_of(all, "scriptwordnotcounted"), 0);
        cr_assert_eq(count_of(all, "stylewordnotcounted"), 0);
        cr_assert_eq(count_of(all, "noscriptwordnotcounted"), 0);
        cr_assert_eq(count_of(all, "42"), 0);
        cr_assert_eq(json_object_size(nostop), 3, "page %d: %s", i, json_dumps(nostop, 0));
        cr_assert_eq(count_of(nostop, "the"), 0);
        cr_assert_eq(count_of(nostop, "don't"), 0);
        cr_assert_eq(count_of(nostop, "alpha"), i);

        /* top: count descending, ties by word. */
        json_t *top = json_object_get(res, "top");
        cr_assert_eq(json_array_size(top), 3);
        const char *first = json_string_value(json_object_get(json_array_get(top, 0), "word"));
        const char *expect_first = i >= 2 ? "alpha" : "beta";
        cr_assert_str_eq(first, expect_first, "page %d", i);
        json_decref(res);
    }

    json_t *plain = wait_done(ids[NPAGES], 30000);
    cr_assert_str_eq(json_string_value(json_object_get(plain, "status")), "finished");
    json_decref(plain);
    char path[256];
    long status;
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", ids[NPAGES]);
    json_t *res = get_json(path, &status);
    cr_assert_eq(json_integer_value(json_object_get(res, "total_words")), 6);
    cr_assert_eq(count_of(json_object_get(res, "counts"), "three"), 3);
    json_decref(res);

    json_t *failed = wait_done(ids[NPAGES + 1], 30000);
    cr_assert_str_eq(json_string_value(json_object_get(failed, "status")), "failed");
    json_t *err = json_object_get(failed, "error");
    cr_assert(json_is_object(err), "failed job has an error object: %s", json_dumps(failed, 0));
    cr_assert_str_eq(json_string_value(json_object_get(err, "code")), "http_404");
    cr_assert(json_string_length(json_object_get(err, "message")) > 0);
    json_decref(failed);

    /* The original app's route on a finished job: the top ten [word, count]
     * pairs without stop words. Page 5: alpha 5, beta 2, café 1. */
    snprintf(path, sizeof path, "/results/%s", ids[4]);
    json_t *pairs = get_json(path, &status);
    cr_assert_eq(status, 200);
    cr_assert(json_is_array(pairs) && json_array_size(pairs) == 3, "%s", json_dumps(pairs, 0));
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(pairs, 0), 0)), "alpha");
    cr_assert_eq(json_integer_value(json_array_get(json_array_get(pairs, 0), 1)), 5);
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(pairs, 1), 0)), "beta");
    json_decref(pairs);
    /* ... and on a failed one: 200 with the error, not 202 forever. */
    snprintf(path, sizeof path, "/results/%s", ids[NPAGES + 1]);
    json_t *ferr = get_json(path, &status);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ferr, "error"), "code")),
                     "http_404");
    json_decref(ferr);

    /* A job that has run cannot be canceled. */
    snprintf(url, sizeof url, "%s/api/v1/jobs/%s", sys.base, ids[0]);
    struct http_response del;
    cr_assert_eq(http_request("DELETE", url, NULL, NULL, NULL, &del), 0);
    cr_assert_eq(del.status, 409, "%s", del.body.data);
    http_response_free(&del);

    /* History by URL: page-3 submitted twice more, newest first, paged. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/page-3.html", port);
    char *again[2];
    for (int k = 0; k < 2; k++) {
        again[k] = submit(url, false);
        json_decref(wait_done(again[k], 30000));
    }
    snprintf(path, sizeof path,
             "/api/v1/results?url=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fpage-3.html&limit=2", port);
    json_t *page = get_json(path, &status);
    cr_assert_eq(status, 200, "%s", json_dumps(page, 0));
    json_t *items = json_object_get(page, "results");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "job_id")),
                     again[1]);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "job_id")),
                     again[0]);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, 0), "total_words")),
                 3 + 8);
    const char *cursor = json_string_value(json_object_get(page, "next_cursor"));
    cr_assert_not_null(cursor, "a third result remains");
    char path2[512];
    snprintf(path2, sizeof path2, "%s&cursor=%s", path, cursor);
    json_t *page2 = get_json(path2, &status);
    cr_assert_eq(status, 200);
    json_t *items2 = json_object_get(page2, "results");
    cr_assert_eq(json_array_size(items2), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items2, 0), "job_id")),
                     ids[2]);
    cr_assert(json_is_null(json_object_get(page2, "next_cursor")));
    json_decref(page2);
    json_decref(page);
    for (int k = 0; k < 2; k++) free(again[k]);

    /* The oracle: Postgres holds exactly one row per finished job. */
    char *rows = testdb_query_value(sys.db_url, "SELECT count(*) FROM results");
    cr_assert_str_eq(rows, "27");
    free(rows);
    char *distinct = testdb_query_value(sys.db_url, "SELECT count(DISTINCT job_id) FROM results");
    cr_assert_str_eq(distinct, "27");
    free(distinct);

    for (int i = 0; i < NPAGES + 2; i++) free(ids[i]);
}

Test(e2e, bad_requests_get_clear_errors, .init = start_system, .fini = stop_system) {
    struct {
        const char *ctype;
        const char *body;
        long status;
    } cases[] = {
        {"application/json", "{\"url\": ", 400},
        {"application/json", "[\"http://example.com/\"]", 400},
        {"application/json", "{}", 422},
        {"application/json", "{\"url\": 42}", 422},
        {"application/json", "{\"url\": \"ftp://example.com/file\"}", 422},
        {"application/json", "{\"url\": \"not a url\"}", 422},
        {"application/json", "{\"url\": \"http://\"}", 422},
        {"text/xml", "<url>http://example.com/</url>", 415},
    };
    char url[256];
    snprintf(url, sizeof url, "%s/api/v1/jobs", sys.base);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_response r;
        cr_assert_eq(http_request("POST", url, cases[i].ctype, cases[i].body, NULL, &r), 0);
        cr_assert_eq(r.status, cases[i].status, "%s -> %ld %s", cases[i].body, r.status,
                     r.body.data);
        char ct[128];
        cr_assert_eq(http_header(&r, "Content-Type", ct, sizeof ct), 0);
        cr_assert(strstr(ct, "application/problem+json"), "%s", ct);
        json_t *p = json_loads(r.body.data, 0, NULL);
        cr_assert_not_null(p, "problem body is JSON: %s", r.body.data);
        cr_assert_eq(json_integer_value(json_object_get(p, "status")), cases[i].status);
        cr_assert(json_string_length(json_object_get(p, "title")) > 0);
        cr_assert(json_string_length(json_object_get(p, "detail")) > 0);
        json_decref(p);
        http_response_free(&r);
    }
    long status;
    json_t *v = get_json("/api/v1/jobs/0192f3a1-7c2e-7abc-8def-0123456789ab", &status);
    cr_assert_eq(status, 404);
    json_decref(v);
    v = get_json("/healthz", &status);
    cr_assert_eq(status, 200);
    json_decref(v);

    /* Nothing was queued by the bad requests. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "redis-cli -u '%s' XLEN '%squeue'", sys.redis_url, sys.prefix);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char out[64] = "";
    cr_assert_not_null(fgets(out, sizeof out, f));
    pclose(f);
    cr_assert_eq(atoi(out), 0, "queue length %s", out);
}

Test(e2e, sigterm_stops_everything, .init = start_system, .fini = stop_system) {
    /* Remember the worker children, then stop both programs politely. */
    char line[8192];
    cr_assert(proc_wait_log(sys.worker_logs[0], "msg=\"worker started\" child=1", 10000, line,
                            sizeof line));
    int child1 = atoi(strstr(line, "pid=") + 4);
    cr_assert(proc_wait_log(sys.worker_logs[0], "msg=\"worker started\" child=0", 10000, line,
                            sizeof line));
    int child0 = atoi(strstr(line, "pid=") + 4);
    cr_assert(proc_alive(child0) && proc_alive(child1));

    int st = proc_stop(sys.web_pid, SIGTERM, 10000);
    sys.web_pid = 0;
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "web exit status %d", st);
    st = proc_stop(sys.workers[0], SIGTERM, 20000);
    sys.workers[0] = 0;
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d", st);
    usleep(100 * 1000);
    cr_assert_not(proc_alive(child0), "worker child %d left behind", child0);
    cr_assert_not(proc_alive(child1), "worker child %d left behind", child1);
    cr_assert(proc_wait_log(sys.worker_logs[0], "msg=\"worker stopped\"", 1000, NULL, 0));
}

Test(e2e, killed_supervisor_leaves_no_workers, .init = start_system, .fini = stop_system) {
    char line[8192];
    cr_assert(proc_wait_log(sys.worker_logs[0], "msg=\"worker started\" child=0", 10000, line,
                            sizeof line));
    int child0 = atoi(strstr(line, "pid=") + 4);
    cr_assert(proc_wait_log(sys.worker_logs[0], "msg=\"worker started\" child=1", 10000, line,
                            sizeof line));
    int child1 = atoi(strstr(line, "pid=") + 4);
    cr_assert(proc_alive(child0) && proc_alive(child1));
    /* SIGKILL gives the supervisor no chance to stop its children: the
     * kernel's parent-death signal must. */
    int st = proc_stop(sys.workers[0], SIGKILL, 5000);
    sys.workers[0] = 0;
    cr_assert(st != -1 && WIFSIGNALED(st));
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !proc_alive(child0) && !proc_alive(child1);
        if (!gone) usleep(100 * 1000);
    }
    cr_assert(gone, "worker processes %d, %d outlived their supervisor", child0, child1);
}

Test(e2e, fixture_pages_counted_by_hand, .init = start_system, .fini = stop_system) {
    json_error_t je;
    json_t *expected = json_load_file(WC_SRCDIR "/tests/fixtures/expected.json", 0, &je);
    cr_assert_not_null(expected, "expected.json: %s", je.text);
    const char *file;
    json_t *want;
    int port = page_server_port(sys.pages);
    json_object_foreach(expected, file, want) {
        char url[256], path[256];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", port, file);
        char *id = submit(url, false);
        json_t *job = wait_done(id, 30000);
        cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "finished", "%s: %s",
                         file, json_dumps(job, 0));
        json_decref(job);
        snprintf(path, sizeof path, "/api/v1/jobs/%s/result?top=100", id);
        long status;
        json_t *res = get_json(path, &status);
        cr_assert_eq(status, 200);
        const char *totals[] = {"total_words", "unique_words", "total_words_no_stop",
                                "unique_words_no_stop"};
        for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++)
            cr_expect_eq(json_integer_value(json_object_get(res, totals[i])),
                         json_integer_value(json_object_get(want, totals[i])), "%s: %s in %s", file,
                         totals[i], json_dumps(json_object_get(res, "counts"), 0));
        const char *word;
        json_t *n;
        json_object_foreach(json_object_get(want, "counts"), word, n)
            cr_expect_eq(count_of(json_object_get(res, "counts"), word), json_integer_value(n),
                         "%s: count of %s", file, word);
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(want, "absent"), i, w)
            cr_expect_eq(count_of(json_object_get(res, "counts"), json_string_value(w)), 0,
                         "%s: %s must not count", file, json_string_value(w));
        json_decref(res);
        free(id);
    }
    json_decref(expected);
}

/* Fetch metadata as stored: the final URL after a redirect, status,
 * content type, the charset used and the bytes (the file's size); and a
 * private address refused by the worker with the check on. */
Test(e2e, fetch_metadata_and_blocked_address, .init = start_system, .fini = stop_system) {
    int port = page_server_port(sys.pages);
    char url[256], final[256], path[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect?to=/latin1.html", port);
    snprintf(final, sizeof final, "http://127.0.0.1:%d/latin1.html", port);
    char *id = submit(url, false);
    json_t *job = wait_done(id, 30000);
    cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "finished", "%s",
                     json_dumps(job, 0));
    json_decref(job);
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", id);
    long status;
    json_t *res = get_json(path, &status);
    cr_assert_eq(status, 200);
    json_t *fetch = json_object_get(res, "fetch");
    cr_assert(json_is_object(fetch), "%s", json_dumps(res, 0));
    cr_expect_str_eq(json_string_value(json_object_get(fetch, "final_url")), final);
    cr_expect_eq(json_integer_value(json_object_get(fetch, "http_status")), 200);
    cr_expect_str_eq(json_string_value(json_object_get(fetch, "content_type")), "text/html");
    cr_expect_str_eq(json_string_value(json_object_get(fetch, "charset")), "windows-1252");
    struct stat st;
    cr_assert_eq(stat(WC_SRCDIR "/tests/fixtures/pages/latin1.html", &st), 0);
    cr_expect_eq(json_integer_value(json_object_get(fetch, "bytes")), st.st_size);
    cr_expect(json_is_integer(json_object_get(fetch, "ms")));
    cr_expect_eq(count_of(json_object_get(res, "counts"), "café"), 2);
    json_decref(res);
    /* the oracle: the row itself */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT final_url || ' ' || charset FROM results WHERE job_id = '%s'",
             id);
    char *row = testdb_query_value(sys.db_url, sql);
    char want[300];
    snprintf(want, sizeof want, "%s windows-1252", final);
    cr_expect_str_eq(row, want);
    free(row);
    free(id);

    /* the page server's own port, but through an IPv4-mapped IPv6
     * address: not on the allow-list, so refused at once */
    snprintf(url, sizeof url, "http://[::ffff:127.0.0.1]:%d/article.html", port);
    id = submit(url, false);
    job = wait_done(id, 30000);
    cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "failed", "%s",
                     json_dumps(job, 0));
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(job, "error"), "code")),
                     "blocked_address");
    cr_expect_eq(json_integer_value(json_object_get(job, "attempts")), 1, "not retried");
    json_decref(job);
    free(id);
}
