/* tls.c — OpenSSL client sessions over memory BIOs. See tls.h.
 *
 * Why memory BIOs and not SSL_set_fd: libuv owns the socket (uv_tcp_t
 * reads into our buffer and writes from it), so OpenSSL only ever sees
 * bytes. The "in" BIO returns "retry" when empty (BIO_set_mem_eof_return
 * -1), which OpenSSL reports as SSL_ERROR_WANT_READ: the caller waits for
 * more bytes from the network. The "out" BIO grows as needed; the caller
 * empties it after every call that may have written to it. */
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/xalloc.h"

struct tls_ctx {
    SSL_CTX *ctx;
};

struct tls_session {
    SSL *ssl;
    BIO *in, *out; /* owned by ssl */
    char err[256];
};

/* openssl_reason writes the oldest queued OpenSSL error's reason, or
 * fallback, and empties the queue. */
static void
openssl_reason(char *out, size_t n, const char *fallback) {
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(out, n, "%s", r ? r : fallback);
    ERR_clear_error();
}

tls_ctx_t *
tls_ctx_new(const struct tls_opts *o, char *err, size_t errlen) {
    struct tls_opts dflt = {.ca_file = NULL, .verify = true};
    if (!o) o = &dflt;
    char why[200];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        openssl_reason(why, sizeof why, "out of memory");
        snprintf(err, errlen, "TLS: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->ca_file) {
        if (access(o->ca_file, R_OK) < 0) {
            snprintf(err, errlen, "cannot read the CA file %s: %s", o->ca_file, strerror(errno));
            goto fail;
        }
        if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
            openssl_reason(why, sizeof why, "unusable");
            snprintf(err, errlen, "the CA file %s holds no usable certificate: %s", o->ca_file,
                     why);
            goto fail;
        }
    } else if (o->verify && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        openssl_reason(why, sizeof why, "unusable");
        snprintf(err, errlen, "cannot load the system's CA certificates: %s", why);
        goto fail;
    }
    SSL_CTX_set_verify(ctx, o->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    tls_ctx_t *c = xcalloc(1, sizeof *c);
    c->ctx = ctx;
    return c;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void
tls_ctx_free(tls_ctx_t *c) {
    if (!c) return;
    SSL_CTX_free(c->ctx);
    free(c);
}

int
tls_opts_check(const struct tls_opts *o, char *err, size_t errlen) {
    tls_ctx_t *c = tls_ctx_new(o, err, errlen);
    tls_ctx_free(c);
    return c ? 0 : -1;
}

/* set_host makes the handshake check host against the certificate: as an
 * IP address when it is one (no SNI then, RFC 6066), else as a DNS name,
 * which also goes out as SNI so that servers behind one address pick the
 * right certificate. */
static int
set_host(SSL *ssl, const char *host) {
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host) != 1) return -1;
    return SSL_set_tlsext_host_name(ssl, host) == 1 ? 0 : -1;
}

tls_session_t *
tls_session_new(tls_ctx_t *c, const char *host, char *err, size_t errlen) {
    char why[200];
    ERR_clear_error();
    SSL *ssl = SSL_new(c->ctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    if (!ssl || !in || !out) {
        openssl_reason(why, sizeof why, "out of memory");
        snprintf(err, errlen, "TLS: %s", why);
        BIO_free(in);
        BIO_free(out);
        SSL_free(ssl);
        return NULL;
    }
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
    if (set_host(ssl, host) < 0) {
        openssl_reason(why, sizeof why, "invalid");
        snprintf(err, errlen, "TLS: cannot check the host name %s: %s", host, why);
        SSL_free(ssl);
        return NULL;
    }
    tls_session_t *s = xcalloc(1, sizeof *s);
    s->ssl = ssl;
    s->in = in;
    s->out = out;
    return s;
}

void
tls_session_free(tls_session_t *s) {
    if (!s) return;
    SSL_free(s->ssl); /* and both BIOs */
    free(s);
}

/* failed records why a call failed: the certificate check's verdict when
 * that is what stopped the handshake, else OpenSSL's reason. */
static int
failed(tls_session_t *s, const char *what) {
    char why[200];
    openssl_reason(why, sizeof why, "unknown error");
    /* With verify off the result may hold a complaint OpenSSL ignored. */
    long v =
        SSL_get_verify_mode(s->ssl) & SSL_VERIFY_PEER ? SSL_get_verify_result(s->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(s->err, sizeof s->err, "TLS %s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(v));
    else snprintf(s->err, sizeof s->err, "TLS %s: %s", what, why);
    return UV_EPROTO;
}

int
tls_session_handshake(tls_session_t *s) {
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) return 0;
    int e = SSL_get_error(s->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 1;
    return failed(s, "handshake");
}

void
tls_session_feed(tls_session_t *s, const char *data, size_t len) {
    /* A memory BIO takes everything (it grows; OOM aborts in OpenSSL's
     * allocator only for absurd sizes, and len is one socket read). */
    while (len > 0) {
        int chunk = len > (size_t)1 << 30 ? 1 << 30 : (int)len;
        int n = BIO_write(s->in, data, chunk);
        if (n <= 0) break;
        data += n;
        len -= (size_t)n;
    }
}

ssize_t
tls_session_read(tls_session_t *s, char *buf, size_t cap) {
    ERR_clear_error();
    int n = SSL_read(s->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0) return n;
    int e = SSL_get_error(s->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(s->err, sizeof s->err, "TLS: the server closed the session");
        return UV_EOF;
    }
    return failed(s, "read");
}

int
tls_session_write(tls_session_t *s, const char *data, size_t len) {
    while (len > 0) {
        int chunk = len > (size_t)1 << 30 ? 1 << 30 : (int)len;
        ERR_clear_error();
        int n = SSL_write(s->ssl, data, chunk);
        if (n <= 0) return failed(s, "write");
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

size_t
tls_session_pending(const tls_session_t *s) {
    return BIO_ctrl_pending(s->out);
}

size_t
tls_session_take(tls_session_t *s, char *buf, size_t cap) {
    int n = BIO_read(s->out, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    return n > 0 ? (size_t)n : 0;
}

const char *
tls_session_error(const tls_session_t *s) {
    return s->err;
}
