/* tls: the client session engine without a network. The test plays the
 * server with OpenSSL on memory BIOs (certificates from tests/lib/testca)
 * and moves the bytes between the two by hand, in pieces of every size
 * from one byte up, so records and handshake messages arrive cut anywhere. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/buf.h"
#include "common/tls.h"
#include "tests/lib/testca.h"

static struct testca ca;

static void
setup(void) {
    testca_make(&ca);
}

static void
teardown(void) {
    testca_free(&ca);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/* The server side, with its own memory BIOs. */
struct server {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out;
};

static void
server_init(struct server *s, const char *crt, const char *key) {
    s->ctx = SSL_CTX_new(TLS_server_method());
    cr_assert_not_null(s->ctx);
    cr_assert_eq(SSL_CTX_use_certificate_file(s->ctx, crt, SSL_FILETYPE_PEM), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM), 1);
    s->ssl = SSL_new(s->ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(s->in, -1);
    SSL_set_bio(s->ssl, s->in, s->out);
    SSL_set_accept_state(s->ssl);
}

static void
server_free(struct server *s) {
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
}

/* pump moves what each side has for the other, step bytes at a time, and
 * lets the server advance its handshake. Returns the bytes moved. */
static size_t
pump(tls_session_t *c, struct server *s, size_t step) {
    size_t moved = 0;
    char b[4096];
    size_t n;
    if (step > sizeof b) step = sizeof b;
    while ((n = tls_session_take(c, b, step)) > 0) {
        cr_assert_eq(BIO_write(s->in, b, (int)n), (int)n);
        moved += n;
        if (!SSL_is_init_finished(s->ssl)) SSL_do_handshake(s->ssl);
    }
    if (!SSL_is_init_finished(s->ssl)) SSL_do_handshake(s->ssl);
    int m;
    while ((m = BIO_read(s->out, b, (int)step)) > 0) {
        tls_session_feed(c, b, (size_t)m);
        moved += (size_t)m;
    }
    return moved;
}

/* handshake drives both sides until the client is done or fails. */
static int
handshake(tls_session_t *c, struct server *s, size_t step) {
    int rc = 1;
    for (int i = 0; i < 100000 && rc == 1; i++) {
        rc = tls_session_handshake(c);
        if (rc == 1 && pump(c, s, step) == 0) break;
    }
    /* The client's last flight (Finished) reaches the server. */
    pump(c, s, step);
    return rc;
}

