/* web/conn.c over a socketpair: the real connection code (parser,
 * dispatch, writes, deadlines, the close sequence) behind a test route
 * table, with the test as the client on the other end, read by a uv_poll
 * on the same loop. Keep-alive, pipelining (answers in order, whole or
 * byte by byte), the read-ahead bound, the lingering close, deadlines,
 * and an answer that comes after the connection has gone. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/xalloc.h"
#include "tests/lib/testenv.h"
#include "web/app.h"
#include "web/conn.h"
#include "web/server.h"

#define WAIT_MS 10000

static void setup(void);
static void teardown(void);
TestSuite(conn, .init = setup, .fini = teardown, .timeout = 60);

static uv_loop_t loop;
static struct config cfg;
static struct app app;
static struct server srv;

/* One answer as the client parsed it. */
struct answer {
    int status;
    bool close; /* Connection: close */
    char body[32];
};

/* The client: the test's end of the socketpair. */
static struct {
    int fd;
    uv_poll_t poll;
    bool polling;
    bool eof;
    struct buf in;
    size_t parsed; /* in[0..parsed) are whole answers */
    struct answer *answers;
    size_t nanswers, cap;
    bool raw; /* a streamed answer: the test reads cl.in itself */
} cl = {.fd = -1};

/* Requests /later/{x} holds until the test answers them, oldest first. */
#define MAX_HELD 8
static struct req *held[MAX_HELD];
static size_t nheld;

static void
reply(struct req *req, const char *body) {
    struct response r;
    response_init(&r, 200);
    response_text(&r, 200, NULL, body);
    req_send(req, &r);
}

static void
h_echo(struct req *req) {
    reply(req, req->match.params[0]);
}

static void
h_later(struct req *req) {
    cr_assert_lt(nheld, MAX_HELD);
    held[nheld++] = req;
}

/* h_client answers the client's address as the conn sees it. */
static void
h_client(struct req *req) {
    const struct sockaddr *sa = req_client_addr(req);
    char text[INET6_ADDRSTRLEN] = "not-ip";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
    reply(req, text);
}

/* h_stream begins a streamed answer, sends its parameter as the first
 * piece and holds the request (streamed) for the test to go on. */
static struct req *streamed;
static bool gone;

static void
on_gone(struct req *req, void *arg) {
    (void)arg;
    cr_assert_eq(req, streamed);
    gone = true;
}

/* push writes s on a pushed stream (an event stream's way). */
static void
push(struct req *req, const char *s) {
    struct buf piece;
    buf_init(&piece);
    buf_append(&piece, s, strlen(s));
    req_stream_write(req, &piece);
}

/* on_more: a pushing handler has nothing to add when the socket drains. */
static void
on_more(struct req *req, void *arg) {
    (void)req;
    (void)arg;
}

static void
h_stream(struct req *req) {
    struct response r;
    response_init(&r, 200);
    response_header(&r, "Content-Type", "text/event-stream");
    req_stream_start(req, &r, on_more, NULL);
    cr_assert_not(req_stream_gone(req));
    push(req, req->match.params[0]);
    req_on_gone(req, on_gone, NULL);
    streamed = req;
}

static const struct route routes[] = {
    {"GET", "/echo/{x}", h_echo},
    {"GET", "/later/{x}", h_later},
    {"GET", "/addr", h_client},
    {"GET", "/stream/{x}", h_stream},
};

/* answer_held answers the oldest held request with its parameter. */
static void
answer_held(void) {
    cr_assert_gt(nheld, 0);
    struct req *req = held[0];
    memmove(held, held + 1, --nheld * sizeof held[0]);
    char body[ROUTER_PARAM_MAX + 1];
    snprintf(body, sizeof body, "%s", req->match.params[0]);
    reply(req, body);
}

/* --- the client --- */

/* parse_answers turns whole answers at the end of what arrived into
 * struct answer entries. */
