/* worker/curl_uv.c: libcurl's multi interface on a libuv loop, against
 * the loopback page server (tests/lib/page_server). Each transfer's
 * callback runs exactly once (or never, once removed), through the
 * socket path, the timer path and the error paths; callbacks may clean
 * up and start transfers; closing leaves no handle behind. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "tests/lib/nginx.h"
#include "tests/lib/page_server.h"
#include "tests/lib/proc.h"
#include "tests/lib/testenv.h"
#include "worker/curl_uv.h"

#define PAGES WC_SRCDIR "/tests/fixtures/pages"
#define WAIT_MS 10000

static void setup(void);
static void teardown(void);
TestSuite(curl_uv, .init = setup, .fini = teardown, .timeout = 60);

static uv_loop_t loop;
static curl_uv_t *cu;
static page_server_t *pages;

/* One transfer: its easy handle, what it received and how it ended. */
struct xfer {
    CURL *easy;
    struct buf body;
    int calls;
    CURLcode rc;
    bool cleanup_in_cb; /* the callback cleans the handle up, as analysis does */
};

static void
setup(void) {
    cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cu = curl_uv_new(&loop, 0);
    cr_assert_not_null(cu);
    pages = page_server_start(PAGES);
    cr_assert_not_null(pages);
}

static void
close_cu(void) {
    if (!cu) return;
    bool closed = false;
    curl_uv_close(cu, testenv_on_closed, &closed);
    cu = NULL;
    cr_assert(testenv_run_until(&loop, &closed, WAIT_MS), "curl_uv_close never called back");
}

static void
teardown(void) {
    close_cu();
    cr_assert_eq(testenv_loop_close(&loop), 0, "a handle was left open");
    page_server_stop(pages);
    curl_global_cleanup();
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg) {
    buf_append(arg, data, size * nmemb);
    return size * nmemb;
}

static void
on_done(CURL *easy, CURLcode rc, void *arg) {
    struct xfer *x = arg;
    cr_assert_eq(easy, x->easy);
    x->calls++;
    x->rc = rc;
    if (x->cleanup_in_cb) {
        curl_easy_cleanup(easy);
        x->easy = NULL;
    }
}

/* xfer_init makes the easy handle for path on the page server (or for a
 * full URL). */
static void
xfer_init(struct xfer *x, const char *path) {
    memset(x, 0, sizeof *x);
    buf_init(&x->body);
    x->easy = curl_easy_init();
    cr_assert_not_null(x->easy);
    char url[256];
    if (strstr(path, "://")) snprintf(url, sizeof url, "%s", path);
    else snprintf(url, sizeof url, "http://127.0.0.1:%d%s", page_server_port(pages), path);
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, &x->body);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_NOPROXY, "*");
}

static void
xfer_free(struct xfer *x) {
    if (x->easy) curl_easy_cleanup(x->easy);
    x->easy = NULL;
    buf_free(&x->body);
}

static bool
called(void *x) {
    return ((struct xfer *)x)->calls > 0;
}

static void
wait_done(struct xfer *x) {
    cr_assert(testenv_run_until_pred(&loop, called, x, WAIT_MS), "the transfer never ended");
}

Test(curl_uv, one_transfer_calls_back_once) {
    struct xfer x;
    xfer_init(&x, "/article.html");
    cr_assert_eq(curl_uv_add(cu, x.easy, on_done, &x), 0);
    cr_expect_eq(x.calls, 0, "no callback inside curl_uv_add");
    wait_done(&x);
    cr_expect_eq(x.rc, CURLE_OK);
    cr_expect(x.body.len > 0 && strstr(x.body.data, "Counting"), "the page arrived");
    /* exactly once: more turns of the loop call nothing */
    testenv_run_ms(&loop, 50);
    cr_expect_eq(x.calls, 1);
    /* the handle is out of the multi: it can be added again */
    buf_reset(&x.body);
    x.calls = 0;
    cr_assert_eq(curl_uv_add(cu, x.easy, on_done, &x), 0);
    wait_done(&x);
    cr_expect_eq(x.rc, CURLE_OK);
    xfer_free(&x);
}

static bool
all_called(void *arg) {
    struct xfer *xs = arg;
    for (int i = 0; i < 24; i++)
        if (xs[i].calls == 0) return false;
    return true;
}

