/* transport.c — TCP (and TLS) client connections on libuv. See transport.h.
 *
 * Life cycle. t->refs counts what libuv will still call back: the prepare
 * handle (from transport_new until closed), the resolver request (until
 * on_resolved), and the TCP handle (from uv_tcp_init until its close
 * callback). The memory goes when transport_close has been called and the
 * count reaches zero, always from one of those callbacks, so never during
 * a call into us. Write requests need no count: libuv calls them back
 * (with UV_ECANCELED) before the TCP handle's close callback.
 *
 * Re-entrancy: on_connect, on_read and on_error may close the transport.
 * After each of them the code checks t->closing and t->state before it
 * touches anything else. */
#include "common/transport.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"

#define READ_BUF_SIZE 65536
#define KEEPALIVE_S 60
/* An output buffer grown past this by a burst is given back once sent. */
#define OUT_KEEP_BYTES (256 * 1024)

enum state { T_RESOLVING, T_CONNECTING, T_HANDSHAKE, T_OPEN, T_FAILED };

struct wreq {
    uv_write_t req;
    transport_t *t;
    size_t len;
    char data[];
};

struct transport {
    uv_loop_t *loop;
    char *host;
    int port;
    tls_ctx_t *tls;         /* the caller's; NULL: plain TCP */
    tls_session_t *session; /* from TCP connected on, with tls */
    struct transport_cbs cbs;
    void *arg;

    enum state state;
    bool closing;
    int refs;

    uv_getaddrinfo_t resolver;
    struct addrinfo *addrs, *next_addr; /* addrs: the resolver's list, to free */
    struct addrinfo literal;            /* the one address of an IP literal host */
    struct sockaddr_storage literal_addr;
    uv_tcp_t tcp;
    bool tcp_open;    /* initialised, not yet closed */
    bool tcp_closing; /* closed between two addresses */
    uv_connect_t connect_req;
    uv_prepare_t flusher; /* sends what this turn of the loop wrote */
    bool writing;         /* a uv_write is in flight */
    struct buf out;       /* plaintext not yet handed to TLS or the socket */
    char last_error[192]; /* of the last address tried */

    transport_close_cb close_cb;
    void *close_arg;
    char rbuf[READ_BUF_SIZE];
};

static void try_connect(transport_t *t);
static void on_attempt_closed(uv_handle_t *h);

/* --- teardown --- */

static void
release(transport_t *t) {
    assert(t->refs > 0);
    if (--t->refs > 0 || !t->closing) return;
    transport_close_cb cb = t->close_cb;
    void *arg = t->close_arg;
    if (t->addrs) uv_freeaddrinfo(t->addrs);
    tls_session_free(t->session);
    buf_free(&t->out);
    free(t->host);
    free(t);
    if (cb) cb(arg);
}

static void
on_handle_closed(uv_handle_t *h) {
    transport_t *t = h->data;
    if (h == (uv_handle_t *)&t->tcp) t->tcp_open = false;
    release(t);
}

/* fail reports the first error; everything after it is ignored until the
 * owner closes. */
static void
fail(transport_t *t, const char *why) {
    if (t->closing || t->state == T_FAILED) return;
    t->state = T_FAILED;
    uv_prepare_stop(&t->flusher);
    t->cbs.on_error(t, why, t->arg);
}

/* --- writing --- */

static void flush(transport_t *t);

static void
on_flush(uv_prepare_t *p) {
    transport_t *t = p->data;
    uv_prepare_stop(p);
    flush(t);
}

static void
schedule_flush(transport_t *t) {
    if (!t->closing && t->state != T_FAILED && !t->writing) uv_prepare_start(&t->flusher, on_flush);
}

static void
on_written(uv_write_t *req, int status) {
    struct wreq *w = (struct wreq *)req;
    transport_t *t = w->t;
    free(w);
    if (t->closing) return;
    t->writing = false;
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof why, "write: %s", uv_strerror(status));
        fail(t, why);
        return;
    }
    flush(t);
}

/* flush hands the waiting bytes to one uv_write: the plaintext itself, or
 * for TLS what encrypting it (and the handshake) left in the session. */
