/* server — the listening socket and the set of open connections.
 *
 * Owns: the listening uv_tcp_t (opened on a socket made before any fork,
 * see server_socket), the list of open conns and their count (the
 * HTTP_MAX_CONNECTIONS limit: over it a client gets 503 and is closed),
 * and the graceful stop: server_stop closes the listener, lets each conn
 * finish the request it is answering, and after grace_ms closes what is
 * left; the callback runs once every handle the server and its conns own
 * has closed. The struct is embedded by its owner and must live until
 * then. */
#ifndef WC_SERVER_H
#define WC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "web/conn.h"
#include "web/router.h"

typedef void (*server_stopped_cb)(void *arg);

struct server {
    uv_loop_t *loop;
    struct app *app;
    const struct route *routes;
    size_t nroutes;
    int max_conns;
    uv_tcp_t listener;
    uv_timer_t grace;
    conn_t *conns;
    size_t nconns;
    int handles_open;
    bool stopping;
    server_stopped_cb stopped_cb;
    void *stopped_arg;
    /* Every conn reads into this one buffer and copies what it got at
     * once (one loop, one read at a time), so an idle or waiting conn
     * (a long-poll, an event stream) costs no read buffer of its own. */
    char rbuf[65536];
};

/* server_socket makes a listening TCP socket on host:port (port 0: any
 * free port) and reports the bound port. A plain blocking socket(2), so
 * it can be made before fork and inherited by every worker process.
 * Returns 0, or a negative UV_* error with a message in err. */
int server_socket(const char *host, int port, int backlog, int *fd, int *bound_port, char *err,
                  size_t errlen);
/* server_start opens fd on loop and starts accepting, with the given
 * routes. max_conns bounds the open connections. */
int server_start(struct server *s, uv_loop_t *loop, struct app *app, const struct route *routes,
                 size_t nroutes, int max_conns, int fd);
/* server_stop stops accepting and drains; cb runs once everything closed. */
void server_stop(struct server *s, int grace_ms, server_stopped_cb cb, void *arg);

/* For conn.c: membership of the open set. */
void server_conn_add(struct server *s, conn_t *c);
void server_conn_closed(struct server *s, conn_t *c);

#endif