static void
parse_answers(void) {
    while (!cl.raw && cl.parsed < cl.in.len) {
        const char *start = cl.in.data + cl.parsed;
        const char *end = cl.in.data + cl.in.len;
        const char *head_end = memmem(start, (size_t)(end - start), "\r\n\r\n", 4);
        if (!head_end) return;
        size_t head_len = (size_t)(head_end - start) + 4;
        struct answer a = {0};
        cr_assert_eq(sscanf(start, "HTTP/1.%*d %d", &a.status), 1, "not an answer: %.40s", start);
        size_t body_len = 0;
        for (const char *line = strstr(start, "\r\n") + 2; line < head_end;
             line = strstr(line, "\r\n") + 2) {
            if (!strncasecmp(line, "Content-Length:", 15)) body_len = strtoul(line + 15, NULL, 10);
            if (!strncasecmp(line, "Connection: close", 17)) a.close = true;
        }
        if ((size_t)(end - start) < head_len + body_len) return;
        snprintf(a.body, sizeof a.body, "%.*s", (int)body_len, start + head_len);
        if (cl.nanswers == cl.cap) {
            cl.cap = cl.cap ? 2 * cl.cap : 64;
            cl.answers = xrealloc(cl.answers, cl.cap * sizeof cl.answers[0]);
        }
        cl.answers[cl.nanswers++] = a;
        cl.parsed += head_len + body_len;
    }
}

static void
stop_polling(void) {
    if (!cl.polling) return;
    uv_poll_stop(&cl.poll);
    uv_close((uv_handle_t *)&cl.poll, NULL);
    cl.polling = false;
}

static void
on_client_readable(uv_poll_t *p, int status, int events) {
    (void)p;
    (void)events;
    char b[65536];
    for (;;) {
        ssize_t n = status < 0 ? -1 : recv(cl.fd, b, sizeof b, MSG_DONTWAIT);
        if (n > 0) {
            buf_append(&cl.in, b, (size_t)n);
            continue;
        }
        if (n < 0 && status == 0 && (errno == EAGAIN || errno == EINTR)) break;
        cl.eof = true; /* the server closed (or shut down) its side */
        stop_polling();
        break;
    }
    parse_answers();
}

/* connect_client opens a conn on one end of a socketpair (the conn owns
 * it) and keeps the other; sndbuf > 0 shrinks the client's send buffer. */
static void
connect_client(int sndbuf) {
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cl.fd = sv[0];
    cr_assert_eq(fcntl(cl.fd, F_SETFL, O_NONBLOCK), 0);
    if (sndbuf > 0) setsockopt(cl.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    int rc = conn_open(&srv, &app, &loop, sv[1]);
    if (rc < 0) close(sv[1]);
    cr_assert_eq(rc, 0, "conn_open: %s", uv_strerror(rc));
    cr_assert_eq(uv_poll_init(&loop, &cl.poll, cl.fd), 0);
    cr_assert_eq(uv_poll_start(&cl.poll, UV_READABLE, on_client_readable), 0);
    cl.polling = true;
}

/* connect_client_tcp is connect_client over a TCP connection on
 * 127.0.0.1 (a peer whose address the conn can judge). */
static void
connect_client_tcp(void) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    cl.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(cl.fd, (struct sockaddr *)&a, sizeof a), 0);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    close(lfd);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fcntl(cl.fd, F_SETFL, O_NONBLOCK), 0);
    int rc = conn_open(&srv, &app, &loop, fd);
    if (rc < 0) close(fd);
    cr_assert_eq(rc, 0, "conn_open: %s", uv_strerror(rc));
    cr_assert_eq(uv_poll_init(&loop, &cl.poll, cl.fd), 0);
    cr_assert_eq(uv_poll_start(&cl.poll, UV_READABLE, on_client_readable), 0);
    cl.polling = true;
}

/* try_send sends what the socket takes now; returns the bytes sent. */
static size_t
try_send(const char *data, size_t len) {
    ssize_t n = send(cl.fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        cr_assert(errno == EAGAIN || errno == EINTR, "send: %s", strerror(errno));
        return 0;
    }
    return (size_t)n;
}

/* client_send sends all of data, letting the loop run (the server read)
 * whenever the socket is full. */
