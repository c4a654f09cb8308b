/* Finding jobs (GET /api/v1/jobs) and acting on what a search finds
 * (POST /api/v1/admin/jobs/bulk) on the real web and worker programs:
 * each filter and their combinations, newest first, paging by cursor
 * with no duplicate and no gap, every bad parameter a 400 problem, the
 * jobs of a batch, expired jobs leaving the results (and their index
 * entries), and bulk cancel, retry and delete behind the admin token. */
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
    wcsys_env(&sys, "FETCH_ROBOTS", "ignore");
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(search, .init = start, .fini = stop, .timeout = 180);

static json_t *
call(const char *method, const char *path, const char *auth, long want) {
    long status;
    json_t *v = wcsys_http(&sys, method, path, auth, &status);
    cr_assert_eq(status, want, "%s %s: %ld %s", method, path, status, v ? json_dumps(v, 0) : "");
    return wcsys_keep_json(&sys, v);
}

static json_t *
jobs_of(json_t *page) {
    return json_object_get(page, "jobs");
}

static const char *
next_of(json_t *page) {
    return json_string_value(json_object_get(page, "next_cursor"));
}

static const char *
field(json_t *job, const char *name) {
    const char *s = json_string_value(json_object_get(job, name));
    return s ? s : "";
}

/* The ids a walk found, in order. */
enum { FOUND_MAX = 64 };
typedef char found_t[FOUND_MAX][40];

/* walk follows a search through every page (limit per page) and writes
 * the ids found, in order, to ids; returns how many. */
static size_t
walk(const char *query, int limit, found_t ids) {
    char path[1024], cursor[64] = "";
    size_t n = 0;
    for (int pages = 0; pages < 1000; pages++) {
        snprintf(path, sizeof path, "/api/v1/jobs?%s%slimit=%d%s%s", query, *query ? "&" : "",
                 limit, *cursor ? "&cursor=" : "", cursor);
        long status;
        json_t *page = wcsys_http(&sys, "GET", path, NULL, &status);
        cr_assert_eq(status, 200, "%s: %ld", path, status);
        cr_assert_leq(json_array_size(jobs_of(page)), (size_t)limit);
        size_t i;
        json_t *j;
        json_array_foreach(jobs_of(page), i, j) {
            cr_assert_lt(n, FOUND_MAX, "more jobs than expected for %s", query);
            snprintf(ids[n++], sizeof ids[0], "%s", field(j, "id"));
        }
        const char *next = next_of(page);
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(page);
        if (!*cursor) return n;
    }
    cr_assert_fail("%s: no end after 1000 pages", query);
    return n;
}

/* bad asserts that GET path is a 400 problem+json that says something. */
static void
bad(const char *path) {
    char url[1024], ctype[128];
    snprintf(url, sizeof url, "%s%s", sys.base, path);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0, "%s", path);
    cr_assert_eq(r.status, 400, "%s: %ld %s", path, r.status, r.body.data);
    cr_assert_eq(http_header(&r, "Content-Type", ctype, sizeof ctype), 0);
    cr_assert(strstr(ctype, "application/problem+json"), "%s: %s", path, ctype);
    json_t *v = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(v, "%s", r.body.data);
    cr_assert_gt(strlen(field(v, "detail")), 10, "%s: %s", path, r.body.data);
    json_decref(v);
    http_response_free(&r);
}

static char *
submit(const char *url) {
    return wcsys_keep(&sys, wcsys_submit(&sys, url));
}

/* The jobs of the tests without a worker: 3 hosts, N pages each. */
enum { HOSTS = 3, PER = 8, ALL = HOSTS * PER };
static const char *const hosts[HOSTS] = {"alpha.test", "beta.test", "gamma.test"};

/* submit_all submits page i of host h as ids[h * PER + i], oldest first,
 * every other one under /docs/. */
static void
submit_all(char *ids[ALL]) {
    char url[256];
    for (int i = 0; i < PER; i++) {
        for (int h = 0; h < HOSTS; h++) {
            snprintf(url, sizeof url, "http://%s/%s%d.html", hosts[h], i % 2 ? "docs/" : "", i);
            ids[h * PER + i] = submit(url);
        }
    }
}

