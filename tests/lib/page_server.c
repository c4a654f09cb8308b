#include "tests/lib/page_server.h"

#include <fcntl.h>
#include <http_parser.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/xalloc.h"

#define FLAKY_KEYS 256

struct flaky {
    char key[64];
    int hits;
};

struct page_server {
    char *root;
    char ip[64];
    struct flaky flaky[FLAKY_KEYS]; /* used by the server thread only */
    int nflaky;
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
    bool answered;     /* the answer (or its start) is on its way */
    uint64_t drip_end; /* /drip: when to send the end of the page */
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

/* write_buf queues out's bytes on the client's socket (out is emptied). */
static void
write_buf(struct client *c, struct buf *out) {
    uv_write_t *w = xcalloc(1, sizeof *w);
    size_t n = out->len;
    w->data = buf_steal(out);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w->data);
        free(w);
    }
}

static void
send_response(struct client *c, int status, const char *ctype, const char *extra, const char *body,
              size_t len) {
    struct buf out;
    buf_init(&out);
    buf_printf(&out, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
               status, ctype, len, extra ? extra : "");
    buf_append(&out, body, len);
    write_buf(c, &out);
    client_close(c); /* uv_close lets the queued write finish first */
}

static const char SMALL_PAGE[] = "<html><body><p>a small page with seven words</p></body></html>";

static void
send_small_page(struct client *c) {
    send_response(c, 200, "text/html; charset=utf-8", NULL, SMALL_PAGE, sizeof SMALL_PAGE - 1);
}

static void
on_slow(uv_timer_t *t) {
    struct client *c = t->data;
    if (!c->closing) send_small_page(c);
}

static void
on_drip(uv_timer_t *t) {
    struct client *c = t->data;
    if (c->closing) return;
    struct buf out;
    buf_init(&out);
    if (uv_now(&c->ps->loop) >= c->drip_end) {
        buf_append_str(&out, "</p></body></html>\n");
        write_buf(c, &out);
        uv_timer_stop(t);
        client_close(c);
        return;
    }
    buf_append_str(&out, "drip ");
    write_buf(c, &out);
}

/* flaky_hit counts a request for key; returns the count including it. */
static int
flaky_hit(struct page_server *ps, const char *key) {
    for (int i = 0; i < ps->nflaky; i++)
        if (!strcmp(ps->flaky[i].key, key)) return ++ps->flaky[i].hits;
    if (ps->nflaky == FLAKY_KEYS) return 1 << 30; /* table full: never fail */
    struct flaky *f = &ps->flaky[ps->nflaky++];
    snprintf(f->key, sizeof f->key, "%s", key);
    f->hits = 1;
    return 1;
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
    int ms, fails;
    char key[64];
    if (sscanf(url, "/slow/%d", &ms) == 1 && ms >= 0) {
        uv_timer_start(&c->timer, on_slow, (uint64_t)ms, 0);
        return;
    }
    if (sscanf(url, "/drip/%d", &ms) == 1 && ms >= 0) {
        struct buf out;
        buf_init(&out);
        buf_append_str(&out, "HTTP/1.1 200 X\r\nContent-Type: text/html; charset=utf-8\r\n"
                             "Connection: close\r\n\r\n<html><body><p>");
        write_buf(c, &out);
        c->drip_end = uv_now(&c->ps->loop) + (uint64_t)ms;
        uv_timer_start(&c->timer, on_drip, 100, 100);
        return;
    }
    if (sscanf(url, "/flaky/%d/%63[^/?]", &fails, key) == 2) {
        if (flaky_hit(c->ps, key) <= fails)
            send_response(c, 503, "text/html", NULL, "<p>busy</p>", 11);
        else send_small_page(c);
        return;
    }
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
    struct client *c = p->data;
    /* One answer per connection: a pipelined second request is ignored. */
    if (!c->answered) {
        c->answered = true;
        serve(c);
    }
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
    uv_ip4_addr(ps->ip, 0, &addr);
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
    return page_server_start_on(root_dir, "127.0.0.1");
}

page_server_t *
page_server_start_on(const char *root_dir, const char *ip) {
    struct page_server *ps = xcalloc(1, sizeof *ps);
    ps->root = xstrdup(root_dir);
    snprintf(ps->ip, sizeof ps->ip, "%s", ip);
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