Test(curl_uv, many_transfers_at_once) {
    static struct xfer xs[24];
    for (int i = 0; i < 24; i++) {
        char path[64];
        if (i % 3 == 0) snprintf(path, sizeof path, "/slow/%d", 20 * i);
        else if (i % 3 == 1) snprintf(path, sizeof path, "/big/%d", 100000 + i);
        else snprintf(path, sizeof path, "/article.html");
        xfer_init(&xs[i], path);
        xs[i].cleanup_in_cb = i % 2;
        cr_assert_eq(curl_uv_add(cu, xs[i].easy, on_done, &xs[i]), 0);
    }
    cr_assert(testenv_run_until_pred(&loop, all_called, xs, WAIT_MS));
    for (int i = 0; i < 24; i++) {
        cr_expect_eq(xs[i].calls, 1, "transfer %d", i);
        cr_expect_eq(xs[i].rc, CURLE_OK, "transfer %d: %s", i, curl_easy_strerror(xs[i].rc));
        if (i % 3 == 1) cr_expect_eq(xs[i].body.len, (size_t)(100000 + i), "transfer %d", i);
        xfer_free(&xs[i]);
    }
}

/* A transfer that never gets an answer ends by curl's timeout, which
 * only the timer callback can deliver. */
Test(curl_uv, timeout_through_the_timer) {
    struct xfer x;
    xfer_init(&x, "/hang");
    curl_easy_setopt(x.easy, CURLOPT_TIMEOUT_MS, 200L);
    cr_assert_eq(curl_uv_add(cu, x.easy, on_done, &x), 0);
    wait_done(&x);
    cr_expect_eq(x.rc, CURLE_OPERATION_TIMEDOUT, "%s", curl_easy_strerror(x.rc));
    xfer_free(&x);
}

Test(curl_uv, errors_call_back_too) {
    int port = testenv_free_port();
    cr_assert_gt(port, 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    struct xfer refused, bad;
    xfer_init(&refused, url);
    xfer_init(&bad, "http://127.0.0.1:1/");
    curl_easy_setopt(bad.easy, CURLOPT_URL, "nosuchscheme://x/");
    cr_assert_eq(curl_uv_add(cu, refused.easy, on_done, &refused), 0);
    cr_assert_eq(curl_uv_add(cu, bad.easy, on_done, &bad), 0);
    wait_done(&refused);
    wait_done(&bad);
    cr_expect_eq(refused.rc, CURLE_COULDNT_CONNECT, "%s", curl_easy_strerror(refused.rc));
    cr_expect_eq(bad.rc, CURLE_UNSUPPORTED_PROTOCOL, "%s", curl_easy_strerror(bad.rc));
    xfer_free(&refused);
    xfer_free(&bad);
}

/* A handle added twice: the second add fails and leaves the first
 * transfer as it was. */
Test(curl_uv, a_failed_add_changes_nothing) {
    struct xfer x, other;
    xfer_init(&x, "/slow/50");
    other.calls = 0;
    cr_assert_eq(curl_uv_add(cu, x.easy, on_done, &x), 0);
    cr_expect_lt(curl_uv_add(cu, x.easy, on_done, &other), 0);
    wait_done(&x);
    cr_expect_eq(x.rc, CURLE_OK);
    cr_expect_eq(other.calls, 0);
    xfer_free(&x);
}

/* curl_uv_remove takes a transfer out early: its callback never runs and
 * its socket's poll handle is closed (the loop closes empty). */
Test(curl_uv, removed_transfer_never_calls_back) {
    struct xfer hang, ok;
    xfer_init(&hang, "/hang");
    xfer_init(&ok, "/article.html");
    cr_assert_eq(curl_uv_add(cu, hang.easy, on_done, &hang), 0);
    cr_assert_eq(curl_uv_add(cu, ok.easy, on_done, &ok), 0);
    wait_done(&ok); /* by then /hang is connected and waiting */
    curl_uv_remove(cu, hang.easy);
    testenv_run_ms(&loop, 100);
    cr_expect_eq(hang.calls, 0);
    xfer_free(&hang);
    xfer_free(&ok);
}

/* The callback runs after the handle left the multi, so it may start
 * the next transfer at once, even on the same handle. */
struct chain {
    struct xfer x;
    int left;
};

static void
on_chain_done(CURL *easy, CURLcode rc, void *arg) {
    struct chain *c = arg;
    c->x.calls++;
    c->x.rc = rc;
    if (rc == CURLE_OK && --c->left > 0)
        cr_assert_eq(curl_uv_add(cu, easy, on_chain_done, c), 0, "add from the callback");
}

static bool
chain_over(void *arg) {
    struct chain *c = arg;
    return c->left == 0 || c->x.rc != CURLE_OK;
}

Test(curl_uv, callback_may_start_the_next_transfer) {
    struct chain c = {.left = 5};
    xfer_init(&c.x, "/latin1.html");
    cr_assert_eq(curl_uv_add(cu, c.x.easy, on_chain_done, &c), 0);
    cr_assert(testenv_run_until_pred(&loop, chain_over, &c, WAIT_MS));
    cr_expect_eq(c.x.rc, CURLE_OK);
    cr_expect_eq(c.x.calls, 5);
    xfer_free(&c.x);
}

Test(curl_uv, close_refuses_new_transfers) {
    struct xfer x;
    xfer_init(&x, "/article.html");
    bool closed = false;
    curl_uv_close(cu, testenv_on_closed, &closed);
    cr_expect_eq(curl_uv_add(cu, x.easy, on_done, &x), UV_ECANCELED);
    cu = NULL; /* freed once its handles have closed */
    cr_assert(testenv_run_until(&loop, &closed, WAIT_MS));
    cr_expect_eq(x.calls, 0);
    xfer_free(&x);
}

/* --- connections kept (max_connects) --- */

static bool
n_called(void *arg) {
    struct xfer *xs = arg;
    for (int i = 0; i < 8; i++)
        if (xs[i].calls == 0) return false;
    return true;
}

static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr) {
    (void)purpose;
    return curl_uv_open_socket(arg, addr);
}