static void
client_send(const char *data, size_t len) {
    uint64_t until = uv_now(&loop) + WAIT_MS;
    while (len) {
        size_t n = try_send(data, len);
        data += n;
        len -= n;
        if (!len) break;
        cr_assert_lt(uv_now(&loop), until, "the server stopped reading");
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_update_time(&loop);
    }
}

static void
client_send_str(const char *s) {
    client_send(s, strlen(s));
}

static bool
answers_at_least(void *n) {
    return cl.nanswers >= *(size_t *)n;
}

static void
wait_answers(size_t n) {
    cr_assert(testenv_run_until_pred(&loop, answers_at_least, &n, WAIT_MS),
              "%zu answers of %zu arrived", cl.nanswers, n);
}

static bool
held_at_least(void *n) {
    return nheld >= *(size_t *)n;
}

static void
wait_held(size_t n) {
    cr_assert(testenv_run_until_pred(&loop, held_at_least, &n, WAIT_MS), "%zu of %zu held", nheld,
              n);
}

static bool
no_conns(void *arg) {
    (void)arg;
    return srv.nconns == 0;
}

static void
wait_eof(void) {
    cr_assert(testenv_run_until(&loop, &cl.eof, WAIT_MS), "the server did not close its side");
}

/* --- set-up --- */

static void
setup(void) {
    signal(SIGPIPE, SIG_IGN); /* a write to a client that left fails with EPIPE */
    cr_assert_eq(uv_loop_init(&loop), 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.http_max_header_bytes = 8192;
    cfg.http_max_body_bytes = 65536;
    cfg.http_header_timeout_ms = 10000;
    cfg.http_idle_timeout_ms = 60000;
    cfg.http_body_timeout_ms = 30000;
    memset(&app, 0, sizeof app);
    app.loop = &loop;
    app.cfg = &cfg;
    memset(&srv, 0, sizeof srv);
    srv.loop = &loop;
    srv.app = &app;
    srv.routes = routes;
    srv.nroutes = sizeof routes / sizeof routes[0];
    srv.max_conns = 16;
    buf_init(&cl.in);
}

static void
teardown(void) {
    while (nheld) answer_held();
    if (streamed) req_stream_end(streamed, true);
    streamed = NULL;
    gone = false;
    cl.raw = false;
    stop_polling();
    if (cl.fd >= 0) close(cl.fd);
    cl.fd = -1;
    for (conn_t *c = srv.conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS), "a conn did not close");
    buf_free(&cl.in);
    free(cl.answers);
    cr_assert_eq(testenv_loop_close(&loop), 0, "a handle was left open");
}

/* --- keep-alive --- */

