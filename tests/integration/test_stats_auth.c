/* Who may read the statistics (GET /api/v1/stats, GET /metrics): anyone
 * in development and testing; outside them the ADMIN_TOKEN or the
 * read-only METRICS_TOKEN (which opens nothing else), 403 when neither is
 * set, and anyone again with STATS_PUBLIC=1. The real web server, each
 * mode a fresh start. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/lib/http_client.h"
#include "tests/lib/wcsys.h"

#define ADMIN "Authorization: Bearer admin-t0ken-123"
#define METRICS "Authorization: Bearer metrics-t0ken-456"

static struct wcsys sys;

static void
start(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "HOST", "127.0.0.1");
    wcsys_env(&sys, "WEB_CONCURRENCY", "1");
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(stats_auth, .init = start, .fini = stop, .timeout = 120);

/* get returns the status of GET path with the header auth (may be NULL),
 * and copies the answer's WWW-Authenticate into challenge when asked. */
static long
get(const char *path, const char *auth, char *challenge, size_t n) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", sys.base, path);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, auth, &r), 0, "GET %s", url);
    long status = r.status;
    if (challenge && http_header(&r, "WWW-Authenticate", challenge, n) < 0) challenge[0] = '\0';
    http_response_free(&r);
    return status;
}

static void
expect_both(const char *auth, long want, const char *why) {
    cr_assert_eq(get("/api/v1/stats", auth, NULL, 0), want, "/api/v1/stats %s", why);
    cr_assert_eq(get("/metrics", auth, NULL, 0), want, "/metrics %s", why);
}

Test(stats_auth, open_in_testing_and_development) {
    wcsys_start_web(&sys);
    expect_both(NULL, 200, "in testing");
    wcsys_env(&sys, "APP_ENV", "development");
    wcsys_start_web(&sys);
    expect_both(NULL, 200, "in development");
}

Test(stats_auth, production_without_tokens_refuses) {
    wcsys_env(&sys, "APP_ENV", "production");
    wcsys_start_web(&sys);
    long status;
    json_t *v = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    cr_assert_eq(status, 403);
    const char *detail = json_string_value(json_object_get(v, "detail"));
    cr_assert(detail && strstr(detail, "METRICS_TOKEN") && strstr(detail, "STATS_PUBLIC"), "%s",
              detail);
    expect_both(ADMIN, 403, "with a token nobody configured");
    /* The liveness and readiness probes stay open. */
    cr_assert_eq(get("/healthz", NULL, NULL, 0), 200);
    cr_assert_eq(get("/dashboard", NULL, NULL, 0), 200, "the page holds no figures itself");
}

Test(stats_auth, production_needs_the_admin_or_metrics_token) {
    wcsys_env(&sys, "APP_ENV", "production");
    wcsys_env(&sys, "ADMIN_TOKEN", "admin-t0ken-123");
    wcsys_env(&sys, "METRICS_TOKEN", "metrics-t0ken-456");
    wcsys_start_web(&sys);
    char challenge[128];
    cr_assert_eq(get("/metrics", NULL, challenge, sizeof challenge), 401);
    cr_assert(strstr(challenge, "Bearer"), "WWW-Authenticate: %s", challenge);
    expect_both(NULL, 401, "without a token");
    expect_both("Authorization: Bearer wrong", 401, "with a wrong token");
    expect_both("Authorization: Bearer metrics-t0ken-45", 401, "with a token's prefix");
    expect_both("Authorization: Bearer metrics-t0ken-4567", 401, "with a longer token");
    expect_both("Authorization: Basic bWV0cmljcy10MGtlbi00NTY=", 401, "with Basic");
    expect_both(METRICS, 200, "with METRICS_TOKEN");
    expect_both(ADMIN, 200, "with ADMIN_TOKEN");
    /* The metrics token is read-only: the admin API does not take it. */
    cr_assert_eq(get("/api/v1/admin/failed", METRICS, NULL, 0), 401);
    cr_assert_eq(get("/api/v1/admin/failed", ADMIN, NULL, 0), 200);
    /* Each refusal is logged once, without the token. */
    cr_assert(wcsys_log_find(sys.web_log, "msg=\"request refused\"", "realm=wordcount-metrics",
                             5000, NULL, 0));
    cr_assert_eq(wcsys_log_count(sys.web_log, "wrong", "metrics-t0ken"), 0);
}

Test(stats_auth, metrics_token_alone_and_staging) {
    wcsys_env(&sys, "APP_ENV", "staging");
    wcsys_env(&sys, "METRICS_TOKEN", "metrics-t0ken-456");
    wcsys_start_web(&sys);
    expect_both(NULL, 401, "in staging without a token");
    expect_both(METRICS, 200, "in staging with METRICS_TOKEN");
    /* No ADMIN_TOKEN: the admin API stays disabled, whatever is sent. */
    cr_assert_eq(get("/api/v1/admin/failed", METRICS, NULL, 0), 403);
}

Test(stats_auth, stats_public_opts_out) {
    wcsys_env(&sys, "APP_ENV", "production");
    wcsys_env(&sys, "ADMIN_TOKEN", "admin-t0ken-123");
    wcsys_env(&sys, "STATS_PUBLIC", "1");
    wcsys_start_web(&sys);
    expect_both(NULL, 200, "with STATS_PUBLIC=1");
    cr_assert_eq(get("/api/v1/admin/failed", NULL, NULL, 0), 401, "admin stays closed");
}
