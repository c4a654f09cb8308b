/* conn.c — one client: read, parse, dispatch, write, time out, close.
 * See conn.h for the reference-count rule that keeps late answers safe. */
#include "web/conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_class.h"
#include "common/config.h"
#include "common/job.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/server.h"

/* How long a conn that has sent its last answer keeps reading (and
 * discarding) before closing, so the client sees the answer rather than a
 * reset caused by unread request bytes. */
#define LINGER_MS 2000

/* One uv_write: the request travels with the buffers it sends (STYLE rule 3). */
struct write_req {
    uv_write_t req;
    conn_t *conn;
    unsigned stream; /* a piece of the streamed answer with this id, or 0 */
    struct buf head;
    struct buf body;
};

struct req_stream {
    req_more_cb more;
    void *arg;
    int status;
    bool chunked;
    bool head_only;
    bool asking; /* inside more: a write answers it, no second call */
    int pending; /* pieces written, not yet taken by the socket */
    size_t bytes;
    unsigned id; /* names its writes (write_req.stream) */
};

static void process(conn_t *c);
static void ask_more(struct req *req);
static void cors_headers(const struct config *cfg, const struct http_request *http,
                         struct response *r);
static void update_io(conn_t *c);

static void
conn_unref(conn_t *c) {
    assert(c->refs > 0);
    if (--c->refs > 0) return;
    http_parse_free(&c->parse);
    buf_free(&c->in);
    free(c);
}

static void
on_close(uv_handle_t *h) {
    conn_t *c = h->data;
    if (--c->handles_open > 0) return;
    /* A request still being answered learns that its client is gone; the
     * request's reference keeps c alive until it ends. */
    if (c->req && c->req->gone_cb) {
        req_gone_cb cb = c->req->gone_cb;
        c->req->gone_cb = NULL;
        cb(c->req, c->req->gone_arg);
    }
    server_conn_closed(c->server, c);
    conn_unref(c); /* the conn's own reference */
}

void
conn_close(conn_t *c) {
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

/* --- writing --- */

static void
on_shutdown(uv_shutdown_t *sr, int status) {
    conn_t *c = sr->data;
    free(sr);
    if (status < 0 && !c->closing) conn_close(c);
    conn_unref(c);
}

/* finish_close starts the orderly end once the last answer is written:
 * FIN first, then read and drop what the client still sends, then close. */
static void
finish_close(conn_t *c) {
    if (c->closing || c->lingering) return;
    c->lingering = true;
    /* A request of its own (STYLE rule 3): a conn pays for it only at its end. */
    uv_shutdown_t *sr = xmalloc(sizeof *sr);
    sr->data = c;
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(sr);
        conn_close(c);
        return;
    }
    c->refs++;
    update_io(c);
}

static void
on_write(uv_write_t *wr, int status) {
    struct write_req *w = wr->data;
    conn_t *c = w->conn;
    unsigned stream = w->stream;
    buf_free(&w->head);
    buf_free(&w->body);
    free(w);
    c->writes--;
    struct req *streaming =
        stream && c->req && c->req->stream && c->req->stream->id == stream ? c->req : NULL;
    if (streaming) streaming->stream->pending--;
    if (!c->closing) {
        if (status < 0) {
            log_debug("msg=\"write failed\" err=%s", uv_strerror(status));
            conn_close(c);
        } else if (c->writes == 0 && !c->req && (c->close_after || c->draining)) {
            finish_close(c);
        } else {
            update_io(c);
        }
    }
    /* A streamed answer's next piece (or, the client gone, its cleanup). */
    if (streaming && streaming->stream->pending == 0) ask_more(streaming);
    conn_unref(c);
}

/* send_response writes resp on c and logs the access line; resp's buffers
 * are taken. Returns the bytes queued. */
