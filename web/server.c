/* server.c — listening socket, connection set, graceful stop. */
#include "web/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "web/app.h"

int
server_socket(const char *host, int port, int backlog, int *fd_out, int *bound_port, char *err,
              size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve HOST %s: %s", host, gai_strerror(gai));
        return UV_EINVAL;
    }
    int rc = UV_EADDRNOTAVAIL, fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(-rc));
        return rc;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        rc = -errno;
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        return rc;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

static void
on_connection(uv_stream_t *listener, int status) {
    struct server *s = listener->data;
    if (s->stopping) return;
    if (status < 0) {
        log_warn("msg=\"accept failed\" err=%s", uv_strerror(status));
        return;
    }
    bool reject = s->nconns >= (size_t)s->max_conns;
    int rc = conn_accept(s, s->app, listener, reject);
    if (rc < 0) log_warn("msg=\"accept failed\" err=%s", uv_strerror(rc));
    else if (reject) log_warn("msg=\"connection limit reached\" max=%d", s->max_conns);
}

int
server_start(struct server *s, uv_loop_t *loop, struct app *app, const struct route *routes,
             size_t nroutes, int max_conns, int fd) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->app = app;
    s->routes = routes;
    s->nroutes = nroutes;
    s->max_conns = max_conns;
    int rc = uv_tcp_init(loop, &s->listener);
    if (rc < 0) return rc;
    s->listener.data = s;
    uv_timer_init(loop, &s->grace);
    s->grace.data = s;
    s->handles_open = 2;
    if ((rc = uv_tcp_open(&s->listener, fd)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) < 0) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_close((uv_handle_t *)&s->grace, NULL);
        return rc;
    }
    return 0;
}

static void
maybe_stopped(struct server *s) {
    if (s->stopping && s->handles_open == 0 && s->nconns == 0 && s->stopped_cb) {
        server_stopped_cb cb = s->stopped_cb;
        s->stopped_cb = NULL;
        cb(s->stopped_arg);
    }
}

static void
on_handle_closed(uv_handle_t *h) {
    struct server *s = h->data;
    s->handles_open--;
    maybe_stopped(s);
}

/* on_grace closes the conns still busy when the grace period ends. */
static void
on_grace(uv_timer_t *t) {
    struct server *s = t->data;
    if (s->nconns) log_warn("msg=\"grace period over\" closing=%zu", s->nconns);
    for (conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    uv_close((uv_handle_t *)&s->grace, on_handle_closed);
}

void
server_stop(struct server *s, int grace_ms, server_stopped_cb cb, void *arg) {
    if (s->stopping) return;
    s->stopping = true;
    s->stopped_cb = cb;
    s->stopped_arg = arg;
    uv_close((uv_handle_t *)&s->listener, on_handle_closed);
    for (conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_drain(c);
    }
    if (s->nconns == 0) uv_close((uv_handle_t *)&s->grace, on_handle_closed);
    else uv_timer_start(&s->grace, on_grace, (uint64_t)grace_ms, 0);
}

void
server_conn_add(struct server *s, conn_t *c) {
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
}

void
server_conn_closed(struct server *s, conn_t *c) {
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    if (s->stopping && s->nconns == 0 && !uv_is_closing((uv_handle_t *)&s->grace)) {
        uv_timer_stop(&s->grace);
        uv_close((uv_handle_t *)&s->grace, on_handle_closed);
    }
    maybe_stopped(s);
}
