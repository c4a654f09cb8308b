/* conn — one client connection.
 *
 * Owns: the uv_tcp_t, its timer (header, idle and lingering-close
 * deadlines), the input buffer, the parser state (http_parse), the request
 * in flight (struct req), the writes queued on the socket and the final
 * shutdown request. A conn whose request waits long (a long-poll, an event
 * stream) keeps no read buffer, parse space or input buffer meanwhile
 * (about 1.8 KB in all with its request and waiter).
 *
 * Requests are answered one at a time and in order: the parser pauses
 * after each message, reading stops while a handler works, and the
 * bytes of pipelined requests wait in the input buffer.
 *
 * Life cycle: a conn holds one reference for itself and one per request
 * in flight or write queued. conn_close (or the peer, a timeout, an
 * error) closes the handles; the server is told once both close callbacks
 * ran; the memory goes when the last reference does. So a handler whose
 * Redis or Postgres answer comes after the client left still holds valid
 * memory: req_send sees the conn closing and drops the answer (STYLE
 * rule 4). Handlers never touch the conn themselves. */
#ifndef WC_CONN_H
#define WC_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "web/http_parse.h"
#include "web/response.h"
#include "web/router.h"

/* Bytes of later requests buffered while one is being answered; past
 * them reading stops (one more read of rbuf may land first). */
#define CONN_READ_AHEAD 65536

struct app;
struct server;
typedef struct conn conn_t;

/* req_gone_cb: the connection of a request still being answered (a
 * long-poll, an event stream) closed. The owner still ends req (req_send,
 * req_stream_end), which then only frees it. */
typedef void (*req_gone_cb)(struct req *req, void *arg);

/* One request being handled. Valid from the handler call until req_send
 * (or req_stream_end). */
struct req {
    conn_t *conn;              /* private to conn.c */
    struct app *app;           /* config, Redis, Postgres, queue */
    struct http_request *http; /* method, path, headers, body */
    struct router_match match; /* path parameters */
    uint64_t start_ns;
    char request_id[65]; /* X-Request-Id: the client's, or a new one */
    union req_addr {     /* private: see req_client_addr */
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } client_addr;
    bool have_client_addr;
    req_gone_cb gone_cb; /* private: see req_on_gone */
    void *gone_arg;
    struct req_stream *stream; /* private: a streamed answer (req_stream_start) */
};

enum conn_timer_mode {
    CONN_TIMER_NONE,
    CONN_TIMER_HEADER,
    CONN_TIMER_BODY,
    CONN_TIMER_IDLE,
    CONN_TIMER_LINGER
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct server *server;
    struct app *app;
    conn_t *prev, *next; /* the server's list of open connections */
    struct http_parse parse;
    struct buf in; /* received, not yet parsed */
    size_t in_off;
    struct req *req; /* in flight, or NULL */
    int refs;
    int handles_open;
    int writes;
    unsigned served;  /* requests dispatched */
    unsigned streams; /* streamed answers started (names their writes) */
    enum conn_timer_mode timer_mode;
    bool closing;     /* handles are closing: touch nothing but memory */
    bool draining;    /* server stopping: close after the current answer */
    bool close_after; /* last answer queued: shut down after the writes */
    bool lingering;   /* shut down; reading and discarding until EOF */
    bool processing;  /* inside process(): do not re-enter */
    bool reading;
    bool have_peer;      /* peer holds the socket's peer address (read once) */
    union req_addr peer; /* AF_UNSPEC: none worth keeping (a socketpair) */
};

/* conn_accept accepts a client from listener (the server calls it on
 * each connection). Returns 0 and links the conn into the server, or a
 * negative UV_* error. With reject set, the conn answers 503 and closes. */
int conn_accept(struct server *srv, struct app *app, uv_stream_t *listener, bool reject);
/* conn_open serves a client on fd, a connected stream socket (the tests
 * use one end of a socketpair). Returns 0, and the conn owns fd, or a
 * negative UV_* error, and fd is still the caller's. */
int conn_open(struct server *srv, struct app *app, uv_loop_t *loop, int fd);
/* conn_drain asks c to close once its current answer is sent (now if idle). */
void conn_drain(conn_t *c);
/* conn_close closes at once; in-flight answers are dropped when they come. */
void conn_close(conn_t *c);

/* req_send sends resp (its buffers are taken; the caller must not free
 * them) and ends the request: req is freed. Call exactly once per req. */
void req_send(struct req *req, struct response *resp);
/* req_on_gone asks for cb when req's connection closes before req ends
 * (a client that leaves an event stream, a forced close). cb runs from
 * the loop, never inside a call of the owner's. A request that asked is
 * one with no end for its client to wait for: a half-close (EOF) from the
 * client then counts as leaving. */
void req_on_gone(struct req *req, req_gone_cb cb, void *arg);
/* A streamed answer: a body too large to build in memory (pulled, piece
 * by piece) or of unknown length (pushed, as events happen).
 * req_stream_start sends head's status line and headers (its body, if
 * any, is dropped); the body then follows in pieces: chunked for
 * HTTP/1.1, until the connection closes for HTTP/1.0. more runs each
 * time the socket has taken what was written before (and once at the
 * start); a pulling handler answers it with req_stream_write (one piece,
 * taken) or req_stream_end, a pushing one may ignore it and write when it
 * has something (more then only tells it that the socket is drained).
 * More than CONN_STREAM_BACKLOG bytes written and not yet taken by the
 * socket close the connection (a client that reads too slowly). While
 * the client waits for nothing more (it left, a write failed or stalled
 * for HTTP_IDLE_TIMEOUT, or it asked with HEAD) req_stream_gone is true:
 * the handler cleans up and calls req_stream_end. more may run inside
 * req_stream_start and req_stream_write (when the client is found gone
 * there). req_stream_end(req, false) ends a body that could not be
 * finished: the connection is closed, so the client sees a cut-off
 * answer, never one that looks complete. req is freed by req_stream_end. */
typedef void (*req_more_cb)(struct req *req, void *arg);
void req_stream_start(struct req *req, struct response *head, req_more_cb more, void *arg);
void req_stream_write(struct req *req, struct buf *piece);
void req_stream_end(struct req *req, bool complete);
bool req_stream_gone(const struct req *req);
/* Bytes of a stream's body that may wait unsent before the client is cut off. */
#define CONN_STREAM_BACKLOG (256 * 1024)

/* req_client_addr returns the client's address (looked up on first use:
 * the peer, or X-Real-IP when the peer is a proxy on loopback or a
 * private address). */
const struct sockaddr *req_client_addr(struct req *req);
/* req_problem is req_send of a problem+json response. */
void req_problem(struct req *req, int status, const char *title, const char *detail);

#endif