Test(conn, keep_alive_serves_requests_one_after_another) {
    connect_client(0);
    conn_t *c = srv.conns;
    client_send_str("GET /echo/one HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_answers(1);
    cr_expect_eq(cl.answers[0].status, 200);
    cr_expect_str_eq(cl.answers[0].body, "one");
    cr_expect_not(cl.answers[0].close);
    client_send_str("GET /echo/two HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_answers(2);
    cr_expect_str_eq(cl.answers[1].body, "two");
    cr_expect_not(cl.eof, "the connection stays open");
    cr_assert_eq(srv.nconns, 1);
    cr_expect_eq(srv.conns, c, "on the same conn");
    cr_expect_eq(c->served, 2);
    cr_expect_eq(c->timer_mode, CONN_TIMER_IDLE, "waiting for the next request");
    /* HTTP/1.0 keeps the connection only when asked */
    client_send_str("GET /echo/three HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    wait_answers(3);
    cr_expect_not(cl.answers[2].close);
    cr_expect(strstr(cl.in.data, "Connection: keep-alive"), "1.0 gets keep-alive said");
    client_send_str("GET /echo/four HTTP/1.0\r\n\r\n");
    wait_answers(4);
    cr_expect(cl.answers[3].close);
    wait_eof();
}

/* --- pipelining --- */

static const char three[] = "GET /later/a HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /echo/b HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /echo/c HTTP/1.1\r\nHost: t\r\n\r\n";

Test(conn, pipelined_requests_are_answered_in_order) {
    connect_client(0);
    client_send(three, sizeof three - 1);
    wait_held(1);
    /* b and c have arrived, but wait behind a */
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(cl.nanswers, 0, "an answer overtook the held request");
    cr_expect_eq(srv.conns->served, 1, "one request dispatched at a time");
    cr_expect_gt(srv.conns->in.len - srv.conns->in_off, 0, "the others wait in the buffer");
    answer_held();
    wait_answers(3);
    cr_expect_str_eq(cl.answers[0].body, "a");
    cr_expect_str_eq(cl.answers[1].body, "b");
    cr_expect_str_eq(cl.answers[2].body, "c");
    cr_expect_not(cl.eof);
}

Test(conn, pipelined_requests_split_at_every_byte) {
    connect_client(0);
    for (size_t i = 0; i < sizeof three - 1; i++) {
        client_send(three + i, 1);
        uv_run(&loop, UV_RUN_NOWAIT);
        if (nheld) answer_held();
    }
    wait_answers(3);
    cr_expect_str_eq(cl.answers[0].body, "a");
    cr_expect_str_eq(cl.answers[1].body, "b");
    cr_expect_str_eq(cl.answers[2].body, "c");
}

/* --- the read-ahead bound --- */

/* While a request is in flight the conn keeps reading later ones, up to
 * CONN_READ_AHEAD bytes; then it stops, and the rest waits in the
 * kernel. Once the answer goes, every request is served, in order. */
Test(conn, read_ahead_is_bounded) {
    connect_client(4096);
    client_send_str("GET /later/first HTTP/1.1\r\n\r\n");
    wait_held(1);
    enum { N = 20000 };
    struct buf reqs;
    buf_init(&reqs);
    for (int i = 0; i < N; i++) buf_printf(&reqs, "GET /echo/%06d HTTP/1.1\r\n\r\n", i);
    size_t sent = 0;
    for (int stuck = 0; stuck < 50 && sent < reqs.len;) {
        size_t n = try_send(reqs.data + sent, reqs.len - sent);
        sent += n;
        stuck = n ? 0 : stuck + 1;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    conn_t *c = srv.conns;
    size_t waiting = c->in.len - c->in_off;
    cr_assert_lt(sent, reqs.len, "the server read %zu bytes while a request was in flight", sent);
    cr_expect_not(c->reading, "reading stops at the bound");
    cr_expect_geq(waiting, (size_t)CONN_READ_AHEAD, "it read ahead up to the bound");
    cr_expect_leq(waiting, CONN_READ_AHEAD + sizeof srv.rbuf, "%zu bytes buffered", waiting);
    cr_expect_eq(c->served, 1);
    cr_expect_eq(cl.nanswers, 0);

    answer_held();
    client_send(reqs.data + sent, reqs.len - sent);
    wait_answers(N + 1);
    cr_expect_str_eq(cl.answers[0].body, "first");
    size_t out_of_order = 0;
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof want, "%06d", i);
        out_of_order += strcmp(cl.answers[i + 1].body, want) != 0;
    }
    cr_expect_eq(out_of_order, 0);
    cr_expect(c->reading, "reading again");
    buf_free(&reqs);
}

/* --- the lingering close --- */

/* After its last answer the conn shuts its side down (the client reads
 * the answer, then EOF), then reads and drops what the client still
 * sends until the client closes. */
Test(conn, lingering_close_after_the_last_answer) {
    connect_client(0);
    client_send_str("GET /echo/last HTTP/1.1\r\nConnection: close\r\n\r\n"
                    "GET /echo/never HTTP/1.1\r\n\r\n");
    wait_eof();
    cr_assert_eq(cl.nanswers, 1);
    cr_expect_str_eq(cl.answers[0].body, "last");
    cr_expect(cl.answers[0].close);
    cr_assert_eq(srv.nconns, 1, "the conn lingers");
    cr_expect(srv.conns->lingering);
    cr_expect_eq(srv.conns->timer_mode, CONN_TIMER_LINGER);
    /* more bytes are read and dropped: no answer, no reset */
    for (int i = 0; i < 100; i++) client_send_str("GET /echo/dropped HTTP/1.1\r\n\r\n");
    cr_assert_eq(shutdown(cl.fd, SHUT_WR), 0);
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS),
              "the conn did not close on the client's EOF");
    cr_expect_eq(cl.nanswers, 1);
}

