/* The route table matcher. */
#include <criterion/criterion.h>
#include <string.h>

#include "web/router.h"

static void
h_a(struct req *r) {
    (void)r;
}
static void
h_b(struct req *r) {
    (void)r;
}
static void
h_c(struct req *r) {
    (void)r;
}

static const struct route routes[] = {
    {"POST", "/api/v1/jobs", h_a},
    {"GET", "/api/v1/jobs/{id}", h_b},
    {"DELETE", "/api/v1/jobs/{id}", h_c},
    {"GET", "/api/v1/jobs/{id}/result", h_c},
};
#define N (sizeof routes / sizeof routes[0])

Test(router, matches_and_captures) {
    struct router_match m;
    router_match(routes, N, "GET", "/api/v1/jobs/abc-123", &m);
    cr_assert_eq(m.status, 0);
    cr_assert_eq(m.route->handler, h_b);
    cr_assert_eq(m.nparams, 1);
    cr_assert_str_eq(m.params[0], "abc-123");
    router_match(routes, N, "GET", "/api/v1/jobs/x/result", &m);
    cr_assert_eq(m.status, 0);
    cr_assert_eq(m.route->handler, h_c);
    cr_assert_str_eq(m.params[0], "x");
    router_match(routes, N, "HEAD", "/api/v1/jobs/x", &m);
    cr_assert_eq(m.status, 0, "HEAD is answered by GET routes");
    cr_assert_eq(m.route->handler, h_b);
}

Test(router, not_found) {
    const char *paths[] = {"/",
                           "/api/v1/jobs/",
                           "/api/v1/jobs//result",
                           "/api/v1/jobs/x/result/",
                           "/api/v1/jobsx",
                           "/api/v1/job",
                           "/API/v1/jobs",
                           ""};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct router_match m;
        router_match(routes, N, "GET", paths[i], &m);
        cr_expect_eq(m.status, 404, "%s -> %d", paths[i], m.status);
    }
}

Test(router, method_not_allowed_lists_allow) {
    struct router_match m;
    router_match(routes, N, "PUT", "/api/v1/jobs/abc", &m);
    cr_assert_eq(m.status, 405);
    cr_assert_str_eq(m.allow, "GET, HEAD, DELETE");
    router_match(routes, N, "GET", "/api/v1/jobs", &m);
    cr_assert_eq(m.status, 405);
    cr_assert_str_eq(m.allow, "POST");
}

Test(router, long_parameter_rejected) {
    char path[512] = "/api/v1/jobs/";
    memset(path + strlen(path), 'a', ROUTER_PARAM_MAX + 1);
    struct router_match m;
    router_match(routes, N, "GET", path, &m);
    cr_assert_eq(m.status, 404);
}