/* index_of is the position of id in ids, or -1. */
static int
index_of(char *const *ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id)) return (int)i;
    return -1;
}

/* found_at is the position of id in a walk's ids, or -1. */
static int
found_at(found_t found, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(found[i], id)) return (int)i;
    return -1;
}

Test(search, each_filter_newest_first_paged_without_gaps) {
    wcsys_start_web_ready(&sys);
    char *ids[ALL];
    submit_all(ids);

    /* No filter, every page size: each job once, newest first. */
    found_t found;
    for (int limit = 1; limit <= 10; limit += 3) {
        size_t n = walk("", limit, found);
        cr_assert_eq(n, ALL, "limit %d: %zu", limit, n);
        for (size_t i = 1; i < n; i++)
            cr_assert_gt(strcmp(found[i - 1], found[i]), 0, "newest first at %zu", i);
        for (int j = 0; j < ALL; j++)
            cr_assert_geq(found_at(found, n, ids[j]), 0, "job %d found", j);
    }

    /* host=: only that host's, newest first. */
    size_t n = walk("host=BETA.test", 3, found);
    cr_assert_eq(n, PER);
    for (int i = 0; i < PER; i++) cr_assert_str_eq(found[i], ids[PER + PER - 1 - i]);

    /* url= exact, in another spelling; and a prefix (a whole host: its index). */
    n = walk("url=HTTP://Gamma.TEST:80/docs/./3.html#x", 5, found);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(found[0], ids[2 * PER + 3]);
    n = walk("url=http://alpha.test/docs/*", 2, found);
    cr_assert_eq(n, PER / 2);
    for (size_t i = 0; i < n; i++) {
        int at = index_of(ids, ALL, found[i]);
        cr_assert(at >= 0 && at < PER && at % 2 == 1, "%s", found[i]);
    }
    /* A prefix without a whole host walks every job. */
    n = walk("url=http://gam*", 4, found);
    cr_assert_eq(n, PER);

    /* status=: queued (all of them, no worker runs), finished (none). */
    n = walk("status=queued", 10, found);
    cr_assert_eq(n, ALL);
    json_t *page = call("GET", "/api/v1/jobs?status=finished", NULL, 200);
    cr_assert_eq(json_array_size(jobs_of(page)), 0);
    cr_assert_null(next_of(page), "the end of the index");

    /* Combinations. */
    n = walk("host=alpha.test&status=queued&url=http://alpha.test/docs/*", 3, found);
    cr_assert_eq(n, PER / 2);
    n = walk("host=alpha.test&url=http://beta.test/*", 3, found);
    cr_assert_eq(n, 0, "filters combine");

    /* The job as GET /api/v1/jobs/{id} shows it. */
    page = call("GET", "/api/v1/jobs?limit=1", NULL, 200);
    json_t *job = json_array_get(jobs_of(page), 0);
    cr_assert_str_eq(field(job, "id"), ids[ALL - 1]);
    cr_assert_str_eq(field(job, "status"), "queued");
    cr_assert_str_eq(field(job, "url"), "http://gamma.test/docs/7.html");
    cr_assert_str_eq(field(job, "normalized_url"), "http://gamma.test/docs/7.html");
    cr_assert_eq(json_integer_value(json_object_get(page, "limit")), 1);
}

Test(search, bad_parameters_are_400_problems) {
    wcsys_start_web_ready(&sys);
    bad("/api/v1/jobs?status=done");
    bad("/api/v1/jobs?status=");
    bad("/api/v1/jobs?cursor=zzz");
    bad("/api/v1/jobs?cursor=12");
    bad("/api/v1/jobs?batch=0192f3a1-7c2e-7abc-8def-0123456789ab&cursor=not-a-count");
    bad("/api/v1/jobs?limit=0");
    bad("/api/v1/jobs?limit=101");
    bad("/api/v1/jobs?limit=ten");
    bad("/api/v1/jobs?colour=red");
    bad("/api/v1/jobs?host=a.test&host=b.test");
    bad("/api/v1/jobs?host=a.test:8080");
    bad("/api/v1/jobs?url=ftp://a.test/");
    bad("/api/v1/jobs?url=*");
    bad("/api/v1/jobs?error=HTTP%20404");
    bad("/api/v1/jobs?batch=nope");
    bad("/api/v1/jobs?action=retry");
    /* A filter no job matches is an empty page, not an error. */
    json_t *page = call("GET", "/api/v1/jobs?error=http_404&host=nowhere.test", NULL, 200);
    cr_assert_eq(json_array_size(jobs_of(page)), 0);
    cr_assert_null(next_of(page));
}