static size_t
send_response(conn_t *c, struct response *resp, const struct http_request *http, uint64_t start_ns,
              const char *request_id) {
    if (request_id && request_id[0]) response_header(resp, "X-Request-Id", "%s", request_id);
    if (http) cors_headers(c->app->cfg, http, resp);
    struct response_wire wire = {
        .http_minor = http ? http->http_minor : 1,
        .keep_alive = http && http->keep_alive && !c->draining && !c->close_after,
        .head_only = http && http->method == HTTP_HEAD,
    };
    struct write_req *w = xcalloc(1, sizeof *w);
    w->conn = c;
    w->req.data = w;
    buf_init(&w->head);
    size_t body_len;
    response_serialize(resp, &wire, &w->head, &body_len);
    w->body = resp->body;
    buf_init(&resp->body);
    response_free(resp);
    uv_buf_t bufs[2] = {uv_buf_init(w->head.data, w->head.len),
                        uv_buf_init(w->body.data ? w->body.data : "", body_len)};
    size_t bytes = w->head.len + body_len;
    if (!wire.keep_alive) c->close_after = true;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, body_len ? 2 : 1, on_write);
    if (rc < 0) {
        buf_free(&w->head);
        buf_free(&w->body);
        free(w);
        conn_close(c);
    } else {
        c->writes++;
        c->refs++;
    }
    uint64_t us = (uv_hrtime() - start_ns) / 1000;
    log_info("msg=access method=%s path=%s status=%d bytes=%zu us=%llu request_id=%s",
             http ? http->method_name : "-", http ? log_q(http->path) : "-", resp->status, bytes,
             (unsigned long long)us, request_id && request_id[0] ? request_id : "-");
    return bytes;
}

static void
send_error(conn_t *c, int status, const char *title, const char *detail) {
    struct response r;
    response_init(&r, status);
    response_problem(&r, status, title, detail);
    c->close_after = true;
    send_response(c, &r, NULL, uv_hrtime(), NULL);
}

static void
send_continue(conn_t *c) {
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct write_req *w = xcalloc(1, sizeof *w);
    w->conn = c;
    w->req.data = w;
    buf_init(&w->head);
    buf_init(&w->body);
    buf_append(&w->head, line, sizeof line - 1);
    uv_buf_t b = uv_buf_init(w->head.data, w->head.len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        buf_free(&w->head);
        free(w);
        conn_close(c);
        return;
    }
    c->writes++;
    c->refs++;
}

/* req_done frees the answered req and goes on with the conn's input. */
static void
req_done(struct req *req) {
    conn_t *c = req->conn;
    http_request_free(req->http);
    free(req->stream);
    free(req);
    c->req = NULL;
    bool alive = !c->closing;
    if (alive && !c->processing) process(c);
    conn_unref(c); /* the request's reference; frees c if it was the last */
}

void
req_send(struct req *req, struct response *resp) {
    conn_t *c = req->conn;
    assert(c->req == req && !req->stream);
    http_metrics_observe(&c->app->http_metrics, req->http->method_name,
                         req->match.route ? req->match.route->pattern : NULL, resp->status,
                         uv_hrtime() - req->start_ns);
    if (!c->closing) {
        send_response(c, resp, req->http, req->start_ns, req->request_id);
    } else {
        log_info("msg=access method=%s path=%s status=%d bytes=0 us=%llu client=gone",
                 req->http->method_name, log_q(req->http->path), resp->status,
                 (unsigned long long)((uv_hrtime() - req->start_ns) / 1000));
        response_free(resp);
    }
    req_done(req);
}

/* --- streamed answers --- */

bool
req_stream_gone(const struct req *req) {
    return req->conn->closing || req->stream->head_only;
}

/* ask_more calls the handler for the next piece, once per round. */
static void
ask_more(struct req *req) {
    struct req_stream *st = req->stream;
    if (st->asking || st->pending > 0) return;
    st->asking = true;
    st->more(req, st->arg);
}

/* stream_send writes prefix (may be empty) and body on c for req's
 * stream; both buffers are taken. */
