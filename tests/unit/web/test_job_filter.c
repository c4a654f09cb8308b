/* A job search's parameters (web/job_filter.h) and the choices the search
 * makes from them (common/job_search.h: the index, the cursor's form). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "common/job_search.h"
#include "web/job_filter.h"

static struct job_filter *jf;
static char err[512];

static void
setup(void) {
    jf = calloc(1, sizeof *jf);
    err[0] = '\0';
}

static void
teardown(void) {
    free(jf);
}

TestSuite(job_filter, .init = setup, .fini = teardown);

static int
parse(const char *query) {
    return job_filter_parse(query, false, 20, 100, jf, err, sizeof err);
}

Test(job_filter, nothing_is_every_job) {
    cr_assert_eq(parse(""), 0);
    cr_assert_eq(jf->limit, 20);
    cr_assert_null(jf->cursor);
    cr_assert_null(jf->f.url_key);
    cr_assert_null(jf->f.status);
    char host[256];
    cr_assert_eq(job_search_pick(&jf->f, host, sizeof host), JOB_SEARCH_BY_ALL);
}

Test(job_filter, each_filter_is_read_and_checked) {
    cr_assert_eq(parse("url=HTTP://Example.COM:80/a/../b%7e?q=1#frag&host=Beta.Test&"
                       "status=failed&error=http_404&limit=100&"
                       "batch=0192F3A1-7C2E-7ABC-8DEF-0123456789AB"),
                 0, "%s", err);
    cr_assert_str_eq(jf->f.url_key, "http://example.com/b~?q=1");
    cr_assert_null(jf->f.url_prefix);
    cr_assert_str_eq(jf->f.host, "beta.test");
    cr_assert_str_eq(jf->f.status, "failed");
    cr_assert_str_eq(jf->f.error, "http_404");
    cr_assert_str_eq(jf->f.batch, "0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_eq(jf->limit, 100);
    cr_assert_eq(jf->action, JOB_FILTER_NONE);
}

Test(job_filter, a_trailing_star_is_a_prefix_with_its_host_lower_cased) {
    cr_assert_eq(parse("url=HTTPS://Docs.Example.COM/Guide/*"), 0, "%s", err);
    cr_assert_str_eq(jf->f.url_prefix, "https://docs.example.com/Guide/");
    cr_assert_null(jf->f.url_key);
    char host[256];
    cr_assert_eq(job_search_pick(&jf->f, host, sizeof host), JOB_SEARCH_BY_HOST);
    cr_assert_str_eq(host, "docs.example.com");
    /* Without a whole host, no host index. */
    cr_assert_eq(parse("url=https://docs.exa*"), 0, "%s", err);
    cr_assert_str_eq(jf->f.url_prefix, "https://docs.exa");
    cr_assert_eq(job_search_pick(&jf->f, host, sizeof host), JOB_SEARCH_BY_ALL);
    cr_assert_eq(parse("url=https://Docs.Example.com:8443?x*"), 0, "%s", err);
    cr_assert_eq(job_search_pick(&jf->f, host, sizeof host), JOB_SEARCH_BY_HOST);
    cr_assert_str_eq(host, "docs.example.com");
}

Test(job_filter, the_most_selective_index_is_walked) {
    char host[256];
    struct job_search_filter f = {.host = "a.test", .status = "queued"};
    cr_assert_eq(job_search_pick(&f, host, sizeof host), JOB_SEARCH_BY_HOST);
    cr_assert_str_eq(host, "a.test");
    f.error = "timeout";
    cr_assert_eq(job_search_pick(&f, host, sizeof host), JOB_SEARCH_BY_ERROR);
    f.batch = "0192f3a1-7c2e-7abc-8def-0123456789ab";
    cr_assert_eq(job_search_pick(&f, host, sizeof host), JOB_SEARCH_BY_BATCH);
    f.url_key = "http://a.test/";
    cr_assert_eq(job_search_pick(&f, host, sizeof host), JOB_SEARCH_BY_URL);
    struct job_search_filter s = {.status = "failed"};
    cr_assert_eq(job_search_pick(&s, host, sizeof host), JOB_SEARCH_BY_ALL);
}