static void
flush(transport_t *t) {
    if (t->closing || t->state == T_FAILED || t->writing) return;
    struct wreq *w;
    size_t n;
    if (t->session) {
        if (t->state == T_OPEN && t->out.len > 0) {
            int rc = tls_session_write(t->session, t->out.data, t->out.len);
            buf_reset(&t->out);
            if (rc < 0) {
                fail(t, tls_session_error(t->session));
                return;
            }
        }
        n = tls_session_pending(t->session);
        if (n == 0) return;
        w = xmalloc(sizeof *w + n);
        n = tls_session_take(t->session, w->data, n);
    } else {
        n = t->out.len;
        if (n == 0) return;
        w = xmalloc(sizeof *w + n);
        memcpy(w->data, t->out.data, n);
        buf_reset(&t->out);
    }
    if (t->out.cap > OUT_KEEP_BYTES) {
        buf_free(&t->out);
        buf_init(&t->out);
    }
    w->t = t;
    w->len = n;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&t->tcp, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        char why[160];
        snprintf(why, sizeof why, "write: %s", uv_strerror(rc));
        fail(t, why);
        return;
    }
    t->writing = true;
}

int
transport_write(transport_t *t, const char *data, size_t len) {
    if (t->closing || t->state != T_OPEN) return UV_ENOTCONN;
    buf_append(&t->out, data, len);
    schedule_flush(t);
    return 0;
}

/* --- reading --- */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    transport_t *t = h->data;
    (void)suggested;
    *b = uv_buf_init(t->rbuf, sizeof t->rbuf);
}

static void
opened(transport_t *t) {
    t->state = T_OPEN;
    t->cbs.on_connect(t, t->arg);
}

/* handshake_step advances TLS and sends what it produced. */
static void
handshake_step(transport_t *t) {
    int rc = tls_session_handshake(t->session);
    if (tls_session_pending(t->session) > 0) schedule_flush(t);
    if (rc < 0) fail(t, tls_session_error(t->session));
    else if (rc == 0) opened(t);
}

/* read_tls decrypts what has arrived. The bytes are in the session now,
 * so rbuf holds the plaintext. */
static void
read_tls(transport_t *t, const char *data, size_t len) {
    tls_session_feed(t->session, data, len);
    if (t->state == T_HANDSHAKE) handshake_step(t);
    while (!t->closing && t->state == T_OPEN) {
        ssize_t n = tls_session_read(t->session, t->rbuf, sizeof t->rbuf);
        if (n < 0) {
            fail(t, n == UV_EOF ? "server closed the connection" : tls_session_error(t->session));
            return;
        }
        if (n == 0) break;
        t->cbs.on_read(t, t->rbuf, (size_t)n, t->arg);
    }
    /* Reading may answer the server (a key update, say). */
    if (!t->closing && t->state == T_OPEN && tls_session_pending(t->session) > 0) schedule_flush(t);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    transport_t *t = s->data;
    (void)b;
    if (t->closing || t->state == T_FAILED || nread == 0) return;
    if (nread < 0) {
        char why[160];
        if (nread == UV_EOF) snprintf(why, sizeof why, "server closed the connection");
        else snprintf(why, sizeof why, "read: %s", uv_strerror((int)nread));
        fail(t, why);
        return;
    }
    if (t->session) read_tls(t, t->rbuf, (size_t)nread);
    else if (t->state == T_OPEN) t->cbs.on_read(t, t->rbuf, (size_t)nread, t->arg);
}

/* --- connecting --- */

static void
on_connected(uv_connect_t *req, int status) {
    transport_t *t = req->data;
    if (t->closing) return;
    if (status < 0) {
        snprintf(t->last_error + strlen(t->last_error),
                 sizeof t->last_error - strlen(t->last_error), ": %s", uv_strerror(status));
        if (t->next_addr) {
            /* The next address needs a fresh handle. */
            t->tcp_closing = true;
            uv_close((uv_handle_t *)&t->tcp, on_attempt_closed);
            return;
        }
        fail(t, t->last_error);
        return;
    }
    if (t->addrs) uv_freeaddrinfo(t->addrs);
    t->addrs = t->next_addr = NULL;
    int rc = uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_read);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "read: %s", uv_strerror(rc));
        fail(t, why);
        return;
    }
    if (!t->tls) {
        opened(t);
        return;
    }
    char err[256];
    t->session = tls_session_new(t->tls, t->host, err, sizeof err);
    if (!t->session) {
        fail(t, err);
        return;
    }
    t->state = T_HANDSHAKE;
    handshake_step(t);
}

