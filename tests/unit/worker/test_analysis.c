/* The fetch policy end to end: analysis_start on a real libuv loop and
 * libcurl, against page servers on 127.0.0.1 (tests/lib/page_server).
 *
 * The address check is ON in every test here, as in production. Two page
 * servers run: "allowed", listed in FETCH_ALLOW_ADDRESSES as
 * 127.0.0.1:<its port>, and "other", not listed. Every spelling of a
 * private address aims at "other" (or at nothing), so a check that let
 * it through would fetch a real page there: the companion test shows the
 * loopback ones do when FETCH_ALLOW_PRIVATE is on. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/config.h"
#include "tests/lib/page_server.h"
#include "tests/lib/testenv.h"
#include "worker/analysis.h"
#include "worker/cpu_pool.h"
#include "worker/curl_uv.h"
#include "worker/stopwords.h"

#define PAGES WC_SRCDIR "/tests/fixtures/pages"

/* One suite-wide timeout: a per-test .timeout leaks in Criterion's
 * runner under LeakSanitizer. */
static void setup(void);
static void teardown(void);
TestSuite(analysis, .init = setup, .fini = teardown, .timeout = 60);

static uv_loop_t loop;
static curl_uv_t *cu;
static struct stopwords sw;
static struct config cfg;
static page_server_t *allowed, *other;
static int port_a, port_b;

/* What done_cb saw, copied out (the result dies with the callback). */
struct outcome {
    bool done;
    int status;
    char code[64];
    char error[512];
    bool transient;
    bool wait_for_memory;
    long http_status;
    char final_url[512];
    char redirect_url[512]; /* a redirect's next hop */
    int hops;               /* redirects fetch() followed */
    char content_type[128];
    char charset[64];
    size_t bytes;
    int fetch_ms;
    unsigned long long total, total_no_stop;
    json_t *counts; /* word -> count, all words */
};

static void
setup(void) {
    cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cu = curl_uv_new(&loop, 0);
    cr_assert_not_null(cu);
    char err[256];
    cr_assert_eq(
        stopwords_load(&sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err), 0,
        "%s", err);
    allowed = page_server_start(PAGES);
    other = page_server_start(PAGES);
    cr_assert(allowed && other);
    port_a = page_server_port(allowed);
    port_b = page_server_port(other);
    memset(&cfg, 0, sizeof cfg);
    cfg.fetch_max_bytes = 1 << 20;
    cfg.fetch_timeout_ms = 5000;
    cfg.fetch_connect_timeout_ms = 2000;
    cfg.fetch_max_redirects = 5;
    cfg.fetch_allow_private = false;
    cfg.fetch_user_agent = "wctest/9 probeagent";
    char allow[64];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port_a);
    cr_assert_eq(addr_allow_parse(allow, &cfg.fetch_allow_addresses, err, sizeof err), 0, "%s",
                 err);
}