static void
stream_send(struct req *req, struct buf *prefix, struct buf *body, bool counted) {
    conn_t *c = req->conn;
    struct write_req *w = xcalloc(1, sizeof *w);
    w->conn = c;
    w->stream = counted ? req->stream->id : 0;
    w->req.data = w;
    w->head = *prefix;
    w->body = *body;
    buf_init(prefix);
    buf_init(body);
    req->stream->bytes += w->head.len + w->body.len;
    uv_buf_t bufs[2] = {uv_buf_init(w->head.data, w->head.len),
                        uv_buf_init(w->body.data, w->body.len)};
    int n = w->head.len ? 2 : 1;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs + 2 - n, (unsigned)n, on_write);
    if (rc < 0) {
        buf_free(&w->head);
        buf_free(&w->body);
        free(w);
        conn_close(c);
        return;
    }
    c->writes++;
    c->refs++;
    if (counted) req->stream->pending++;
    update_io(c);
}

void
req_stream_start(struct req *req, struct response *head, req_more_cb more, void *arg) {
    conn_t *c = req->conn;
    assert(c->req == req && !req->stream);
    struct req_stream *st = xcalloc(1, sizeof *st);
    st->more = more;
    st->arg = arg;
    st->status = head->status;
    st->head_only = req->http->method == HTTP_HEAD;
    st->chunked = req->http->http_minor > 0;
    st->id = ++c->streams;
    req->stream = st;
    buf_reset(&head->body);
    if (!c->closing) {
        if (req->request_id[0]) response_header(head, "X-Request-Id", "%s", req->request_id);
        cors_headers(c->app->cfg, req->http, head);
        struct response_wire wire = {
            .http_minor = req->http->http_minor,
            /* An HTTP/1.0 body ends with the connection. */
            .keep_alive = st->chunked && req->http->keep_alive && !c->draining && !c->close_after,
            .head_only = st->head_only,
            .streamed = true,
        };
        if (!wire.keep_alive) c->close_after = true;
        struct buf none, out;
        buf_init(&none);
        buf_init(&out);
        size_t body_len;
        response_serialize(head, &wire, &out, &body_len);
        stream_send(req, &none, &out, true);
    }
    response_free(head);
    if (st->pending == 0) ask_more(req); /* the client is gone already */
}

void
req_stream_write(struct req *req, struct buf *piece) {
    struct req_stream *st = req->stream;
    st->asking = false;
    if (req_stream_gone(req) || piece->len == 0) {
        buf_free(piece);
        ask_more(req);
        return;
    }
    conn_t *c = req->conn;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + piece->len > CONN_STREAM_BACKLOG) {
        /* A pushed stream (events) whose client reads too slowly. */
        log_info("msg=\"stream client too slow, closing\" path=%s", log_q(req->http->path));
        buf_free(piece);
        conn_close(c); /* the writes still queued are canceled: more follows */
        return;
    }
    struct buf frame;
    buf_init(&frame);
    if (st->chunked) {
        buf_printf(&frame, "%zx\r\n", piece->len);
        buf_append_str(piece, "\r\n");
    }
    stream_send(req, &frame, piece, true);
    if (st->pending == 0) ask_more(req); /* the write failed: the client is gone */
}

void
req_stream_end(struct req *req, bool complete) {
    conn_t *c = req->conn;
    struct req_stream *st = req->stream;
    assert(c->req == req && st);
    st->asking = true; /* no more calls */
    bool gone = c->closing;
    if (!c->closing && !complete) {
        conn_close(c);
    } else if (!c->closing && st->chunked && !st->head_only) {
        struct buf none, last;
        buf_init(&none);
        buf_init(&last);
        buf_append_str(&last, "0\r\n\r\n");
        stream_send(req, &none, &last, false);
    }
    http_metrics_observe(&c->app->http_metrics, req->http->method_name,
                         req->match.route ? req->match.route->pattern : NULL, st->status,
                         uv_hrtime() - req->start_ns);
    log_info("msg=access method=%s path=%s status=%d bytes=%zu us=%llu request_id=%s%s",
             req->http->method_name, log_q(req->http->path), st->status, st->bytes,
             (unsigned long long)((uv_hrtime() - req->start_ns) / 1000),
             req->request_id[0] ? req->request_id : "-",
             gone       ? " client=gone"
             : complete ? ""
                        : " cut=true");
    req_done(req);
}

