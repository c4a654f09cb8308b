/* wordcount-web: configuration, one loop, the HTTP server, and an orderly
 * stop on SIGTERM/SIGINT: stop accepting, finish in-flight requests within
 * WEB_GRACE, close Redis and Postgres, exit 0. A second signal stops at
 * once (what is in flight is dropped). With WEB_CONCURRENCY > 1 a small
 * parent forks that many such processes on one socket (web/prefork.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/config.h"
#include "common/exits.h"
#include "common/log.h"
#include "common/signals.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/prefork.h"
#include "web/server.h"

struct web {
    const struct config *cfg;
    struct app app;
    struct server server;
    struct signals signals;
    int stop_signals; /* signals received */
    bool serving;     /* app_when_started has called on_started */
    bool server_running;
    int fd, port; /* the listening socket, taken at on_started */
    int status;   /* the process's exit status */
};

static void
on_app_closed(void *arg) {
    struct web *w = arg;
    signals_close(&w->signals);
}

static void
on_server_stopped(void *arg) {
    struct web *w = arg;
    w->server_running = false;
    app_close(&w->app, on_app_closed, w);
}

static void
on_signal(int signum, void *arg) {
    struct web *w = arg;
    if (!w->serving) { /* stopped while waiting for Redis: nothing in flight */
        if (++w->stop_signals == 1) {
            log_info("msg=stopping signal=%d before=listening", signum);
            app_close(&w->app, on_app_closed, w);
        }
        return;
    }
    if (++w->stop_signals == 1) {
        log_info("msg=stopping signal=%d grace_ms=%d", signum, w->cfg->web_grace_ms);
        server_stop(&w->server, w->cfg->web_grace_ms, on_server_stopped, w);
        app_drain(&w->app); /* long-polls answered now, event streams ended */
    } else if (w->server_running) {
        log_info("msg=\"second signal, stopping now\" signal=%d", signum);
        for (conn_t *c = w->server.conns, *next; c; c = next) {
            next = c->next;
            conn_close(c);
        }
    }
}

struct serve_ctx {
    struct config *cfg;
    int fd;
    int port;
};

/* on_started takes connections once Redis is up, or after the start wait
 * without it (requests that need Redis get 503 until it is back). */
static void
on_started(bool redis_up, void *arg) {
    struct web *w = arg;
    w->serving = true;
    int rc = server_start(&w->server, w->app.loop, &w->app, web_routes, web_nroutes,
                          w->cfg->http_max_connections, w->fd);
    if (rc < 0) {
        log_error("msg=\"cannot serve\" error=%s", log_q(uv_strerror(rc)));
        w->status = EX_OSERR;
        app_close(&w->app, on_app_closed, w);
        return;
    }
    w->server_running = true;
    log_info("msg=listening host=%s port=%d pid=%ld redis=%s", w->cfg->host, w->port,
             (long)getpid(), redis_up ? "up" : "down");
}

/* serve runs one web process on the inherited listening socket. */
static int
serve(int index, void *arg) {
    struct serve_ctx *ctx = arg;
    const struct config *cfg = ctx->cfg;
    if (index > 0 || cfg->web_concurrency > 1) {
        char role[32];
        snprintf(role, sizeof role, "web-%d", index);
        log_set_role(role);
    }
    uv_loop_t loop;
    char err[512];
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        log_error("msg=\"cannot create loop\" error=%s", log_q(uv_strerror(rc)));
        return EX_SOFTWARE;
    }
    struct web w = {.cfg = cfg, .fd = ctx->fd, .port = ctx->port};
    if (app_open(&w.app, &loop, cfg, err, sizeof err) < 0) {
        log_error("msg=\"bad configuration\" error=%s", log_q(err));
        w.status = EX_CONFIG;
    } else if ((rc = signals_start(&w.signals, &loop, on_signal, &w)) < 0) {
        log_error("msg=\"cannot watch signals\" error=%s", log_q(uv_strerror(rc)));
        w.status = EX_SOFTWARE;
        app_close(&w.app, NULL, NULL);
    } else {
        app_when_started(&w.app, on_started, &w);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    /* A server that never started never took the socket over. */
    if (!w.serving && cfg->web_concurrency <= 1) close(ctx->fd);
    if ((rc = uv_loop_close(&loop)) < 0) {
        log_error("msg=\"loop not closed cleanly\" error=%s", log_q(uv_strerror(rc)));
        if (!w.status) w.status = EX_SOFTWARE;
    }
    if (!w.status) log_info("msg=stopped");
    return w.status;
}

int
main(int argc, char **argv) {
    (void)argv;
    signals_block(); /* a stop signal during start-up waits for the loop */
    log_init("web", LOG_INFO);
    if (argc != 1) {
        fprintf(stderr, "usage: wordcount-web   (configured by the environment, see README)\n");
        return EXIT_USAGE;
    }
    struct config cfg;
    char err[512];
    if (config_load(&cfg, NULL, err, sizeof err) < 0) {
        log_error("msg=\"bad configuration\" error=%s", log_q(err));
        return EX_CONFIG;
    }
    log_threshold = (enum log_level)cfg.log_level;
    struct serve_ctx ctx = {.cfg = &cfg};
    int rc = server_socket(cfg.host, cfg.port, 511, &ctx.fd, &ctx.port, err, sizeof err);
    if (rc < 0) {
        log_error("msg=\"cannot listen\" error=%s", log_q(err));
        config_free(&cfg);
        return EX_OSERR;
    }
    int status = prefork_run(cfg.web_concurrency, serve, &ctx);
    /* With one process the listener owned (and closed) the socket. */
    if (cfg.web_concurrency > 1) close(ctx.fd);
    config_free(&cfg);
    return status;
}