Test(conn, lingering_ends_on_its_own) {
    connect_client(0);
    client_send_str("GET /echo/x HTTP/1.0\r\n\r\n");
    wait_eof();
    cr_assert_eq(srv.nconns, 1);
    cr_expect(srv.conns->lingering);
    /* the client never closes: the linger deadline (2 s) ends it */
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS), "still lingering");
}

/* A client that half-closes after its request still gets the answer. */
Test(conn, half_close_with_an_answer_coming) {
    connect_client(0);
    client_send_str("GET /later/late HTTP/1.1\r\n\r\n");
    wait_held(1);
    cr_assert_eq(shutdown(cl.fd, SHUT_WR), 0);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(srv.nconns, 1, "the conn waits for its answer");
    answer_held();
    wait_eof();
    cr_assert_eq(cl.nanswers, 1);
    cr_expect_str_eq(cl.answers[0].body, "late");
    cr_expect(cl.answers[0].close);
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS));
}

/* --- an answer after the conn has gone (the reference rule) --- */

Test(conn, answer_after_close_is_dropped) {
    connect_client(0);
    client_send_str("GET /later/gone HTTP/1.1\r\n\r\n");
    wait_held(1);
    conn_close(srv.conns);
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS));
    answer_held(); /* the conn's memory is still there; the answer goes nowhere */
    wait_eof();
    cr_expect_eq(cl.nanswers, 0);
}

Test(conn, answer_after_the_client_left) {
    connect_client(0);
    client_send_str("GET /later/gone HTTP/1.1\r\n\r\n");
    wait_held(1);
    stop_polling();
    close(cl.fd);
    cl.fd = -1;
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    answer_held(); /* the write fails (EPIPE); the conn closes */
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS));
}

/* --- the client's address --- */

/* X-Real-IP names the client only when the peer is a proxy of ours: on
 * loopback or a private address (common/addr_class). */
Test(conn, x_real_ip_is_believed_from_loopback_only) {
    connect_client_tcp();
    client_send_str("GET /addr HTTP/1.1\r\n\r\n"
                    "GET /addr HTTP/1.1\r\nX-Real-IP: 203.0.113.7\r\n\r\n"
                    "GET /addr HTTP/1.1\r\nX-Real-IP: 2001:db8::9\r\n\r\n"
                    "GET /addr HTTP/1.1\r\nX-Real-IP: not an address\r\n\r\n");
    wait_answers(4);
    cr_expect_str_eq(cl.answers[0].body, "127.0.0.1");
    cr_expect_str_eq(cl.answers[1].body, "203.0.113.7");
    cr_expect_str_eq(cl.answers[2].body, "2001:db8::9");
    cr_expect_str_eq(cl.answers[3].body, "127.0.0.1", "a header that is no address is ignored");
}

Test(conn, x_real_ip_is_ignored_from_other_peers) {
    connect_client(0); /* a socketpair: the peer has no IP address at all */
    client_send_str("GET /addr HTTP/1.1\r\nX-Real-IP: 203.0.113.7\r\n\r\n");
    wait_answers(1);
    cr_expect_str_eq(cl.answers[0].body, "not-ip");
}

/* --- deadlines --- */

Test(conn, slow_request_head_gets_408) {
    cfg.http_header_timeout_ms = 100;
    connect_client(0);
    client_send_str("GET /echo/x HTTP/1.1\r\nHo");
    wait_eof();
    cr_assert_eq(cl.nanswers, 1);
    cr_expect_eq(cl.answers[0].status, 408);
    cr_expect(cl.answers[0].close);
}

Test(conn, idle_keep_alive_is_closed) {
    cfg.http_idle_timeout_ms = 100;
    connect_client(0);
    client_send_str("GET /echo/x HTTP/1.1\r\n\r\n");
    wait_answers(1);
    cr_expect_not(cl.answers[0].close);
    wait_eof();
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS));
    cr_expect_eq(cl.nanswers, 1);
}

/* --- streamed answers (event streams) --- */