void
req_on_gone(struct req *req, req_gone_cb cb, void *arg) {
    req->gone_cb = cb;
    req->gone_arg = arg;
}

void
req_problem(struct req *req, int status, const char *title, const char *detail) {
    struct response r;
    response_init(&r, status);
    response_problem(&r, status, title, detail);
    req_send(req, &r);
}

/* --- reading and dispatch --- */

/* request_id takes the client's X-Request-Id when it is short and plain,
 * else makes one (a UUIDv7: unique and time-ordered). */
static void
request_id(const struct http_request *http, char out[65]) {
    const char *id = http_request_header(http, "X-Request-Id");
    size_t n = id ? strlen(id) : 0;
    if (n > 0 && n <= 64 &&
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789-_.:") == n) {
        memcpy(out, id, n + 1);
        return;
    }
    /* A new id without a system call: 64 random bits and the pid, taken
     * at the process's first request, and a counter. Only the serving
     * processes answer requests, forked by the prefork master before any
     * (web/prefork.c), so no two processes share a seed or a pid. */
    static uint64_t seed, counter;
    static unsigned pid;
    if (!seed) {
        char uuid[JOB_ID_LEN + 1];
        job_id_new(uuid);
        seed = ((strtoull(uuid + 19, NULL, 16) << 48) ^ strtoull(uuid + 24, NULL, 16)) | 1;
        pid = (unsigned)getpid();
    }
    snprintf(out, 65, "%016llx-%x-%llx", (unsigned long long)seed, pid,
             (unsigned long long)++counter);
}

/* client_addr is the peer, or, when the peer is a proxy on our side
 * (loopback or private: nginx in front), the address it names in X-Real-IP. */
static void
client_addr(conn_t *c, const struct http_request *http, union req_addr *out) {
    memset(out, 0, sizeof *out);
    if (!c->have_peer) {
        /* Once per connection: the peer does not change. */
        if (c->closing) return;
        struct sockaddr_storage peer_ss;
        int len = sizeof peer_ss;
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer_ss, &len) < 0) return;
        /* Only IP peers have an address worth keeping (a socketpair in
         * tests has none). */
        memset(&c->peer, 0, sizeof c->peer);
        if (peer_ss.ss_family == AF_INET) memcpy(&c->peer.in, &peer_ss, sizeof c->peer.in);
        else if (peer_ss.ss_family == AF_INET6) memcpy(&c->peer.in6, &peer_ss, sizeof c->peer.in6);
        c->have_peer = true;
    }
    if (c->peer.sa.sa_family != AF_INET && c->peer.sa.sa_family != AF_INET6) return;
    *out = c->peer;
    const char *real = http_request_header(http, "X-Real-IP");
    if (!real) return;
    enum addr_class peer = addr_class(&out->sa);
    if (peer != ADDR_LOOPBACK && peer != ADDR_PRIVATE) return;
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, real, &v4.sin_addr) == 1) out->in = v4;
    else if (inet_pton(AF_INET6, real, &v6.sin6_addr) == 1) out->in6 = v6;
}

const struct sockaddr *
req_client_addr(struct req *req) {
    if (!req->have_client_addr) {
        client_addr(req->conn, req->http, &req->client_addr);
        req->have_client_addr = true;
    }
    return &req->client_addr.sa;
}

/* origin_allowed tells whether CORS_ORIGINS lists origin ("*" allows any). */
static bool
origin_allowed(const char *list, const char *origin) {
    if (!list || !origin) return false;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ') m--;
        if ((m == 1 && p[0] == '*') || (m == olen && m > 0 && !strncmp(p, origin, m))) return true;
        p += n;
    }
    return false;
}

static void
cors_headers(const struct config *cfg, const struct http_request *http, struct response *r) {
    const char *origin = http_request_header(http, "Origin");
    if (!origin_allowed(cfg->cors_origins, origin)) return;
    response_header(r, "Access-Control-Allow-Origin", "%s", origin);
    response_header(r, "Vary", "Origin");
    response_header(r, "Access-Control-Expose-Headers", "Location, Retry-After, X-Request-Id");
}