static tls_session_t *
client(tls_ctx_t **ctx, const struct tls_opts *o, const char *host) {
    char err[256] = "";
    *ctx = tls_ctx_new(o, err, sizeof err);
    cr_assert_not_null(*ctx, "%s", err);
    tls_session_t *c = tls_session_new(*ctx, host, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

ParameterizedTestParameters(tls, data_cut_anywhere) {
    static size_t steps[] = {1, 2, 3, 7, 100, 1500, 4096};
    return cr_make_param_array(size_t, steps, sizeof steps / sizeof *steps);
}

ParameterizedTest(size_t *step, tls, data_cut_anywhere) {
    struct server s;
    server_init(&s, ca.server_crt, ca.server_key);
    tls_ctx_t *ctx;
    struct tls_opts o = {.ca_file = ca.ca, .verify = true};
    tls_session_t *c = client(&ctx, &o, "127.0.0.1");
    cr_assert_eq(handshake(c, &s, *step), 0, "%s", tls_session_error(c));

    /* Client to server: a command. */
    static const char cmd[] = "*1\r\n$4\r\nPING\r\n";
    cr_assert_eq(tls_session_write(c, cmd, sizeof cmd - 1), 0);
    pump(c, &s, *step);
    char got[64];
    int n = SSL_read(s.ssl, got, sizeof got);
    cr_assert_eq(n, (int)sizeof cmd - 1);
    cr_assert_arr_eq(got, cmd, sizeof cmd - 1);

    /* Server to client: 100 kB in several records, fed in pieces; the
     * client's reads between pieces answer 0 (more input needed). */
    size_t total = 100000;
    char *big = malloc(total);
    for (size_t i = 0; i < total; i++) big[i] = (char)(i % 251);
    cr_assert_eq(SSL_write(s.ssl, big, (int)total), (int)total);
    struct buf back;
    buf_init(&back);
    char b[4096];
    int r;
    while ((r = BIO_read(s.out, b, (int)(*step < sizeof b ? *step : sizeof b))) > 0) {
        tls_session_feed(c, b, (size_t)r);
        ssize_t m;
        while ((m = tls_session_read(c, b, sizeof b)) > 0) buf_append(&back, b, (size_t)m);
        cr_assert_eq(m, 0, "%s", tls_session_error(c));
    }
    cr_assert_eq(back.len, total);
    cr_assert_eq(memcmp(back.data, big, total), 0);
    buf_free(&back);
    free(big);

    /* The server closes the session: the client reads UV_EOF. */
    SSL_shutdown(s.ssl);
    pump(c, &s, *step);
    cr_assert_eq(tls_session_read(c, b, sizeof b), UV_EOF);
    tls_session_free(c);
    tls_ctx_free(ctx);
    server_free(&s);
}

struct refusal {
    int cert;      /* 0 server, 1 other, 2 self-signed */
    char host[32]; /* what the client asks for */
    bool verify;
    char why[64]; /* "" when the handshake must succeed */
};

ParameterizedTestParameters(tls, checks) {
    static struct refusal cases[] = {
        {0, "127.0.0.1", true, ""},
        {0, "localhost", true, ""},
        {0, "LOCALHOST", true, ""},
        {0, "127.0.0.2", true, "IP address mismatch"},
        {0, "other.invalid", true, "hostname mismatch"},
        {1, "other.invalid", true, ""},
        {1, "localhost", true, "hostname mismatch"},
        {1, "sub.other.invalid", true, "hostname mismatch"},
        {2, "localhost", true, "self-signed certificate"},
        {2, "localhost", false, ""},
        {1, "localhost", false, ""},
    };
    return cr_make_param_array(struct refusal, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct refusal *t, tls, checks) {
    const char *crt[] = {ca.server_crt, ca.other_crt, ca.self_crt};
    const char *key[] = {ca.server_key, ca.other_key, ca.self_key};
    struct server s;
    server_init(&s, crt[t->cert], key[t->cert]);
    tls_ctx_t *ctx;
    struct tls_opts o = {.ca_file = t->verify ? ca.ca : NULL, .verify = t->verify};
    tls_session_t *c = client(&ctx, &o, t->host);
    int rc = handshake(c, &s, 4096);
    if (!t->why[0]) {
        cr_assert_eq(rc, 0, "%s: %s", t->host, tls_session_error(c));
    } else {
        cr_assert_eq(rc, UV_EPROTO, "%s: accepted", t->host);
        char want[128];
        snprintf(want, sizeof want, "certificate verify failed: %s", t->why);
        cr_assert(strstr(tls_session_error(c), want), "%s: %s", t->host, tls_session_error(c));
    }
    tls_session_free(c);
    tls_ctx_free(ctx);
    server_free(&s);
}

Test(tls, sni_carries_names_not_addresses) {
    const char *hosts[] = {"localhost", "127.0.0.1"};
    const char *want[] = {"localhost", NULL};
    for (int i = 0; i < 2; i++) {
        struct server s;
        server_init(&s, ca.server_crt, ca.server_key);
        tls_ctx_t *ctx;
        struct tls_opts o = {.ca_file = ca.ca, .verify = true};
        tls_session_t *c = client(&ctx, &o, hosts[i]);
        cr_assert_eq(handshake(c, &s, 4096), 0, "%s", tls_session_error(c));
        const char *sni = SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name);
        if (want[i]) cr_assert_str_eq(sni ? sni : "(none)", want[i]);
        else cr_assert_null(sni, "an address went out as SNI: %s", sni);
        tls_session_free(c);
        tls_ctx_free(ctx);
        server_free(&s);
    }
}

Test(tls, garbage_from_the_server_is_an_error) {
    tls_ctx_t *ctx;
    struct tls_opts o = {.ca_file = ca.ca, .verify = true};
    tls_session_t *c = client(&ctx, &o, "localhost");
    cr_assert_eq(tls_session_handshake(c), 1);
    char hello[4096];
    cr_assert_gt(tls_session_take(c, hello, sizeof hello), 0);
    /* A plain Redis server's answer to bytes it cannot parse. */
    static const char plain[] = "-ERR Protocol error: invalid multibulk length\r\n";
    tls_session_feed(c, plain, sizeof plain - 1);
    cr_assert_eq(tls_session_handshake(c), UV_EPROTO);
    cr_assert(strstr(tls_session_error(c), "TLS handshake: "), "%s", tls_session_error(c));
    tls_session_free(c);
    tls_ctx_free(ctx);
}

Test(tls, ca_files) {
    char err[256];
    struct tls_opts missing = {.ca_file = "/nonexistent/ca.pem", .verify = true};
    cr_assert_eq(tls_opts_check(&missing, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot read the CA file /nonexistent/ca.pem: No such file"), "%s", err);
    struct tls_opts key = {.ca_file = ca.server_key, .verify = true};
    cr_assert_eq(tls_opts_check(&key, err, sizeof err), -1);
    cr_assert(strstr(err, "holds no usable certificate"), "%s", err);
    struct tls_opts good = {.ca_file = ca.ca, .verify = true};
    cr_assert_eq(tls_opts_check(&good, err, sizeof err), 0, "%s", err);
    cr_assert_eq(tls_opts_check(NULL, err, sizeof err), 0, "the system store: %s", err);
}