static bool
in_has(void *needle) {
    return cl.in.len && strstr(cl.in.data, needle) != NULL;
}

static void
wait_in(const char *needle) {
    cr_assert(testenv_run_until_pred(&loop, in_has, (void *)needle, WAIT_MS), "no %s in: %s",
              needle, cl.in.data ? cl.in.data : "");
}

Test(conn, streamed_answer_is_chunked_and_the_connection_goes_on) {
    cl.raw = true;
    connect_client(0);
    client_send_str("GET /stream/first HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_in("\r\n5\r\nfirst\r\n");
    cr_assert(strstr(cl.in.data, "HTTP/1.1 200 OK\r\n"));
    cr_assert(strcasestr(cl.in.data, "Transfer-Encoding: chunked\r\n"));
    cr_assert_null(strcasestr(cl.in.data, "Content-Length"), "a stream has no length");
    push(streamed, "more");
    wait_in("4\r\nmore\r\n");
    push(streamed, ""); /* an empty piece is nothing (not the end) */
    cr_assert_not(req_stream_gone(streamed));
    struct req *r = streamed;
    streamed = NULL;
    req_stream_end(r, true);
    wait_in("more\r\n0\r\n\r\n");
    /* Keep-alive: the next request on the same connection is answered. */
    client_send_str("GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_in("after");
    cr_expect_not(cl.eof);
    cr_expect_not(gone, "a stream that ended is not gone");
}

Test(conn, http_1_0_stream_ends_with_the_connection) {
    cl.raw = true;
    connect_client(0);
    client_send_str("GET /stream/old HTTP/1.0\r\n\r\n");
    wait_in("\r\n\r\nold");
    cr_assert_null(strcasestr(cl.in.data, "chunked"));
    struct req *r = streamed;
    streamed = NULL;
    req_stream_end(r, true);
    wait_eof();
    cr_assert(cl.in.len > 3 && !strcmp(cl.in.data + cl.in.len - 3, "old"), "%s", cl.in.data);
}

Test(conn, a_client_that_leaves_a_stream_is_gone) {
    cl.raw = true;
    connect_client(0);
    client_send_str("GET /stream/x HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_in("1\r\nx\r\n");
    shutdown(cl.fd, SHUT_WR); /* EOF: for a stream, the client is gone */
    cr_assert(testenv_run_until(&loop, &gone, WAIT_MS), "the owner was not told");
    cr_assert(req_stream_gone(streamed));
    push(streamed, "late"); /* dropped */
    struct req *r = streamed;
    streamed = NULL;
    req_stream_end(r, true); /* only frees it */
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS));
}

/* A pushed stream whose client does not read: past CONN_STREAM_BACKLOG
 * bytes waiting in the process, the connection is closed (memory stays
 * bounded) and the owner learns it. */
Test(conn, a_stream_client_that_reads_too_slowly_is_cut_off) {
    cl.raw = true;
    connect_client(0);
    client_send_str("GET /stream/s HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_in("1\r\ns\r\n");
    /* The loop does not run meanwhile, so the client reads nothing: the
     * kernel's buffers fill, then the process's queue. */
    char *piece = xmalloc(65536 + 1);
    memset(piece, 'x', 65536);
    piece[65536] = '\0';
    int n = 0;
    while (!req_stream_gone(streamed) && n < 4096) {
        push(streamed, piece);
        n++;
    }
    free(piece);
    cr_assert(req_stream_gone(streamed), "64 KiB x %d pushed and the stream still open", n);
    cr_assert(testenv_run_until(&loop, &gone, WAIT_MS), "the owner was not told");
    struct req *r = streamed;
    streamed = NULL;
    req_stream_end(r, true); /* only frees it */
    cr_assert(testenv_run_until_pred(&loop, no_conns, NULL, WAIT_MS));
}

Test(conn, a_waiting_conn_gives_its_buffers_back) {
    connect_client(0);
    client_send_str("GET /later/w HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_held(1);
    conn_t *c = srv.conns;
    cr_assert_null(c->in.data, "no input buffer while the request waits");
    cr_assert_null(c->parse.offs, "no parse space while the request waits");
    answer_held();
    wait_answers(1);
}