/* preflight answers a CORS preflight (OPTIONS with Access-Control-Request-Method). */
static void
preflight(struct req *req) {
    struct response r;
    response_init(&r, 204);
    if (origin_allowed(req->app->cfg->cors_origins, http_request_header(req->http, "Origin"))) {
        response_header(&r, "Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS");
        response_header(&r, "Access-Control-Allow-Headers",
                        "Content-Type, Idempotency-Key, X-Request-Id, Authorization");
        response_header(&r, "Access-Control-Max-Age", "600");
    }
    req_send(req, &r);
}

static void
dispatch(conn_t *c, struct http_request *http) {
    struct req *req = xcalloc(1, sizeof *req);
    req->conn = c;
    req->app = c->app;
    req->http = http;
    req->start_ns = uv_hrtime();
    request_id(http, req->request_id);
    c->req = req;
    c->refs++;
    c->served++;
    router_match(c->server->routes, c->server->nroutes, http->method_name, http->path, &req->match);
    if (req->match.status == 404) {
        req_problem(req, 404, "Not Found", "no resource at this path");
    } else if (req->match.status == 405 && http->method == HTTP_OPTIONS &&
               http_request_header(http, "Access-Control-Request-Method")) {
        preflight(req);
    } else if (req->match.status == 405) {
        struct response r;
        response_init(&r, 405);
        response_header(&r, "Allow", "%s", req->match.allow);
        response_problem(&r, 405, "Method Not Allowed", "this resource does not allow the method");
        req_send(req, &r);
    } else {
        req->match.route->handler(req);
    }
}

/* process parses buffered input and dispatches requests one at a time,
 * until a handler goes asynchronous, the input runs out, or the conn is
 * ending. */