static void
teardown(void) {
    bool closed = false;
    curl_uv_close(cu, testenv_on_closed, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
    page_server_stop(allowed);
    page_server_stop(other);
    stopwords_free(&sw);
    curl_global_cleanup();
}

static void
copy(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
}

static void
on_done(analysis_t *a, const struct analysis_result *r, void *arg) {
    struct outcome *o = arg;
    (void)a;
    o->done = true;
    o->status = r->status;
    copy(o->code, sizeof o->code, r->error_code);
    copy(o->error, sizeof o->error, r->error);
    o->transient = r->transient;
    o->wait_for_memory = r->wait_for_memory;
    o->http_status = r->http_status;
    copy(o->final_url, sizeof o->final_url, r->final_url);
    copy(o->redirect_url, sizeof o->redirect_url, r->redirect_url);
    copy(o->content_type, sizeof o->content_type, r->content_type);
    copy(o->charset, sizeof o->charset, r->charset);
    o->bytes = r->bytes;
    o->fetch_ms = r->fetch_ms;
    if (r->status == 0) {
        o->total = count_total(r->all);
        o->total_no_stop = count_total(r->no_stop);
        struct buf b;
        buf_init(&b);
        count_to_json(r->all, &b);
        o->counts = json_loads(b.data, 0, NULL);
        buf_free(&b);
    }
}

static void outcome_free(struct outcome *o);

/* fetch_hop runs one analysis of url (one request) to its end. */
static struct outcome
fetch_hop(const char *url) {
    struct outcome o = {0};
    analysis_t *a;
    int rc = analysis_start(cu, NULL, &cfg, &sw, NULL, NULL, url, NULL, NULL, on_done, &o, &a);
    cr_assert_eq(rc, 0, "analysis_start(%s) = %d", url, rc);
    while (!o.done) uv_run(&loop, UV_RUN_ONCE);
    return o;
}

/* fetch fetches url as a task does, minus the gate: an analysis ends at
 * a redirect, and the next hop is its own analysis, up to
 * FETCH_MAX_REDIRECTS of them (worker/task.c fails the job
 * too_many_redirects beyond; here the outcome stays "redirect"). */
static struct outcome
fetch(const char *url) {
    char hop[512];
    snprintf(hop, sizeof hop, "%s", url);
    for (int hops = 0;; hops++) {
        struct outcome o = fetch_hop(hop);
        o.hops = hops;
        if (o.status == 0 || strcmp(o.code, "redirect") != 0 || hops == cfg.fetch_max_redirects)
            return o;
        cr_assert(o.redirect_url[0], "%s: a redirect names its next hop", hop);
        cr_assert_not(o.transient);
        snprintf(hop, sizeof hop, "%s", o.redirect_url);
        outcome_free(&o);
    }
}

static long long
count_of(const struct outcome *o, const char *word) {
    json_t *v = json_object_get(o->counts, word);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void
outcome_free(struct outcome *o) {
    json_decref(o->counts);
    o->counts = NULL;
}

#define expect_failure(o, want_code)                                                               \
    cr_expect((o).status < 0 && !strcmp((o).code, want_code), "%s: got %s (%s), want %s", url,     \
              (o).status < 0 ? (o).code : "success", (o).error, want_code)

Test(analysis, fetches_and_records_metadata) {
    /* A relative redirect on the allowed server, then a page declared
     * Latin-1 by <meta>: café 2, crème, brûlée (and the title, menu,
     * which does not count). */
    char url[256], final[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect?to=/latin1.html", port_a);
    snprintf(final, sizeof final, "http://127.0.0.1:%d/latin1.html", port_a);
    struct outcome o = fetch(url);
    cr_assert_eq(o.status, 0, "%s: %s", o.code, o.error);
    cr_expect_str_eq(o.final_url, final, "final URL after the redirect");
    cr_expect_eq(o.http_status, 200);
    cr_expect_str_eq(o.content_type, "text/html");
    cr_expect_str_eq(o.charset, "windows-1252", "iso-8859-1 is read as windows-1252");
    struct stat st;
    cr_assert_eq(stat(PAGES "/latin1.html", &st), 0);
    cr_expect_eq(o.bytes, (size_t)st.st_size);
    cr_expect_geq(o.fetch_ms, 0);
    cr_expect_eq(o.total, 4, "the title (Menu) does not count");
    cr_expect_eq(count_of(&o, "café"), 2);
    cr_expect_eq(count_of(&o, "brûlée"), 1);
    outcome_free(&o);
}

/* One request per analysis: a redirect ends it with the Location
 * resolved against the URL fetched, and nothing else was read. */
Test(analysis, a_redirect_ends_the_analysis_with_its_next_hop) {
    char url[256], next[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect?to=d/../a%%20b.html%%3Fq=1", port_a);
    snprintf(next, sizeof next, "http://127.0.0.1:%d/a%%20b.html?q=1", port_a);
    struct outcome o = fetch_hop(url);
    expect_failure(o, "redirect");
    cr_expect_str_eq(o.redirect_url, next);
    cr_expect_eq(o.http_status, 302);
    cr_expect_not(o.transient);
    cr_expect_null(o.counts);
    outcome_free(&o);
    /* Absolute, to the other server: resolved as it is, not fetched. */
    cfg.fetch_allow_private = true;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect?to=http://127.0.0.1:%d/x", port_a,
             port_b);
    snprintf(next, sizeof next, "http://127.0.0.1:%d/x", port_b);
    uint64_t before = page_server_requests(other, NULL, 0);
    o = fetch_hop(url);
    expect_failure(o, "redirect");
    cr_expect_str_eq(o.redirect_url, next);
    cr_expect_eq(page_server_requests(other, NULL, 0), before, "the hop is the caller's");
    outcome_free(&o);
    /* The chain, hop by hop. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect-chain/3", port_a);
    o = fetch(url);
    cr_expect_eq(o.status, 0, "%s %s", o.code, o.error);
    cr_expect_eq(o.hops, 3);
    outcome_free(&o);
}

Test(analysis, plain_text_in_its_charset) {
    char url[256];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/plain-latin1.txt?ct=text/plain;%%20charset=ISO-8859-1", port_a);
    struct outcome o = fetch(url);
    cr_assert_eq(o.status, 0, "%s: %s", o.code, o.error);
    cr_expect_str_eq(o.content_type, "text/plain");
    cr_expect_str_eq(o.charset, "windows-1252");
    /* "Café crème, café! Menu du jour": 6 words, "du" is no stop word */
    cr_expect_eq(o.total, 6);
    cr_expect_eq(count_of(&o, "café"), 2);
    cr_expect_eq(count_of(&o, "crème"), 1);
    outcome_free(&o);
    /* what looks like <meta> in plain text is text, not a declaration */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/meta-in-plain.txt?ct=text/plain", port_a);
    o = fetch(url);
    cr_assert_eq(o.status, 0, "%s: %s", o.code, o.error);
    cr_expect_str_eq(o.charset, "utf-8");
    cr_expect_eq(count_of(&o, "café"), 1);
    cr_expect_eq(count_of(&o, "meta"), 1);
    outcome_free(&o);
}

Test(analysis, sends_user_agent_and_accept_encoding) {
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/headers", port_a);
    struct outcome o = fetch(url);
    cr_assert_eq(o.status, 0, "%s: %s", o.code, o.error);
    cr_expect_eq(count_of(&o, "probeagent"), 1, "FETCH_USER_AGENT is sent");
    cr_expect_eq(count_of(&o, "gzip"), 1, "Accept-Encoding lists what libcurl decodes");
    cr_expect_eq(count_of(&o, "deflate"), 1);
    outcome_free(&o);
}

/* expand copies tmpl with {A} and {B} replaced by the two ports. */
static void
expand(char *dst, size_t n, const char *tmpl) {
    size_t k = 0;
    for (const char *p = tmpl; *p && k + 8 < n; p++) {
        if (p[0] == '{' && (p[1] == 'A' || p[1] == 'B') && p[2] == '}') {
            k += (size_t)snprintf(dst + k, n - k, "%d", p[1] == 'A' ? port_a : port_b);
            p += 2;
        } else {
            dst[k++] = *p;
        }
    }
    dst[k] = '\0';
}

/* Parameters are copied to the test's process, so they hold arrays, not
 * pointers. */
struct blocked_case {
    char url[128]; /* {B}: the other server's port, {A}: the allowed one's */
    bool loopback; /* reaches the other server when the check is off */
};

ParameterizedTestParameters(analysis, every_private_form_is_blocked) {
    static struct blocked_case cases[] = {
        {"http://127.0.0.1:{B}/article.html", true},
        {"http://2130706433:{B}/article.html", true}, /* decimal */
        {"http://0177.0.0.1:{B}/article.html", true}, /* octal */
        {"http://0x7f.1:{B}/article.html", true},     /* hex, short */
        {"http://127.1:{B}/article.html", true},      /* short */
        {"http://0x7f000001:{B}/article.html", true}, /* hex */
        {"http://localhost:{B}/article.html", true},  /* a name for loopback */
        {"http://0.0.0.0:{B}/article.html", true},    /* reaches loopback on Linux */
        {"http://[::ffff:127.0.0.1]:{B}/article.html", true},
        /* the allowed port, but in another family: the allow-list is exact */
        {"http://[::ffff:127.0.0.1]:{A}/article.html", true},
        {"http://[::ffff:7f00:1]:{B}/article.html", true},
        {"http://[::1]:{B}/article.html", false},
        {"http://[::]:{B}/article.html", false},
        {"http://169.254.169.254:{B}/latest/meta-data/", false},
        {"http://100.64.0.1:{B}/", false},
        {"http://10.0.0.1:{B}/", false},
        {"http://172.16.0.1:{B}/", false},
        {"http://192.168.0.1:{B}/", false},
        {"http://224.0.0.1:{B}/", false},
        {"http://255.255.255.255:{B}/", false},
        {"http://[fd00::1]:{B}/", false},
        {"http://[::ffff:169.254.169.254]:{B}/", false},
        {"http://[64:ff9b::a9fe:a9fe]:{B}/", false},
        {"http://[2002:7f00:1::]:{B}/", false},
        /* from the allowed server, redirected to the other one */
        {"http://127.0.0.1:{A}/redirect?to=http://127.0.0.1:{B}/article.html", true},
        {"http://127.0.0.1:{A}/redirect?to=http://2130706433:{B}/article.html", true},
    };
    return cr_make_param_array(struct blocked_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct blocked_case *c, analysis, every_private_form_is_blocked) {
    char url[512];
    expand(url, sizeof url, c->url);
    struct outcome o = fetch(url);
    expect_failure(o, "blocked_address");
    cr_expect_not(o.transient, "%s: a blocked address is not retried", url);
    outcome_free(&o);
}

ParameterizedTestParameters(analysis, loopback_forms_reach_the_server_without_the_check) {
    static struct blocked_case cases[] = {
        {"http://2130706433:{B}/article.html", true},
        {"http://0177.0.0.1:{B}/article.html", true},
        {"http://0x7f.1:{B}/article.html", true},
        {"http://127.1:{B}/article.html", true},
        {"http://localhost:{B}/article.html", true},
        {"http://[::ffff:127.0.0.1]:{B}/article.html", true},
        {"http://127.0.0.1:{A}/redirect?to=http://127.0.0.1:{B}/article.html", true},
    };
    return cr_make_param_array(struct blocked_case, cases, sizeof cases / sizeof cases[0]);
}

/* The other half of the test above: the same spellings do reach a page
 * when nothing stops them, so "blocked" there was the check's doing. */
ParameterizedTest(struct blocked_case *c, analysis,
                  loopback_forms_reach_the_server_without_the_check) {
    char url[512];
    expand(url, sizeof url, c->url);
    cfg.fetch_allow_private = true;
    struct outcome o = fetch(url);
    cr_expect_eq(o.status, 0, "%s: %s %s", url, o.code, o.error);
    cr_expect_eq(count_of(&o, "counting"), 2, "%s: article.html was fetched", url);
    outcome_free(&o);
}

/* FETCH_ALLOW_PRIVATE (on by default in development) lets loopback and
 * private addresses through, not the other special ranges. 0.0.0.0 and
 * its mapped form are "this host" and reach the loopback server on
 * Linux, so the check, not a missing route, refuses them; no case here
 * could send a packet off the machine. */
Test(analysis, allow_private_still_blocks_reserved_addresses) {
    cfg.fetch_allow_private = true;
    const char *urls[] = {"http://0.0.0.0:{B}/article.html", "http://0:{B}/article.html",
                          "http://[::ffff:0.0.0.0]:{B}/article.html",
                          "http://127.0.0.1:{A}/redirect?to=http://0.0.0.0:{B}/article.html"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char url[512];
        expand(url, sizeof url, urls[i]);
        struct outcome o = fetch(url);
        expect_failure(o, "blocked_address");
        cr_expect(strstr(o.error, "reserved") && strstr(o.error, "FETCH_ALLOW_ADDRESSES"), "%s: %s",
                  url, o.error);
        outcome_free(&o);
    }
    /* The same server through a loopback address is fetched. */
    char url[512];
    expand(url, sizeof url, "http://127.0.0.1:{B}/article.html");
    struct outcome o = fetch(url);
    cr_expect_eq(o.status, 0, "%s: %s %s", url, o.code, o.error);
    outcome_free(&o);
}

Test(analysis, blocked_message_names_the_class_and_the_setting) {
    char url[512];
    expand(url, sizeof url, "http://127.0.0.1:{B}/article.html");
    struct outcome o = fetch(url);
    expect_failure(o, "blocked_address");
    cr_expect_str_eq(o.error, "the address 127.0.0.1 is loopback (FETCH_ALLOW_PRIVATE is off)");
    outcome_free(&o);
}

Test(analysis, limits) {
    cfg.fetch_max_bytes = 1 << 20;
    cfg.fetch_timeout_ms = 1500;
    char url[256];
    struct {
        const char *path;
        const char *code;
        bool transient;
    } cases[] = {
        {"/big/5000000", "too_large", false}, /* Content-Length says too much */
        {"/big/1048576", NULL, false},        /* exactly the limit: counted */
        {"/endless", "too_large", false},     /* no length, never ends */
        {"/gzip-bomb", "too_large", false},   /* small on the wire, huge decoded */
        {"/trickle", "timeout", true},        /* never ends, slowly */
        {"/hang", "timeout", true},           /* accepts, never answers */
        /* Still a redirect after FETCH_MAX_REDIRECTS hops (the task
         * fails it too_many_redirects: test_task, test_polite). */
        {"/redirect-loop", "redirect", false},
        {"/redirect-chain/5", NULL, false}, /* five redirects are allowed */
        {"/redirect-chain/6", "redirect", false},
        {"/redirect?to=ftp://127.0.0.1/x", "bad_redirect", false},
        {"/redirect?to=file:///etc/passwd", "bad_redirect", false},
        {"/status/404", "http_404", false},
        {"/status/503", "http_503", true},
        {"/status/429", "http_429", true},
        {"/status/204", NULL, false},
        {"/article.html?ct=application/pdf", "unsupported_type", false},
        {"/empty?ct=image/png", "unsupported_type", false},
        {"/empty?ct=text/html", NULL, false},
        {"/article.html?ct=application/xhtml%2Bxml", NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port_a, cases[i].path);
        uint64_t sent_before = page_server_streamed(allowed);
        struct outcome o = fetch(url);
        if (cases[i].code) {
            expect_failure(o, cases[i].code);
            cr_expect_eq(o.transient, cases[i].transient, "%s: transient", url);
        } else {
            cr_expect_eq(o.status, 0, "%s: %s %s", url, o.code, o.error);
        }
        cr_expect_leq(o.bytes, cfg.fetch_max_bytes, "%s: %zu bytes kept", url, o.bytes);
        if (!strcmp(cases[i].path, "/gzip-bomb")) {
            /* The bomb never ends; the server wrote only what the socket
             * took before the client hung up (a few MB of buffers at
             * most, far from the ~GBs it would inflate to). */
            uint64_t sent = page_server_streamed(allowed) - sent_before;
            cr_expect_lt(sent, 64u << 20, "the client kept reading the bomb: %llu bytes",
                         (unsigned long long)sent);
        }
        if (!strcmp(cases[i].path, "/big/1048576"))
            cr_expect_eq(o.total, (1048576 + 4) / 5, "\"word \" 209715 times, and a last \"w\"");
        outcome_free(&o);
    }
}

Test(analysis, cancel_calls_back_once) {
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", port_a);
    struct outcome o = {0};
    analysis_t *a;
    cr_assert_eq(analysis_start(cu, NULL, &cfg, &sw, NULL, NULL, url, NULL, NULL, on_done, &o, &a),
                 0);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_not(o.done);
    analysis_cancel(a);
    cr_assert(o.done);
    cr_expect_str_eq(o.code, "canceled");
}

Test(analysis, invalid_url_is_refused_at_start) {
    struct outcome o = {0};
    analysis_t *a;
    cr_expect_lt(analysis_start(cu, NULL, &cfg, &sw, NULL, NULL, "ftp://127.0.0.1/", NULL, NULL,
                                on_done, &o, &a),
                 0);
    cr_expect_lt(
        analysis_start(cu, NULL, &cfg, &sw, NULL, NULL, "not a url", NULL, NULL, on_done, &o, &a),
        0);
    cr_expect_not(o.done, "no callback when start fails");
}

/* The memory budget (worker/membudget.h) with a real download: another
 * job holds most of it. */
static analysis_t *paused_one;
static struct membudget budget;
static struct membudget_acct other_job;

static void
on_memory_back(void *arg) {
    (void)arg;
    analysis_resume(paused_one);
}

static void
on_other_job_done(uv_timer_t *timer) {
    (void)timer;
    membudget_release(&budget, &other_job);
}

static bool
waiting(void *arg) {
    return ((struct membudget_acct *)arg)->waiting;
}

static void
on_timer_closed(uv_handle_t *h) {
    *(bool *)h->data = true;
}

/* A head that gives the size asks for the worst case at once; when that
 * does not fit, the analysis ends before taking a byte (no connection is
 * held open while waiting), the account left waiting. */
Test(analysis, a_download_that_must_wait_before_its_first_byte_ends) {
    membudget_init(&budget, 8 << 20, NULL, NULL);
    membudget_open(&budget, &other_job, on_memory_back, NULL);
    cr_assert_eq(membudget_grow(&budget, &other_job, 8 << 20), 0);
    struct membudget_acct acct;
    membudget_open(&budget, &acct, on_memory_back, NULL);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big/200000", port_a);
    struct outcome o = {0};
    cr_assert_eq(analysis_start(cu, NULL, &cfg, &sw, &budget, &acct, url, NULL, NULL, on_done, &o,
                                &paused_one),
                 0);
    while (!o.done) uv_run(&loop, UV_RUN_ONCE);
    cr_expect(o.status < 0 && o.wait_for_memory && o.transient, "%s: %s", o.code, o.error);
    cr_expect_str_eq(o.code, "memory_wait");
    cr_expect(acct.waiting, "the account waits to be woken");
    membudget_release(&budget, &acct);
    membudget_release(&budget, &other_job);
}

/* A download paused mid-way for memory keeps its site's FETCH_TIMEOUT
 * for the time it runs: here it waits three timeouts for another job's
 * memory, then goes on to its end (FETCH_MAX_BYTES of an endless page,
 * which has no length: its worst case is not known at the head). */
Test(analysis, a_download_paused_for_memory_does_not_time_out) {
    cfg.fetch_timeout_ms = 2000;
    cfg.fetch_max_bytes = 256 << 10;
    membudget_init(&budget, 8 << 20, NULL, NULL);
    membudget_open(&budget, &other_job, on_memory_back, NULL);
    cr_assert_eq(membudget_grow(&budget, &other_job, 5 << 20), 0);
    struct membudget_acct acct;
    membudget_open(&budget, &acct, on_memory_back, NULL);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/endless", port_a);
    struct outcome o = {0};
    cr_assert_eq(analysis_start(cu, NULL, &cfg, &sw, &budget, &acct, url, NULL, NULL, on_done, &o,
                                &paused_one),
                 0);
    cr_assert(testenv_run_until_pred(&loop, waiting, &acct, 10000), "the download never paused");
    cr_assert_not(o.done);
    uv_timer_t later;
    uv_timer_init(&loop, &later);
    uv_timer_start(&later, on_other_job_done, 3 * (uint64_t)cfg.fetch_timeout_ms, 0);
    while (!o.done) uv_run(&loop, UV_RUN_ONCE);
    cr_expect_str_eq(o.code, "too_large", "%s: %s", o.code, o.error);
    cr_expect_gt(o.bytes, cfg.fetch_max_bytes / 2, "it went on after the pause: %zu bytes",
                 o.bytes);
    bool closed = false;
    later.data = &closed;
    uv_close((uv_handle_t *)&later, on_timer_closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    membudget_release(&budget, &acct);
    outcome_free(&o);
}

/* --- counting on threads (worker/cpu_pool.h) --- */

/* write_page writes a page of n distinct words (in paragraphs of 100,
 * with an entity and a stop word in each) under dir, as name. */
static void
write_page(const char *dir, const char *name, int n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("<html><head><title>Words</title><script>var skipped = 1;</script></head><body>", f);
    for (int i = 0; i < n; i++) {
        if (i % 100 == 0) fputs(i ? "</p><p>the caf&eacute; " : "<p>the caf&eacute; ", f);
        fprintf(f, "w%dq ", i);
    }
    fputs("</p></body></html>\n", f);
    fclose(f);
}

/* A page server on a folder of the test's own, and the settings to
 * reach it. */
static page_server_t *
own_pages(char *dir, size_t n, int *port) {
    snprintf(dir, n, "%s/wc-analysis-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    chmod(dir, 0755);
    write_page(dir, "words.html", 250000); /* about 2.5 MB */
    write_page(dir, "small.html", 50);
    page_server_t *ps = page_server_start(dir);
    cr_assert_not_null(ps);
    *port = page_server_port(ps);
    cfg.fetch_allow_private = true;
    cfg.fetch_max_bytes = 8 << 20;
    cfg.fetch_timeout_ms = 60000;
    return ps;
}

static void
own_pages_free(page_server_t *ps, const char *dir) {
    page_server_stop(ps);
    char path[512];
    snprintf(path, sizeof path, "%s/words.html", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/small.html", dir);
    unlink(path);
    rmdir(dir);
}

static void
on_pool_closed(void *arg) {
    *(bool *)arg = true;
}

static void
pool_free(cpu_pool_t *pool) {
    bool closed = false;
    cpu_pool_close(pool, on_pool_closed, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
}

/* The pool counts a page as the loop does, word for word (the page comes
 * in many pieces, more than the backlog holds). */
Test(analysis, counting_on_threads_counts_as_the_loop_does) {
    char dir[256], url[256];
    int port;
    page_server_t *ps = own_pages(dir, sizeof dir, &port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/words.html", port);
    struct outcome inline_o = fetch(url);
    cpu_pool_t *pool = cpu_pool_new(&loop, 2);
    cr_assert_not_null(pool);
    struct outcome o = {0};
    analysis_t *a;
    cr_assert_eq(analysis_start(cu, pool, &cfg, &sw, NULL, NULL, url, NULL, NULL, on_done, &o, &a),
                 0);
    while (!o.done) uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(inline_o.status, 0, "%s: %s", inline_o.code, inline_o.error);
    cr_assert_eq(o.status, 0, "%s: %s", o.code, o.error);
    cr_expect_gt(o.bytes, 2 * ANALYSIS_BACKLOG_MAX);
    cr_expect_eq(o.bytes, inline_o.bytes);
    cr_expect_eq(o.total, inline_o.total);
    cr_expect_eq(o.total_no_stop, inline_o.total_no_stop);
    cr_expect_eq(count_of(&o, "café"), 2500);
    cr_expect_eq(count_of(&o, "w249999q"), 1);
    cr_expect_eq(count_of(&o, "skipped"), 0, "script text is not counted");
    cr_expect(json_equal(o.counts, inline_o.counts), "the counts differ");
    outcome_free(&o);
    outcome_free(&inline_o);
    pool_free(pool);
    own_pages_free(ps, dir);
}

/* What the blocking build callback below saw. The outcome comes first:
 * on_done takes the same arg. */
struct held {
    struct outcome o;
    uv_thread_t loop_thread;
    bool built_on_loop;
    uv_sem_t entered, go;
    int in_build; /* set by the pool thread; read through the semaphore */
};

/* on_build_held stops the counting thread at the end of the page until
 * the test lets it go. */
static void
on_build_held(const struct analysis_result *r, void *arg) {
    struct held *h = arg;
    uv_thread_t self = uv_thread_self();
    h->built_on_loop = uv_thread_equal(&self, &h->loop_thread);
    cr_assert_not_null(r->all);
    uv_sem_post(&h->entered);
    uv_sem_wait(&h->go);
}

static bool
entered(void *arg) {
    struct held *h = arg;
    if (h->in_build) return true;
    if (uv_sem_trywait(&h->entered) == 0) h->in_build = 1;
    return h->in_build;
}

/* While a page is being counted on a thread, the loop goes on: another
 * page is fetched and counted to its end meanwhile. A cancel then waits
 * for the page under way to come back; done_cb runs once, on the loop. */
Test(analysis, the_loop_goes_on_while_a_page_is_counted) {
    char dir[256], url[256], small[256];
    int port;
    page_server_t *ps = own_pages(dir, sizeof dir, &port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/words.html", port);
    snprintf(small, sizeof small, "http://127.0.0.1:%d/small.html", port);
    cpu_pool_t *pool = cpu_pool_new(&loop, 1);
    cr_assert_not_null(pool);
    struct held h = {.loop_thread = uv_thread_self()};
    cr_assert_eq(uv_sem_init(&h.entered, 0), 0);
    cr_assert_eq(uv_sem_init(&h.go, 0), 0);
    analysis_t *a;
    cr_assert_eq(
        analysis_start(cu, pool, &cfg, &sw, NULL, NULL, url, NULL, on_build_held, on_done, &h, &a),
        0);
    cr_assert(testenv_run_until_pred(&loop, entered, &h, 50000), "the page was never counted");
    /* The thread is held: a page fetched and counted on the loop now
     * could not end if the loop were held too. */
    struct outcome s = fetch(small);
    cr_expect_eq(s.status, 0, "%s: %s", s.code, s.error);
    cr_expect_eq(count_of(&s, "w49q"), 1);
    outcome_free(&s);
    cr_assert_not(h.o.done);
    analysis_cancel(a);
    analysis_cancel(a); /* again: nothing more */
    for (int i = 0; i < 5; i++) uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_not(h.o.done, "done_cb ran while its page was still being counted");
    uv_sem_post(&h.go);
    while (!h.o.done) uv_run(&loop, UV_RUN_ONCE);
    /* Read once the pool has handed the analysis back (its lock orders
     * the thread's write before this). */
    cr_expect_not(h.built_on_loop, "the page was counted on the loop");
    cr_expect_str_eq(h.o.code, "canceled");
    outcome_free(&h.o);
    uv_sem_destroy(&h.entered);
    uv_sem_destroy(&h.go);
    pool_free(pool);
    own_pages_free(ps, dir);
}