Test(search, batch_jobs_and_bulk_cancel_and_expiry) {
    wcsys_env(&sys, "RESULT_TTL", "1s");
    wcsys_start_web_ready(&sys);
    char *ids[ALL];
    submit_all(ids);
    char body[1024] = "";
    for (int i = 0; i < 12; i++) {
        char line[96];
        snprintf(line, sizeof line, "http://delta.test/b%d.html\n", i);
        strcat(body, line);
    }
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/batches", sys.base);
    struct http_response r;
    cr_assert_eq(http_request("POST", url, "text/plain", body, NULL, &r), 0);
    cr_assert_eq(r.status, 202, "%s", r.body.data);
    json_t *b = wcsys_keep_json(&sys, json_loads(r.body.data, 0, NULL));
    http_response_free(&r);
    char q[128];
    snprintf(q, sizeof q, "batch=%s", field(b, "id"));
    found_t found;
    size_t n = walk(q, 5, found);
    cr_assert_eq(n, 12, "the batch's jobs, paged by its own cursor");
    for (size_t i = 1; i < n; i++) cr_assert_gt(strcmp(found[i - 1], found[i]), 0);
    n = walk("host=delta.test", 5, found);
    cr_assert_eq(n, 12);

    /* Bulk cancel: refused without the token, then page by page. */
    call("POST", "/api/v1/admin/jobs/bulk?host=beta.test&action=cancel", NULL, 401);
    call("POST", "/api/v1/admin/jobs/bulk?host=beta.test&action=cancel",
         "Authorization: Bearer wrong", 401);
    json_t *v = call("POST", "/api/v1/admin/jobs/bulk?host=beta.test&action=explode", TOKEN, 400);
    v = call("POST", "/api/v1/admin/jobs/bulk?host=beta.test", TOKEN, 400);
    long done = 0;
    const char *cursor = NULL;
    char path[512];
    for (int calls = 0; calls < 10; calls++) {
        snprintf(path, sizeof path,
                 "/api/v1/admin/jobs/bulk?host=beta.test&action=cancel&limit=3%s%s",
                 cursor ? "&cursor=" : "", cursor ? cursor : "");
        v = call("POST", path, TOKEN, 200);
        cr_assert_str_eq(field(v, "action"), "cancel");
        done += (long)json_integer_value(json_object_get(v, "done"));
        cursor = next_of(v);
        if (!cursor) break;
    }
    cr_assert_eq(done, PER);
    for (int i = 0; i < PER; i++) {
        json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[PER + i]));
        cr_assert_str_eq(wcsys_status(job), "canceled");
    }
    json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[0]));
    cr_assert_str_eq(wcsys_status(job), "queued", "another host's job is untouched");

    /* The canceled jobs expire after RESULT_TTL: they leave the results,
     * and their entries leave the indexes as the search meets them. */
    long long deadline = wcsys_now_ms() + 60000;
    for (;;) {
        json_t *page = call("GET", "/api/v1/jobs?host=beta.test", NULL, 200);
        if (json_array_size(jobs_of(page)) == 0) break;
        cr_assert_lt(wcsys_now_ms(), deadline, "canceled jobs still found");
        usleep(100 * 1000);
    }
    redisReply *rr = redisCommand(wcsys_redis(&sys), "ZCARD %six:host:beta.test", sys.prefix);
    cr_assert(rr && rr->type == REDIS_REPLY_INTEGER);
    cr_assert_eq(rr->integer, 0, "expired entries dropped");
    freeReplyObject(rr);
    n = walk("", 10, found);
    cr_assert_eq(n, ALL - PER + 12, "the others stay");
}