static void
process(conn_t *c) {
    c->processing = true;
    while (!c->closing && !c->req && !c->close_after && !c->lingering && c->in_off < c->in.len) {
        size_t used;
        int rc = http_parse_feed(&c->parse, c->in.data + c->in_off, c->in.len - c->in_off, &used);
        c->in_off += used;
        if (rc < 0) {
            send_error(c, c->parse.status, response_reason(c->parse.status), c->parse.error);
            break;
        }
        if (http_parse_wants_continue(&c->parse)) send_continue(c);
        if (rc == HTTP_PARSE_MESSAGE) dispatch(c, http_parse_take(&c->parse));
    }
    if (c->in_off == c->in.len) {
        /* Drained: a conn whose request waits long (a long-poll, an
         * event stream) holds no input buffer meanwhile. */
        if (c->req) buf_free(&c->in);
        else buf_reset(&c->in);
        c->in_off = 0;
    }
    c->processing = false;
    if (!c->closing && !c->req && c->writes == 0 && (c->draining || c->close_after) &&
        !c->lingering) {
        finish_close(c);
        return;
    }
    update_io(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    conn_t *c = h->data;
    (void)suggested;
    *out = uv_buf_init(c->server->rbuf, sizeof c->server->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    conn_t *c = s->data;
    (void)b;
    if (c->closing || nread == 0) return;
    if (nread < 0) {
        if (nread != UV_EOF) log_debug("msg=\"read failed\" err=%s", uv_strerror((int)nread));
        /* A half-close with an answer still coming: finish it first (an
         * event stream has no end to wait for: its client left). */
        if (nread == UV_EOF && (c->req || c->writes) && !c->lingering &&
            !(c->req && c->req->gone_cb)) {
            c->close_after = true;
            uv_read_stop(s);
            c->reading = false;
            return;
        }
        conn_close(c);
        return;
    }
    if (c->lingering) return; /* discard */
    buf_append(&c->in, c->server->rbuf, (size_t)nread);
    process(c);
}

static void
on_timer(uv_timer_t *t) {
    conn_t *c = t->data;
    if (c->closing) return;
    if ((c->timer_mode == CONN_TIMER_HEADER || c->timer_mode == CONN_TIMER_BODY) &&
        http_parse_started(&c->parse) && !c->close_after) {
        c->timer_mode = CONN_TIMER_NONE;
        send_error(c, 408, "Request Timeout", "the request did not arrive in time");
        update_io(c);
        return;
    }
    conn_close(c);
}

/* update_io sets reading and the timer from the conn's state: while a
 * request is in flight the conn keeps reading into c->in (so a keep-alive
 * client costs no epoll_ctl per request) until CONN_READ_AHEAD bytes wait
 * there; then reading stops and the rest waits in the kernel. One
 * deadline runs at a time. */
static void
update_io(conn_t *c) {
    if (c->closing) return;
    const struct config *cfg = c->app->cfg;
    bool want_read =
        c->lingering || (!c->close_after && (!c->req || c->in.len - c->in_off < CONN_READ_AHEAD));
    if (want_read && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
            conn_close(c);
            return;
        }
        c->reading = true;
    } else if (!want_read && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }

    enum conn_timer_mode mode;
    uint64_t ms;
    if (c->lingering) mode = CONN_TIMER_LINGER, ms = LINGER_MS;
    else if (c->req && c->req->stream && c->req->stream->pending > 0)
        mode = CONN_TIMER_IDLE, ms = cfg->http_idle_timeout_ms; /* a stalled reader */
    else if (c->req) mode = CONN_TIMER_NONE, ms = 0;
    else if (http_parse_in_body(&c->parse)) mode = CONN_TIMER_BODY, ms = cfg->http_body_timeout_ms;
    else if (http_parse_started(&c->parse) || c->served == 0)
        mode = CONN_TIMER_HEADER, ms = cfg->http_header_timeout_ms;
    else mode = CONN_TIMER_IDLE, ms = cfg->http_idle_timeout_ms;
    if (mode == c->timer_mode) return; /* a deadline runs from when its state began */
    c->timer_mode = mode;
    if (mode == CONN_TIMER_NONE) uv_timer_stop(&c->timer);
    else uv_timer_start(&c->timer, on_timer, ms, 0);
}

void
conn_drain(conn_t *c) {
    if (c->closing) return;
    c->draining = true;
    if (!c->req && c->writes == 0) conn_close(c);
}

/* conn_new makes a conn with its handles initialised on loop and links
 * it into srv. */
static int
conn_new(struct server *srv, struct app *app, uv_loop_t *loop, conn_t **out) {
    conn_t *c = xcalloc(1, sizeof *c);
    c->server = srv;
    c->app = app;
    c->refs = 1;
    buf_init(&c->in);
    struct http_limits lim = {.max_header_bytes = app->cfg->http_max_header_bytes,
                              .max_body_bytes = app->cfg->http_max_body_bytes,
                              .bulk_path = "/api/v1/batches",
                              .max_bulk_body_bytes = app->cfg->http_max_batch_body_bytes};
    http_parse_init(&c->parse, &lim);
    int rc = uv_tcp_init(loop, &c->tcp);
    if (rc < 0) {
        http_parse_free(&c->parse);
        free(c);
        return rc;
    }
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    server_conn_add(srv, c);
    *out = c;
    return 0;
}

/* serve starts a connected conn: the 503 when rejected, else the header
 * deadline (no bytes yet is no excuse). */
static void
serve(conn_t *c, bool reject) {
    uv_tcp_nodelay(&c->tcp, 1); /* fails harmlessly on a socketpair */
    if (reject) send_error(c, 503, "Service Unavailable", "too many open connections");
    update_io(c);
}

int
conn_accept(struct server *srv, struct app *app, uv_stream_t *listener, bool reject) {
    conn_t *c;
    int rc = conn_new(srv, app, listener->loop, &c);
    if (rc < 0) return rc;
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    serve(c, reject);
    return 0;
}

int
conn_open(struct server *srv, struct app *app, uv_loop_t *loop, int fd) {
    conn_t *c;
    int rc = conn_new(srv, app, loop, &c);
    if (rc < 0) return rc;
    rc = uv_tcp_open(&c->tcp, fd);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    serve(c, false);
    return 0;
}
