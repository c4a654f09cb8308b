/* redis_uv over TLS (rediss://) against Debian's redis-server on its
 * --tls-port (--port 0: it speaks nothing else), with certificates from a
 * throwaway CA made at test time (tests/lib/testca): commands, the
 * certificate and host name checks and the opt-out, reconnecting after a
 * restart, AUTH with an ACL user or a legacy password, and the transport's
 * name resolution (an unknown name, a name with several addresses). */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/redis_uv.h"
#include "common/xalloc.h"
#include "tests/lib/redis_rec.h"
#include "tests/lib/servers.h"
#include "tests/lib/testca.h"
#include "tests/lib/testenv.h"

static uv_loop_t loop;
static struct testca ca;
static struct redis_srv srv;

static void
setup(void) {
    /* A server killed while we write: EPIPE, not death (as in the programs). */
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(uv_loop_init(&loop), 0);
    testca_make(&ca);
    memset(&srv, 0, sizeof srv);
}

static void
teardown(void) {
    redis_srv_free(&srv);
    testca_free(&ca);
    cr_assert_eq(testenv_loop_close(&loop), 0, "handles leaked");
}

TestSuite(redis_tls, .init = setup, .fini = teardown, .timeout = 60);

/* start_tls starts the private server with cert and key. */
static void
start_tls(const char *cert, const char *key) {
    srv.tls_cert = cert;
    srv.tls_key = key;
    redis_srv_start(&srv, "127.0.0.1");
    cr_assert(!strncmp(srv.url, "rediss://", 9), "%s", srv.url);
}

/* url_as writes the server's URL with another host and optional auth. */
static void
url_as(const char *auth, const char *host, char *out, size_t n) {
    snprintf(out, n, "rediss://%s%s:%d/0", auth ? auth : "", host, srv.port);
}

/* big_get checks a GET of the big value inside the callback (records
 * keep only the first 255 bytes). */
struct big_get {
    const char *want;
    size_t len;
    bool done, same;
};

static void
on_big_get(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    (void)r;
    (void)errstr;
    struct big_get *g = arg;
    g->done = true;
    g->same = reply && reply->type == REDIS_REPLY_STRING && reply->len == g->len &&
              !memcmp(reply->str, g->want, g->len);
}