Test(search, bulk_retry_and_delete_of_failed_jobs) {
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    enum { BAD = 4, GOOD = 2 };
    char url[160], path[512];
    char *bad_ids[BAD], *good_ids[GOOD];
    for (int i = 0; i < GOOD; i++) {
        snprintf(path, sizeof path, "good-%d.html", i);
        wcsys_write_page(&sys, path, "<p>fine words</p>");
        snprintf(path, sizeof path, "/good-%d.html", i);
        good_ids[i] = submit(wcsys_page_url(&sys, path, url, sizeof url));
    }
    for (int i = 0; i < BAD; i++) {
        snprintf(path, sizeof path, "/later-%d.html", i);
        bad_ids[i] = submit(wcsys_page_url(&sys, path, url, sizeof url));
    }
    for (int i = 0; i < BAD; i++) json_decref(wcsys_wait_status(&sys, bad_ids[i], "failed", 30000));
    for (int i = 0; i < GOOD; i++)
        json_decref(wcsys_wait_status(&sys, good_ids[i], "finished", 30000));

    found_t found;
    cr_assert_eq(walk("error=http_404", 3, found), BAD);
    cr_assert_eq(walk("status=failed", 3, found), BAD);
    cr_assert_eq(walk("status=finished", 3, found), GOOD);
    cr_assert_eq(walk("error=timeout", 3, found), 0);

    /* Refused without the token; then retry every failed job whose pages now exist. */
    call("POST", "/api/v1/admin/jobs/bulk?status=failed&action=retry", NULL, 401);
    for (int i = 0; i < BAD; i++) {
        snprintf(path, sizeof path, "later-%d.html", i);
        wcsys_write_page(&sys, path, "<p>here at last</p>");
    }
    json_t *v = call("POST", "/api/v1/admin/jobs/bulk?error=http_404&action=retry", TOKEN, 200);
    cr_assert_eq(json_integer_value(json_object_get(v, "matched")), BAD);
    cr_assert_eq(json_integer_value(json_object_get(v, "done")), BAD);
    cr_assert_null(next_of(v));
    for (int i = 0; i < BAD; i++) {
        json_t *job = wcsys_wait_status(&sys, bad_ids[i], "finished,failed", 30000);
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        json_decref(job);
        cr_assert_eq(wcsys_rows(&sys, bad_ids[i]), 1);
    }
    cr_assert_eq(walk("status=failed", 3, found), 0);
    cr_assert_eq(walk("status=finished", 5, found), BAD + GOOD);

    /* Two new failures, deleted in bulk; the finished jobs are skipped. */
    char *gone[2];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/status/%d", 404 + i * 6);
        gone[i] = submit(wcsys_page_url(&sys, path, url, sizeof url));
        json_decref(wcsys_wait_status(&sys, gone[i], "failed", 30000));
    }
    v = call("POST", "/api/v1/admin/jobs/bulk?action=delete&limit=500", TOKEN, 200);
    cr_assert_eq(json_integer_value(json_object_get(v, "matched")), BAD + GOOD + 2);
    cr_assert_eq(json_integer_value(json_object_get(v, "done")), 2);
    cr_assert_eq(json_integer_value(json_object_get(v, "skipped")), BAD + GOOD);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/api/v1/jobs/%s", gone[i]);
        call("GET", path, NULL, 404);
    }
    cr_assert_eq(walk("", 5, found), BAD + GOOD);
}

Test(search, guarded_as_the_statistics_outside_development) {
    wcsys_env(&sys, "STATS_PUBLIC", "0");
    wcsys_env(&sys, "METRICS_TOKEN", "read-only-t0ken");
    wcsys_start_web_ready(&sys);
    call("GET", "/api/v1/jobs", NULL, 401);
    call("GET", "/api/v1/jobs", "Authorization: Bearer wrong", 401);
    call("GET", "/api/v1/jobs", "Authorization: Bearer read-only-t0ken", 200);
    json_t *page = call("GET", "/api/v1/jobs?limit=5", TOKEN, 200);
    cr_assert_eq(json_array_size(jobs_of(page)), 0);
    /* The metrics token reads; it does not act. */
    call("POST", "/api/v1/admin/jobs/bulk?action=cancel", "Authorization: Bearer read-only-t0ken",
         401);
}
