#include "tests/lib/page_server.h"

#include <fcntl.h>
#include <http_parser.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/xalloc.h"

struct page_server {
    char *root;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop;
    pthread_t thread;
    int port;
    int ready; /* 1 listening, -1 failed */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct client {
    struct page_server *ps;
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_parser parser;
    struct buf url;
    char rbuf[8192];
    int closes;
    bool closing;
};

static void
on_client_closed(uv_handle_t *h) {
    struct client *c = h->data;
    if (--c->closes > 0) return;
    buf_free(&c->url);
    free(c);
}

static void
client_close(struct client *c) {
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->timer, on_client_closed);
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void
on_written(uv_write_t *w, int status) {
    (void)status;
    free(w->data);
    free(w);
}

static void
send_response(struct client *c, int status, const char *ctype, const char *extra, const char *body,
              size_t len) {
    struct buf out;
    buf_init(&out);
    buf_printf(&out, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
               status, ctype, len, extra ? extra : "");
    buf_append(&out, body, len);
    uv_write_t *w = xcalloc(1, sizeof *w);
    size_t n = out.len;
    w->data = buf_steal(&out);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w->data);
        free(w);
    }
    client_close(c); /* uv_close lets the queued write finish first */
}

static const char *
type_of(const char *path) {
    const char *dot = strrchr(path, '.');
    if (dot && !strcmp(dot, ".txt")) return "text/plain; charset=utf-8";
    if (dot && !strcmp(dot, ".pdf")) return "application/pdf";
    /* No charset: as many servers do, leaving it to the page (<meta>, else UTF-8). */
    return "text/html";
}

static void
serve(struct client *c) {
    const char *url = c->url.data ? c->url.data : "/";
    int code;
    if (sscanf(url, "/status/%d", &code) == 1 && code >= 200 && code < 600) {
        char body[64];
        int n = snprintf(body, sizeof body, "<p>status %d</p>", code);
        send_response(c, code, "text/html", NULL, body, (size_t)n);
        return;
    }
    if (!strcmp(url, "/hang")) return; /* accept and never answer */
    if (strstr(url, "..")) {
        send_response(c, 400, "text/plain", NULL, "bad path", 8);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s%s", c->ps->root, url);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        if (f) fclose(f);
        send_response(c, 404, "text/html", NULL, "<p>not found</p>", 16);
        return;
    }
    char *data = xmalloc((size_t)st.st_size + 1);
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    send_response(c, 200, type_of(path), NULL, data, n);
    free(data);
}

static int
on_url(http_parser *p, const char *at, size_t len) {
    struct client *c = p->data;
    buf_append(&c->url, at, len);
    return 0;
}

static int
on_complete(http_parser *p) {
    serve(p->data);
    return 0;
}

static const http_parser_settings settings = {.on_url = on_url, .on_message_complete = on_complete};

static void
on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
    struct client *c = h->data;
    (void)s;
    *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    struct client *c = s->data;
    if (n < 0) {
        client_close(c);
        return;
    }
    if (c->closing) return;
    size_t used = http_parser_execute(&c->parser, &settings, b->base, (size_t)n);
    if (!c->closing && (used != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK))
        send_response(c, 400, "text/plain", NULL, "bad request", 11);
}

static void
on_connection(uv_stream_t *l, int status) {
    struct page_server *ps = l->data;
    if (status < 0) return;
    struct client *c = xcalloc(1, sizeof *c);
    c->ps = ps;
    c->closes = 2;
    uv_tcp_init(&ps->loop, &c->tcp);
    uv_timer_init(&ps->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        client_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
close_walk(uv_handle_t *h, void *arg) {
    struct page_server *ps = arg;
    if (uv_is_closing(h)) return;
    if (h == (uv_handle_t *)&ps->listener || h == (uv_handle_t *)&ps->stop) uv_close(h, NULL);
    else if (h->type == UV_TCP) client_close(h->data); /* frees the client */
}

static void
on_stop(uv_async_t *a) {
    struct page_server *ps = a->data;
    uv_walk(&ps->loop, close_walk, ps);
}

static void *
run(void *arg) {
    struct page_server *ps = arg;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    int ok = uv_tcp_bind(&ps->listener, (struct sockaddr *)&addr, 0) == 0 &&
             uv_listen((uv_stream_t *)&ps->listener, 128, on_connection) == 0;
    if (ok) {
        struct sockaddr_in bound;
        int len = sizeof bound;
        uv_tcp_getsockname(&ps->listener, (struct sockaddr *)&bound, &len);
        ps->port = ntohs(bound.sin_port);
    }
    pthread_mutex_lock(&ps->mu);
    ps->ready = ok ? 1 : -1;
    pthread_cond_signal(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    uv_run(&ps->loop, UV_RUN_DEFAULT);
    return NULL;
}

page_server_t *
page_server_start(const char *root_dir) {
    struct page_server *ps = xcalloc(1, sizeof *ps);
    ps->root = xstrdup(root_dir);
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    uv_loop_init(&ps->loop);
    uv_tcp_init(&ps->loop, &ps->listener);
    uv_async_init(&ps->loop, &ps->stop, on_stop);
    ps->listener.data = ps->stop.data = ps;
    pthread_create(&ps->thread, NULL, run, ps);
    pthread_mutex_lock(&ps->mu);
    while (!ps->ready) pthread_cond_wait(&ps->cv, &ps->mu);
    pthread_mutex_unlock(&ps->mu);
    if (ps->ready < 0) {
        page_server_stop(ps);
        return NULL;
    }
    return ps;
}

int
page_server_port(const page_server_t *ps) {
    return ps->port;
}

void
page_server_stop(page_server_t *ps) {
    uv_async_send(&ps->stop);
    pthread_join(ps->thread, NULL);
    uv_loop_close(&ps->loop);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps->root);
    free(ps);
}