/* on_attempt_closed runs when the handle of a failed address is closed. */
static void
on_attempt_closed(uv_handle_t *h) {
    transport_t *t = h->data;
    t->tcp_open = false;
    t->tcp_closing = false;
    if (t->closing) {
        release(t);
        return;
    }
    t->refs--; /* the next attempt takes a new reference */
    try_connect(t);
}

static void
try_connect(transport_t *t) {
    struct addrinfo *ai = t->next_addr;
    if (!ai) {
        fail(t, t->last_error[0] ? t->last_error : "no address to connect to");
        return;
    }
    t->next_addr = ai->ai_next;
    char ip[64] = "?";
    uv_ip_name(ai->ai_addr, ip, sizeof ip);
    snprintf(t->last_error, sizeof t->last_error, "connect %s%s%s:%d",
             ai->ai_family == AF_INET6 ? "[" : "", ip, ai->ai_family == AF_INET6 ? "]" : "",
             t->port);
    uv_tcp_init(t->loop, &t->tcp);
    t->tcp.data = t;
    t->tcp_open = true;
    t->refs++;
    t->state = T_CONNECTING;
    uv_tcp_nodelay(&t->tcp, 1);
    uv_tcp_keepalive(&t->tcp, 1, KEEPALIVE_S);
    t->connect_req.data = t;
    int rc = uv_tcp_connect(&t->connect_req, &t->tcp, ai->ai_addr, on_connected);
    if (rc < 0) {
        snprintf(t->last_error + strlen(t->last_error),
                 sizeof t->last_error - strlen(t->last_error), ": %s", uv_strerror(rc));
        t->tcp_closing = true;
        uv_close((uv_handle_t *)&t->tcp, on_attempt_closed);
    }
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    transport_t *t = req->data;
    if (t->closing) {
        if (res) uv_freeaddrinfo(res);
        release(t);
        return;
    }
    t->refs--; /* still held by the prepare handle */
    if (status < 0) {
        snprintf(t->last_error, sizeof t->last_error, "resolve %s: %s", t->host,
                 uv_strerror(status));
        fail(t, t->last_error);
        return;
    }
    t->addrs = t->next_addr = res;
    try_connect(t);
}

/* --- public API --- */

/* on_start_failed reports, from the loop, a resolver that could not start. */
static void
on_start_failed(uv_prepare_t *p) {
    transport_t *t = p->data;
    uv_prepare_stop(p);
    fail(t, t->last_error);
}

transport_t *
transport_new(uv_loop_t *loop, const char *host, int port, tls_ctx_t *tls,
              const struct transport_cbs *cbs, void *arg) {
    assert(cbs && cbs->on_connect && cbs->on_read && cbs->on_error);
    transport_t *t = xcalloc(1, sizeof *t);
    t->loop = loop;
    t->host = xstrdup(host);
    t->port = port;
    t->tls = tls;
    t->cbs = *cbs;
    t->arg = arg;
    buf_init(&t->out);
    uv_prepare_init(loop, &t->flusher);
    t->flusher.data = t;
    t->refs = 1; /* the prepare handle */
    /* An address literal needs no resolver: connect at once, as hiredis
     * did (a failure still comes back from the loop, through on_error). */
    struct sockaddr_storage *sa = &t->literal_addr;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0) {
        t->literal.ai_family = sa->ss_family;
        t->literal.ai_addr = (struct sockaddr *)sa;
        t->literal.ai_addrlen =
            sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        t->next_addr = &t->literal;
        try_connect(t);
        return t;
    }
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    t->resolver.data = t;
    t->state = T_RESOLVING;
    int rc = uv_getaddrinfo(loop, &t->resolver, on_resolved, host, service, &hints);
    if (rc < 0) {
        /* Nothing else has started: report it from the loop too. */
        snprintf(t->last_error, sizeof t->last_error, "resolve %s: %s", host, uv_strerror(rc));
        t->next_addr = NULL;
        t->state = T_CONNECTING;
        uv_prepare_start(&t->flusher, on_start_failed);
        return t;
    }
    t->refs++; /* the resolver */
    return t;
}

void
transport_close(transport_t *t, transport_close_cb cb, void *arg) {
    assert(!t->closing);
    t->closing = true;
    t->close_cb = cb;
    t->close_arg = arg;
    if (t->state == T_RESOLVING) uv_cancel((uv_req_t *)&t->resolver);
    if (t->tcp_open && !t->tcp_closing) uv_close((uv_handle_t *)&t->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&t->flusher, on_handle_closed);
}