static redis_uv_t *
start_conn(const char *url, const struct tls_opts *tls, struct redis_state *st) {
    char err[256] = "";
    redis_uv_t *r = redis_uv_new(&loop, url, tls, "test", 3000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_uv_on_state(r, redis_rec_on_state, st);
    return r;
}

/* pings checks that r answers PING. */
static void
pings(redis_uv_t *r) {
    struct redis_rec ping = {0};
    redis_rec_send(r, &ping, 1, (const char *[]){"PING"}, NULL);
    redis_rec_wait(&loop, &ping, 1, 20000);
    cr_assert_str_eq(ping.str, "PONG");
}

static redis_uv_t *
open_conn(const char *url, const struct tls_opts *tls, struct redis_state *st) {
    redis_uv_t *r = start_conn(url, tls, st);
    cr_assert(testenv_run_until(&loop, &st->up, 10000), "not connected to %s: %s", url,
              redis_uv_last_error(r));
    return r;
}

struct failure {
    redis_uv_t *r;
    const char *why;
};

static bool
has_failed(void *arg) {
    const struct failure *f = arg;
    const char *e = redis_uv_last_error(f->r);
    return e[0] && strstr(e, f->why);
}

/* refused waits until a connection attempt has failed with why in its
 * error ("" for any error), and checks that the connection never counted
 * as up. */
static void
refused(redis_uv_t *r, const struct redis_state *st, const char *why) {
    struct failure f = {r, why};
    testenv_run_until_pred(&loop, has_failed, &f, 10000);
    cr_assert(redis_uv_last_error(r)[0] && strstr(redis_uv_last_error(r), why),
              "error \"%s\", expected \"%s\"", redis_uv_last_error(r), why);
    cr_assert_eq(st->ups, 0);
    cr_assert_not(redis_uv_connected(r));
    struct redis_rec rec = {0};
    cr_assert_eq(redis_uv_command(r, redis_rec_on_reply, &rec, 1, (const char *[]){"PING"}, NULL),
                 UV_ENOTCONN);
}

/* --- cases --- */

Test(redis_tls, commands_big_values_and_pipelines) {
    start_tls(ca.server_crt, ca.server_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(srv.url, &tls, &st);

    /* 1 MiB each way: many TLS records, many socket reads. */
    size_t big = 1 << 20;
    char *val = xmalloc(big);
    for (size_t i = 0; i < big; i++) val[i] = (char)(i * 7 + (i >> 11));
    struct redis_rec set = {0}, strlen_rec = {0};
    struct big_get get = {.want = val, .len = big};
    redis_rec_send(r, &set, 3, (const char *[]){"SET", "big", val}, (size_t[]){3, 3, big});
    cr_assert_eq(redis_uv_command(r, on_big_get, &get, 2, (const char *[]){"GET", "big"}, NULL), 0);
    redis_rec_send(r, &strlen_rec, 2, (const char *[]){"STRLEN", "big"}, NULL);
    redis_rec_wait(&loop, &strlen_rec, 1, 20000);
    cr_assert_eq(set.type, REDIS_REPLY_STATUS);
    cr_assert(get.done && get.same, "the value came back changed");
    cr_assert_eq(strlen_rec.integer, (long long)big);
    free(val);

    /* A pipeline of 2000 commands sent in one turn of the loop, answered
     * in order. */
    enum { N = 2000 };
    static struct redis_rec incr[N];
    memset(incr, 0, sizeof incr);
    for (int i = 0; i < N; i++)
        redis_rec_send(r, &incr[i], 2, (const char *[]){"INCR", "counter"}, NULL);
    redis_rec_wait(&loop, &incr[N - 1], 1, 20000);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(incr[i].calls, 1);
        cr_assert_eq(incr[i].integer, i + 1, "reply %d out of order", i);
    }
    cr_assert_eq(st.downs, 0);
    redis_rec_close(&loop, r);
}

Test(redis_tls, host_name_checked_by_dns_name_too) {
    /* By name: the certificate names DNS:localhost (and IP:127.0.0.1). */
    start_tls(ca.server_crt, ca.server_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    char url[128];
    url_as(NULL, "localhost", url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, &tls, &st);
    pings(r);
    redis_rec_close(&loop, r);
}

Test(redis_tls, refuses_a_certificate_from_an_unknown_ca) {
    start_tls(ca.self_crt, ca.self_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    struct redis_state st = {0};
    redis_uv_t *r = start_conn(srv.url, &tls, &st);
    refused(r, &st, "certificate verify failed: self-signed certificate");
    redis_rec_close(&loop, r);
}

Test(redis_tls, system_store_does_not_trust_the_test_ca) {
    start_tls(ca.server_crt, ca.server_key);
    struct redis_state st = {0};
    redis_uv_t *r = start_conn(srv.url, NULL, &st); /* verify with the system store */
    refused(r, &st, "certificate verify failed: unable to get local issuer certificate");
    redis_rec_close(&loop, r);
}

Test(redis_tls, refuses_a_wrong_host_name) {
    /* A valid certificate from the trusted CA, for other.invalid only. */
    start_tls(ca.other_crt, ca.other_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    char url[128];
    url_as(NULL, "localhost", url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = start_conn(url, &tls, &st);
    refused(r, &st, "certificate verify failed: hostname mismatch");
    redis_rec_close(&loop, r);

    struct redis_state st2 = {0};
    r = start_conn(srv.url, &tls, &st2); /* by address: 127.0.0.1 */
    refused(r, &st2, "certificate verify failed: IP address mismatch");
    redis_rec_close(&loop, r);
}

Test(redis_tls, opt_out_connects_to_a_self_signed_server) {
    start_tls(ca.self_crt, ca.self_key);
    /* No CA file and no check: encrypted, not authenticated. */
    struct tls_opts tls = {.ca_file = NULL, .verify = false};
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(srv.url, &tls, &st);
    struct redis_rec echo = {0};
    redis_rec_send(r, &echo, 2, (const char *[]){"ECHO", "hello"}, NULL);
    redis_rec_wait(&loop, &echo, 1, 20000);
    cr_assert_str_eq(echo.str, "hello");
    redis_rec_close(&loop, r);
}

Test(redis_tls, reconnects_after_a_restart) {
    start_tls(ca.server_crt, ca.server_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(srv.url, &tls, &st);
    struct redis_rec pending = {0}, ping = {0};
    redis_rec_send(r, &pending, 3, (const char *[]){"BLPOP", "nokey", "0"}, NULL);
    redis_rec_send(r, &ping, 1, (const char *[]){"PING"}, NULL);
    redis_srv_stop(&srv, SIGKILL);
    redis_rec_wait(&loop, &ping, 1, 20000);
    cr_assert_eq(pending.nulls, 1);
    cr_assert_eq(ping.nulls, 1);
    cr_assert_eq(st.downs, 1);
    cr_assert_not(redis_uv_connected(r));

    redis_srv_start(&srv, "127.0.0.1"); /* same port, same certificate */
    cr_assert(testenv_run_until(&loop, &st.up, 15000), "did not reconnect: %s",
              redis_uv_last_error(r));
    cr_assert_eq(st.ups, 2);
    struct redis_rec echo = {0};
    redis_rec_send(r, &echo, 2, (const char *[]){"ECHO", "back"}, NULL);
    redis_rec_wait(&loop, &echo, 1, 20000);
    cr_assert_str_eq(echo.str, "back");
    redis_rec_close(&loop, r);
}

Test(redis_tls, auth_with_an_acl_user) {
    const char *acl[] = {"--user", "alice", "on", ">s3cr:t", "~*", "&*", "+@all", NULL};
    memcpy(srv.extra, acl, sizeof acl);
    start_tls(ca.server_crt, ca.server_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    char url[160];
    url_as("alice:s3cr%3At@", "127.0.0.1", url, sizeof url); /* percent-encoded ':' */
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, &tls, &st);
    struct redis_rec who = {0};
    redis_rec_send(r, &who, 2, (const char *[]){"ACL", "WHOAMI"}, NULL);
    redis_rec_wait(&loop, &who, 1, 20000);
    cr_assert_str_eq(who.str, "alice");
    redis_rec_close(&loop, r);

    url_as("alice:wrong@", "127.0.0.1", url, sizeof url);
    struct redis_state bad = {0};
    r = start_conn(url, &tls, &bad);
    refused(r, &bad, "WRONGPASS");
    redis_rec_close(&loop, r);
}

Test(redis_tls, auth_with_a_legacy_password) {
    const char *pass[] = {"--requirepass", "legacy-pw", NULL};
    memcpy(srv.extra, pass, sizeof pass);
    start_tls(ca.server_crt, ca.server_key);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    char url[160];
    url_as(":legacy-pw@", "127.0.0.1", url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, &tls, &st);
    struct redis_rec who = {0};
    redis_rec_send(r, &who, 2, (const char *[]){"ACL", "WHOAMI"}, NULL);
    redis_rec_wait(&loop, &who, 1, 20000);
    cr_assert_str_eq(who.str, "default");
    redis_rec_close(&loop, r);

    /* Without a password the server answers NOAUTH to the first command. */
    struct redis_state none = {0};
    r = start_conn(srv.url, &tls, &none);
    refused(r, &none, "NOAUTH");
    redis_rec_close(&loop, r);
}

Test(redis_tls, tls_to_a_plain_server_fails_cleanly) {
    /* The shared server of tests/run.sh speaks plain RESP: it takes the
     * ClientHello for a command and waits for its end, or answers an
     * error, which is no TLS; either way the attempt fails and is retried. */
    const char *plain = testenv_redis_url();
    char url[256];
    snprintf(url, sizeof url, "rediss://%s", strstr(plain, "://") + 3);
    struct tls_opts tls = {.ca_file = ca.ca, .verify = true};
    struct redis_state st = {0};
    redis_uv_t *r = start_conn(url, &tls, &st);
    refused(r, &st, "");
    redis_rec_close(&loop, r);
}

Test(redis_tls, plain_to_a_tls_server_fails_cleanly) {
    start_tls(ca.server_crt, ca.server_key);
    char url[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    struct redis_state st = {0};
    redis_uv_t *r = start_conn(url, NULL, &st);
    refused(r, &st, ""); /* the server resets or closes the connection */
    redis_rec_close(&loop, r);
}

Test(redis_tls, an_unusable_ca_file_is_refused_at_once) {
    char err[256] = "";
    struct tls_opts missing = {.ca_file = "/nonexistent/ca.crt", .verify = true};
    cr_assert_null(
        redis_uv_new(&loop, "rediss://127.0.0.1:6379", &missing, "test", 1000, err, sizeof err));
    cr_assert(strstr(err, "cannot read the CA file /nonexistent/ca.crt"), "%s", err);

    /* A readable file with no certificate in it (a key is not one). */
    struct tls_opts garbage = {.ca_file = ca.server_key, .verify = true};
    cr_assert_null(
        redis_uv_new(&loop, "rediss://127.0.0.1:6379", &garbage, "test", 1000, err, sizeof err));
    cr_assert(strstr(err, "holds no usable certificate"), "%s", err);

    /* A redis:// URL does not use TLS at all, so its options do not matter. */
    struct redis_state st = {0};
    redis_uv_t *r = start_conn(testenv_redis_url(), &missing, &st);
    cr_assert(testenv_run_until(&loop, &st.up, 10000), "%s", redis_uv_last_error(r));
    redis_rec_close(&loop, r);
}

Test(redis_tls, an_unknown_host_is_a_failed_connect) {
    struct redis_state st = {0};
    redis_uv_t *r = start_conn("rediss://no-such-host.invalid:6380/0", NULL, &st);
    refused(r, &st, "resolve no-such-host.invalid");
    redis_rec_close(&loop, r);
}

/* hosts_override makes this test process (alone: a private mount
 * namespace) read /etc/hosts from a file that names wc-multi.test twice,
 * ::1 first, where nothing listens. Needs root; false when it cannot. */
static bool
hosts_override(char *why, size_t n) {
    char path[128];
    snprintf(path, sizeof path, "%s/hosts", ca.dir);
    testenv_write_file(path, "::1 wc-multi.test\n127.0.0.1 wc-multi.test\n");
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(path, "/etc/hosts", NULL, MS_BIND, NULL) < 0) {
        snprintf(why, n, "no private /etc/hosts: %s", strerror(errno));
        return false;
    }
    return true;
}

Test(redis_tls, the_addresses_of_a_name_are_tried_in_turn) {
    char why[160];
    if (!hosts_override(why, sizeof why)) {
        teardown(); /* a skipped test's .fini does not run */
        cr_skip_test("%s", why);
    }
    start_tls(ca.server_crt, ca.server_key);
    /* The certificate does not name wc-multi.test: this is about the
     * addresses, so no check. */
    struct tls_opts tls = {.ca_file = NULL, .verify = false};
    char url[128];
    url_as(NULL, "wc-multi.test", url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, &tls, &st);
    struct redis_rec ping = {0};
    redis_rec_send(r, &ping, 1, (const char *[]){"PING"}, NULL);
    redis_rec_wait(&loop, &ping, 1, 20000);
    cr_assert_str_eq(ping.str, "PONG");
    cr_assert_eq(st.downs, 0, "one connection, on the second address");
    redis_rec_close(&loop, r);
}