Test(job_filter, cursors_fit_their_index) {
    struct job_search_filter all = {0};
    struct job_search_filter batch = {.batch = "0192f3a1-7c2e-7abc-8def-0123456789ab"};
    struct job_search_filter page = {.batch = batch.batch, .url_key = "http://a.test/"};
    const char *id = "0192f3a1-7c2e-7abc-8def-0123456789ab";
    cr_assert(job_search_cursor_ok(&all, NULL));
    cr_assert(job_search_cursor_ok(&all, id));
    cr_assert_not(job_search_cursor_ok(&all, "12"));
    cr_assert_not(job_search_cursor_ok(&all, ""));
    cr_assert_not(job_search_cursor_ok(&all, "0192f3a1-7c2e-7abc-8def-0123456789a"));
    cr_assert(job_search_cursor_ok(&batch, "0"));
    cr_assert(job_search_cursor_ok(&batch, "10000000"));
    cr_assert_not(job_search_cursor_ok(&batch, "10000001"));
    cr_assert_not(job_search_cursor_ok(&batch, "-1"));
    cr_assert_not(job_search_cursor_ok(&batch, "1e3"));
    cr_assert_not(job_search_cursor_ok(&batch, id));
    cr_assert(job_search_cursor_ok(&page, id), "the page's index, not the batch's");
    cr_assert_eq(parse("cursor=0192F3A1-7C2E-7ABC-8DEF-0123456789AB"), 0, "%s", err);
    cr_assert_str_eq(jf->cursor, "0192F3A1-7C2E-7ABC-8DEF-0123456789AB");
}

struct bad_case {
    char query[96];
    char says[32]; /* a word the detail holds */
};

ParameterizedTestParameters(job_filter, refuses) {
    static struct bad_case cases[] = {
        {"colour=red", "unknown parameter 'colour'"},
        {"status=queued&colour", "unknown parameter 'colour'"},
        {"action=retry", "unknown parameter 'action'"},
        {"host=a.test&host=b.test", "twice"},
        {"status=done", "status must be"},
        {"status=", "status must be"},
        {"status=QUEUED", "status must be"},
        {"error=HTTP_404", "error must be"},
        {"error=a%20b", "error must be"},
        {"host=a.test:80", "without a port"},
        {"host=a/b", "without a port"},
        {"batch=12", "batch id"},
        {"url=*", "no filter"},
        {"url=ftp://a.test/", "url:"},
        {"url=", "url must be"},
        {"cursor=abc", "cursor"},
        {"cursor=", "cursor must be"},
        {"limit=0", "limit"},
        {"limit=101", "limit"},
        {"limit=1.5", "limit"},
        {"limit=", "limit"},
    };
    return cr_make_param_array(struct bad_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct bad_case *c, job_filter, refuses) {
    cr_assert_eq(parse(c->query), -1, "%s", c->query);
    cr_assert(strstr(err, c->says), "%s: %s", c->query, err);
}

Test(job_filter, bulk_needs_one_known_action) {
    cr_assert_eq(
        job_filter_parse("status=failed&action=retry", true, 100, 500, jf, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(jf->action, JOB_FILTER_RETRY);
    cr_assert_eq(jf->limit, 100);
    cr_assert_eq(job_filter_parse("action=cancel&limit=500", true, 100, 500, jf, err, sizeof err),
                 0);
    cr_assert_eq(jf->action, JOB_FILTER_CANCEL);
    cr_assert_eq(job_filter_parse("action=delete", true, 100, 500, jf, err, sizeof err), 0);
    cr_assert_eq(jf->action, JOB_FILTER_DELETE);
    cr_assert_eq(job_filter_parse("status=failed", true, 100, 500, jf, err, sizeof err), -1);
    cr_assert(strstr(err, "action is required"), "%s", err);
    cr_assert_eq(job_filter_parse("action=purge", true, 100, 500, jf, err, sizeof err), -1);
    cr_assert(strstr(err, "retry, cancel or delete"), "%s", err);
    cr_assert_eq(
        job_filter_parse("action=retry&action=delete", true, 100, 500, jf, err, sizeof err), -1);
    cr_assert_eq(job_filter_parse("action=retry&limit=501", true, 100, 500, jf, err, sizeof err),
                 -1);
}