/* round runs 8 transfers of url at once, their sockets opened by
 * curl_uv_open_socket as the worker's are, and returns how many new
 * connections they opened (CURLINFO_NUM_CONNECTS; 0 for one reused). */
static long
round_of_8(curl_uv_t *c, const char *url) {
    static struct xfer xs[8];
    for (int i = 0; i < 8; i++) {
        xfer_init(&xs[i], url);
        curl_easy_setopt(xs[i].easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(xs[i].easy, CURLOPT_OPENSOCKETDATA, c);
        cr_assert_eq(curl_uv_add(c, xs[i].easy, on_done, &xs[i]), 0);
    }
    cr_assert(testenv_run_until_pred(&loop, n_called, xs, WAIT_MS));
    long opened = 0;
    for (int i = 0; i < 8; i++) {
        long n = 0;
        cr_expect_eq(xs[i].rc, CURLE_OK, "%s", curl_easy_strerror(xs[i].rc));
        cr_assert_eq(curl_easy_getinfo(xs[i].easy, CURLINFO_NUM_CONNECTS, &n), CURLE_OK);
        opened += n;
        xfer_free(&xs[i]);
    }
    return opened;
}

/* one_by_one runs 4 transfers of url, one after the other. */
static void
one_by_one(curl_uv_t *c, const char *url) {
    for (int i = 0; i < 4; i++) {
        struct xfer x;
        xfer_init(&x, url);
        curl_easy_setopt(x.easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(x.easy, CURLOPT_OPENSOCKETDATA, c);
        cr_assert_eq(curl_uv_add(c, x.easy, on_done, &x), 0);
        wait_done(&x);
        cr_expect_eq(x.rc, CURLE_OK);
        xfer_free(&x);
    }
}

/* A site on Debian's nginx (keep-alive on), serving article.html. */
struct site {
    char dir[64];
    char url[128];
    int port;
    pid_t nginx;
};

static void
site_start(struct site *st) {
    char site[96], cmd[512], base[64], err[512];
    snprintf(st->dir, sizeof st->dir, "/tmp/wc-curluv-XXXXXX");
    cr_assert_not_null(mkdtemp(st->dir));
    cr_assert_eq(chmod(st->dir, 0755), 0); /* nginx's workers read here */
    snprintf(site, sizeof site, "%s/site", st->dir);
    snprintf(cmd, sizeof cmd, "mkdir -m 755 '%s' && cp '%s/article.html' '%s/' && chmod 644 '%s'/*",
             site, PAGES, site, site);
    cr_assert_eq(system(cmd), 0);
    st->nginx = nginx_launch(st->dir, "127.0.0.1:9", site, base, sizeof base, err, sizeof err);
    cr_assert_gt(st->nginx, 0, "%s", err);
    snprintf(st->url, sizeof st->url, "%s/article.html", base);
    cr_assert_eq(sscanf(base, "http://127.0.0.1:%d", &st->port), 1);
}

static void
site_stop(struct site *st) {
    char cmd[128];
    proc_stop(st->nginx, SIGQUIT, 5000);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", st->dir);
    cr_expect_eq(system(cmd), 0);
}

static void
close_other(curl_uv_t *c) {
    bool closed = false;
    curl_uv_close(c, testenv_on_closed, &closed);
    cr_assert(testenv_run_until(&loop, &closed, WAIT_MS));
}

/* With max_connects, the connections of a round of transfers stay open
 * for the next round (nginx keeps them alive) whatever ran in between.
 * With curl's default cache (four per transfer running when one ends), a
 * transfer that ends while few run (here one at a time; in a worker,
 * while most of its jobs parse, count or store) usually finds the cache
 * "full" and closes the oldest idle connection, so the next round opens
 * some again: what made a third of a drain's fetches open a connection.
 * That is curl's behaviour, and not asserted (under ASan it once kept them
 * all); this test fails when the cap is not given or is too small. */
Test(curl_uv, connections_are_kept_for_the_next_transfers) {
    struct site st;
    site_start(&st);
    curl_uv_t *c = curl_uv_new(&loop, 16);
    cr_assert_not_null(c);
    long fresh = round_of_8(c, st.url);
    one_by_one(c, st.url);
    long kept = round_of_8(c, st.url);
    close_other(c);
    site_stop(&st);
    cr_expect_eq(fresh, 8, "the first round opens one connection per transfer");
    cr_expect_eq(kept, 0, "max_connects 16: the second round reuses them all");
}

/* --- poll handles live as long as their sockets --- */

/* Every answer of the page server closes its connection, so each round
 * opens 8 sockets that curl closes again, and the next round gets the
 * same numbers back. A handle kept past its socket's close would make
 * libuv refuse any new watcher of that number (UV_EEXIST): here 16
 * sockets of the test's own, which take the lowest free numbers, must
 * each get one. Checked to fail with the handles not closed from
 * CURLOPT_CLOSESOCKETFUNCTION. */
Test(curl_uv, handles_close_with_their_sockets) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/article.html", page_server_port(pages));
    for (int r = 0; r < 6; r++) cr_expect_eq(round_of_8(cu, url), 8, "round %d", r);
    cr_expect_eq(curl_uv_watched(cu), 0, "every socket is closed, and its handle with it");
    static uv_poll_t polls[16];
    int fds[16];
    for (int i = 0; i < 16; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(fds[i], 0);
        int rc = uv_poll_init_socket(&loop, &polls[i], fds[i]);
        cr_assert_eq(rc, 0, "socket %d: %s", fds[i], uv_strerror(rc));
    }
    for (int i = 0; i < 16; i++) uv_close((uv_handle_t *)&polls[i], NULL);
    testenv_run_ms(&loop, 10); /* close callbacks (NULL) run on the next turn */
    for (int i = 0; i < 16; i++) close(fds[i]);
}

/* close_waits counts this process's TCP sockets to port that the peer
 * has closed (CLOSE_WAIT in /proc/self/net/tcp). */
static int
close_waits(int port) {
    FILE *f = fopen("/proc/self/net/tcp", "r");
    cr_assert_not_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned rport, state;
        if (sscanf(line, " %*d: %*x:%*x %*x:%x %x", &rport, &state) == 2 && (int)rport == port &&
            state == 0x08)
            n++;
    }
    fclose(f);
    return n;
}

struct closed_by_server {
    int port;
    int want;
};

static bool
all_close_wait(void *arg) {
    struct closed_by_server *c = arg;
    return close_waits(c->port) >= c->want;
}

/* Connections kept in curl's cache stay watched; when the server closes
 * them (nginx reloads: its old workers close their idle connections),
 * the next round finds them dead, curl closes them (their handles go
 * with them) and opens new ones, which often take the same numbers. */
Test(curl_uv, kept_connections_closed_by_the_server) {
    struct site st;
    site_start(&st);
    curl_uv_t *c = curl_uv_new(&loop, 16);
    cr_assert_not_null(c);
    cr_expect_eq(round_of_8(c, st.url), 8);
    cr_expect_eq(curl_uv_watched(c), 8, "the idle connections stay watched");
    cr_assert_eq(kill(st.nginx, SIGHUP), 0);
    struct closed_by_server cbs = {st.port, 8};
    cr_assert(testenv_run_until_pred(&loop, all_close_wait, &cbs, WAIT_MS),
              "nginx never closed the idle connections (%d closed)", close_waits(st.port));
    cr_expect_eq(round_of_8(c, st.url), 8, "the dead connections are not reused");
    cr_expect_eq(curl_uv_watched(c), 8, "the dead connections' handles are gone");
    cr_expect_eq(close_waits(st.port), 0);
    one_by_one(c, st.url);
    cr_expect_eq(round_of_8(c, st.url), 0, "the new connections are kept");
    close_other(c);
    site_stop(&st);
}
