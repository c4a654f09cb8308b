#include "tests/lib/page_server.h"

#include <fcntl.h>
#include <http_parser.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

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
    uv_async_t gate; /* page_server_gate_open's wake-up */
    bool gate_open;  /* used by the server thread only */
    pthread_t thread;
    int port;
    int ready; /* 1 listening, -1 failed */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t streamed; /* body bytes written by streamed responses */
    char *bomb_block;          /* one deflate block of "a a a ...", repeated */
    size_t bomb_block_len;
    char *bomb_head; /* gzip header and the first block */
    size_t bomb_head_len;
    char *words; /* STREAM_PIECE bytes of "word word ..." */
    /* What a politeness test asserts on, under rec_mu (read from the
     * test's thread): connections open now and at most, the time of
     * every request (ms since the epoch, the first REQ_TIMES_MAX), and
     * the robots.txt answer set by page_server_set_robots. */
    pthread_mutex_t rec_mu;
    int open_now, open_peak;
    int64_t *req_times;
    size_t nreq;
    size_t not_modified; /* 304s sent */
    int robots_status;   /* 0: serve the file, if any */
    char *robots_body;
    int robots_delay_ms; /* robots.txt set by the test is sent this late */
};

#define REQ_TIMES_MAX 65536

/* A response written piece by piece as the socket drains (or, for
 * STREAM_TRICKLE, one byte per timer tick) instead of all at once. */
enum stream_kind { STREAM_NONE, STREAM_BIG, STREAM_ENDLESS, STREAM_TRICKLE, STREAM_BOMB };

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
    bool at_gate;      /* /gate: waiting for page_server_gate_open */
    uint64_t drip_end; /* /drip: when to send the end of the page */
    enum stream_kind stream;
    uint64_t left;                      /* STREAM_BIG: body bytes still to send */
    struct buf field, agent, encodings; /* request headers for /headers */
    struct buf inm, ims;                /* If-None-Match, If-Modified-Since */
    bool in_value;
    int late_status; /* a robots.txt answer waiting for its delay */
    char *late_body;
};

static void
on_client_closed(uv_handle_t *h) {
    struct client *c = h->data;
    if (--c->closes > 0) return;
    pthread_mutex_lock(&c->ps->rec_mu);
    c->ps->open_now--;
    pthread_mutex_unlock(&c->ps->rec_mu);
    buf_free(&c->url);
    buf_free(&c->field);
    buf_free(&c->agent);
    buf_free(&c->encodings);
    buf_free(&c->inm);
    buf_free(&c->ims);
    free(c->late_body);
    free(c);
}

static void
client_close(struct client *c) {
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->timer, on_client_closed);
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

/* One queued write of bytes of ours; with close, the client closes once
 * the socket has taken them (uv_close would drop what is still queued:
 * a page larger than the socket buffers, to a client that pauses). */
struct out_write {
    uv_write_t w;
    struct client *c;
    char *data;
    bool close;
};

static void
on_written(uv_write_t *w, int status) {
    struct out_write *o = (struct out_write *)w;
    (void)status;
    if (o->close) client_close(o->c); /* runs before the close callbacks: c is alive */
    free(o->data);
    free(o);
}

/* write_buf queues out's bytes on the client's socket (out is emptied);
 * with close, the connection closes after them. */
static void
write_buf(struct client *c, struct buf *out, bool close) {
    struct out_write *o = xcalloc(1, sizeof *o);
    size_t n = out->len;
    o->c = c;
    o->close = close;
    o->data = buf_steal(out);
    uv_buf_t b = uv_buf_init(o->data, (unsigned)n);
    if (uv_write(&o->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(o->data);
        free(o);
        if (close) client_close(c);
    }
}

static void
send_response(struct client *c, int status, const char *ctype, const char *extra, const char *body,
              size_t len) {
    struct buf out;
    buf_init(&out);
    buf_printf(
        &out,
        "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
        status, ctype, len, extra ? extra : "");
    buf_append(&out, body, len);
    write_buf(c, &out, true);
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
        write_buf(c, &out, false);
        uv_timer_stop(t);
        client_close(c);
        return;
    }
    buf_append_str(&out, "drip ");
    write_buf(c, &out, false);
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

/* --- streamed responses --- */

#define STREAM_PIECE 65535    /* a whole number of "word " */
#define BOMB_INPUT (1u << 20) /* bytes of text per deflate block */

static void stream_next(struct client *c);

static void
on_stream_written(uv_write_t *w, int status) {
    struct client *c = w->data;
    free(w);
    if (status < 0 || c->closing) {
        client_close(c); /* the client went away, or we are stopping */
        return;
    }
    stream_next(c);
}

/* stream_write sends len bytes of data (copied) and calls stream_next
 * once they are written. */
static void
stream_write(struct client *c, const char *data, size_t len) {
    struct {
        uv_write_t w;
        char bytes[];
    } *req = xmalloc(sizeof *req + len);
    memcpy(req->bytes, data, len);
    req->w.data = c;
    uv_buf_t b = uv_buf_init(req->bytes, (unsigned)len);
    if (uv_write(&req->w, (uv_stream_t *)&c->tcp, &b, 1, on_stream_written) < 0) {
        free(req);
        client_close(c);
        return;
    }
    atomic_fetch_add(&c->ps->streamed, len);
}

static void
fill_words(char *p, size_t n) {
    static const char w[] = "word ";
    for (size_t i = 0; i < n; i++) p[i] = w[i % 5];
}

static void
stream_next(struct client *c) {
    if (c->closing) return;
    const char *piece = c->ps->words;
    switch (c->stream) {
    case STREAM_BIG:
        if (c->left == 0) {
            client_close(c);
            return;
        }
        size_t n = c->left < STREAM_PIECE ? (size_t)c->left : STREAM_PIECE;
        c->left -= n;
        stream_write(c, piece, n);
        break;
    case STREAM_ENDLESS:
        stream_write(c, piece, STREAM_PIECE);
        break;
    case STREAM_BOMB:
        stream_write(c, c->ps->bomb_block, c->ps->bomb_block_len);
        break;
    default:
        break;
    }
}

static void
on_trickle(uv_timer_t *t) {
    struct client *c = t->data;
    if (c->closing) return;
    char byte = 'a';
    uv_buf_t b = uv_buf_init(&byte, 1);
    /* A one-byte try_write: if the client stopped reading, the byte is
     * simply not sent this time. */
    if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) == 1) atomic_fetch_add(&c->ps->streamed, 1);
}

/* stream_start sends the head of a streamed response and its first piece. */
static void
stream_start(struct client *c, enum stream_kind kind, uint64_t length) {
    char head[512];
    const char *extra = kind == STREAM_BOMB ? "Content-Encoding: gzip\r\n" : "";
    int n;
    if (kind == STREAM_BIG && length)
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %llu\r\n"
                     "Connection: close\r\n\r\n",
                     (unsigned long long)length);
    else
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n%sConnection: close\r\n\r\n",
                     extra);
    c->stream = kind;
    c->left = length;
    if (kind == STREAM_BOMB) {
        struct buf b;
        buf_init(&b);
        buf_append(&b, head, (size_t)n);
        buf_append(&b, c->ps->bomb_head, c->ps->bomb_head_len);
        stream_write(c, b.data, b.len);
        buf_free(&b);
    } else if (kind == STREAM_TRICKLE) {
        uv_buf_t b = uv_buf_init(head, (unsigned)n);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        uv_timer_start(&c->timer, on_trickle, 100, 100);
    } else {
        stream_write(c, head, (size_t)n);
    }
}

/* make_bomb prepares an endless gzip body: the gzip header and a first
 * deflate block, then one block to repeat. Each block is BOMB_INPUT bytes
 * of "a " compressed with a full flush, so every repetition is the same
 * bytes and decodes to the same text (about 1000 to 1). */
static int
make_bomb(struct page_server *ps) {
    char *in = xmalloc(BOMB_INPUT);
    for (size_t i = 0; i < BOMB_INPUT; i++) in[i] = i % 2 ? ' ' : 'a';
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(in);
        return -1;
    }
    char *out[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        size_t cap = deflateBound(&z, BOMB_INPUT) + 64;
        out[k] = xmalloc(cap);
        z.next_in = (Bytef *)in;
        z.avail_in = BOMB_INPUT;
        z.next_out = (Bytef *)out[k];
        z.avail_out = (uInt)cap;
        int rc = deflate(&z, Z_FULL_FLUSH);
        len[k] = cap - z.avail_out;
        if (rc != Z_OK || z.avail_in != 0) {
            deflateEnd(&z);
            free(in);
            free(out[0]);
            if (k) free(out[1]);
            return -1;
        }
    }
    deflateEnd(&z);
    free(in);
    ps->bomb_head = out[0];
    ps->bomb_head_len = len[0];
    ps->bomb_block = out[1];
    ps->bomb_block_len = len[1];
    return 0;
}

/* query_param copies the value of name in url's query (%XX decoded) to
 * out; returns false when it is not there. */
static bool
query_param(const char *url, const char *name, char *out, size_t outlen) {
    const char *q = strchr(url, '?');
    size_t nlen = strlen(name);
    for (const char *p = q; p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, nlen) != 0 || p[1 + nlen] != '=') continue;
        const char *v = p + 2 + nlen;
        size_t k = 0;
        while (*v && *v != '&' && k + 1 < outlen) {
            unsigned hex;
            if (*v == '%' && sscanf(v + 1, "%2x", &hex) == 1) {
                out[k++] = (char)hex;
                v += 3;
            } else {
                out[k++] = *v++;
            }
        }
        out[k] = '\0';
        return true;
    }
    return false;
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
on_late_robots(uv_timer_t *t) {
    struct client *c = t->data;
    if (c->closing) return;
    send_response(c, c->late_status, "text/plain", NULL, c->late_body ? c->late_body : "",
                  c->late_body ? strlen(c->late_body) : 0);
}

/* record_request notes the time of a request and answers robots.txt
 * when a test set its answer (true then), after its delay if it has one. */
static bool
record_request(struct client *c, const char *url) {
    struct page_server *ps = c->ps;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&ps->rec_mu);
    if (ps->nreq < REQ_TIMES_MAX)
        ps->req_times[ps->nreq] = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    ps->nreq++;
    bool robots = ps->robots_status && strcmp(url, "/robots.txt") == 0;
    int rstatus = ps->robots_status;
    char *rbody = robots && ps->robots_body ? xstrdup(ps->robots_body) : NULL;
    int delay = ps->robots_delay_ms;
    pthread_mutex_unlock(&ps->rec_mu);
    if (!robots) return false;
    if (delay > 0) {
        c->late_status = rstatus;
        c->late_body = rbody;
        uv_timer_start(&c->timer, on_late_robots, (uint64_t)delay, 0);
        return true;
    }
    send_response(c, rstatus, "text/plain", NULL, rbody ? rbody : "", rbody ? strlen(rbody) : 0);
    free(rbody);
    return true;
}

/* file_validators writes a file's ETag (its size and modification time)
 * and Last-Modified header lines. */
static void
file_validators(const struct stat *st, char *out, size_t n) {
    char date[64];
    struct tm tm;
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(out, n, "ETag: \"%llx-%llx\"\r\nLast-Modified: %s\r\n",
             (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st->st_mtim.tv_nsec,
             date);
}

/* send_if_modified answers 304 (true) when the request's If-None-Match
 * names the file's ETag or, without one, its If-Modified-Since is not
 * older than the file (RFC 9110 section 13.2.2). */
static bool
send_if_modified(struct client *c, const struct stat *st) {
    char validators[160], etag[64];
    file_validators(st, validators, sizeof validators);
    snprintf(etag, sizeof etag, "%.*s", (int)strcspn(validators + 6, "\r"), validators + 6);
    bool fresh = false;
    if (c->inm.data) {
        fresh = strstr(c->inm.data, etag) != NULL || !strcmp(c->inm.data, "*");
    } else if (c->ims.data) {
        struct tm tm = {0};
        const char *end = strptime(c->ims.data, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        fresh = end && timegm(&tm) >= st->st_mtim.tv_sec;
    }
    if (!fresh) return false;
    pthread_mutex_lock(&c->ps->rec_mu);
    c->ps->not_modified++;
    pthread_mutex_unlock(&c->ps->rec_mu);
    send_response(c, 304, "text/html", validators, "", 0);
    return true;
}

static void
serve(struct client *c) {
    const char *url = c->url.data ? c->url.data : "/";
    int code;
    if (record_request(c, url)) return;
    if (sscanf(url, "/status/%d", &code) == 1 && code >= 200 && code < 600) {
        char body[64], ra[32], extra[64] = "";
        int n = snprintf(body, sizeof body, "<p>status %d</p>", code);
        if (query_param(url, "retry_after", ra, sizeof ra))
            snprintf(extra, sizeof extra, "Retry-After: %.20s\r\n", ra);
        send_response(c, code, "text/html", extra, body, (size_t)n);
        return;
    }
    if (!strcmp(url, "/hang")) return; /* accept and never answer */
    if (!strcmp(url, "/gate")) {
        if (c->ps->gate_open) send_small_page(c);
        else c->at_gate = true; /* answered by on_gate */
        return;
    }
    unsigned long long size;
    char value[2048], extra[2200];
    if (!strcmp(url, "/headers")) {
        struct buf b;
        buf_init(&b);
        buf_printf(&b, "<p>%s</p><p>%s</p>", c->agent.data ? c->agent.data : "",
                   c->encodings.data ? c->encodings.data : "");
        send_response(c, 200, "text/html", NULL, b.data, b.len);
        buf_free(&b);
        return;
    }
    if (!strncmp(url, "/redirect?", 10) && query_param(url, "to", value, sizeof value)) {
        snprintf(extra, sizeof extra, "Location: %s\r\n", value);
        send_response(c, 302, "text/html", extra, "<p>moved</p>", 12);
        return;
    }
    if (!strcmp(url, "/redirect-loop")) {
        send_response(c, 302, "text/html", "Location: /redirect-loop\r\n", "<p>moved</p>", 12);
        return;
    }
    if (sscanf(url, "/redirect-chain/%d", &code) == 1 && code >= 0 && code < 100) {
        if (code == 0) {
            send_response(c, 200, "text/html", NULL, "<p>end of the chain</p>", 23);
        } else {
            snprintf(extra, sizeof extra, "Location: /redirect-chain/%d\r\n", code - 1);
            send_response(c, 302, "text/html", extra, "<p>moved</p>", 12);
        }
        return;
    }
    if (sscanf(url, "/big/%llu", &size) == 1) {
        stream_start(c, STREAM_BIG, size);
        return;
    }
    if (!strcmp(url, "/endless")) {
        stream_start(c, STREAM_ENDLESS, 0);
        return;
    }
    if (!strcmp(url, "/trickle")) {
        stream_start(c, STREAM_TRICKLE, 0);
        return;
    }
    if (!strcmp(url, "/gzip-bomb")) {
        stream_start(c, STREAM_BOMB, 0);
        return;
    }
    if (!strncmp(url, "/empty?", 7) && query_param(url, "ct", value, sizeof value)) {
        send_response(c, 200, value, NULL, "", 0);
        return;
    }
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
        write_buf(c, &out, false);
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
    /* A file with the Content-Type given in ?ct= (the path ends at '?'). */
    const char *ctype = NULL;
    char path_part[2048];
    snprintf(path_part, sizeof path_part, "%.*s", (int)strcspn(url, "?"), url);
    if (query_param(url, "ct", value, sizeof value)) ctype = value;
    url = path_part;
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
    if (send_if_modified(c, &st)) {
        fclose(f);
        return;
    }
    char *data = xmalloc((size_t)st.st_size + 1);
    size_t got = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    char validators[160];
    file_validators(&st, validators, sizeof validators);
    send_response(c, 200, ctype ? ctype : type_of(path), validators, data, got);
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

/* The User-Agent and Accept-Encoding request headers are kept for /headers. */
static int
on_header_field(http_parser *p, const char *at, size_t len) {
    struct client *c = p->data;
    if (c->in_value) {
        c->field.len = 0;
        c->in_value = false;
    }
    buf_append(&c->field, at, len);
    return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len) {
    struct client *c = p->data;
    c->in_value = true;
    if (!c->field.data) return 0;
    if (!strcasecmp(c->field.data, "user-agent")) buf_append(&c->agent, at, len);
    else if (!strcasecmp(c->field.data, "accept-encoding")) buf_append(&c->encodings, at, len);
    else if (!strcasecmp(c->field.data, "if-none-match")) buf_append(&c->inm, at, len);
    else if (!strcasecmp(c->field.data, "if-modified-since")) buf_append(&c->ims, at, len);
    return 0;
}

static const http_parser_settings settings = {.on_url = on_url,
                                              .on_header_field = on_header_field,
                                              .on_header_value = on_header_value,
                                              .on_message_complete = on_complete};

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
    pthread_mutex_lock(&ps->rec_mu);
    if (++ps->open_now > ps->open_peak) ps->open_peak = ps->open_now;
    pthread_mutex_unlock(&ps->rec_mu);
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
    if (h == (uv_handle_t *)&ps->listener || h == (uv_handle_t *)&ps->stop ||
        h == (uv_handle_t *)&ps->gate)
        uv_close(h, NULL);
    else if (h->type == UV_TCP) client_close(h->data); /* frees the client */
}

static void
gate_walk(uv_handle_t *h, void *arg) {
    struct page_server *ps = arg;
    if (h->type != UV_TCP || h == (uv_handle_t *)&ps->listener || uv_is_closing(h)) return;
    struct client *c = h->data;
    if (c->at_gate && !c->closing) {
        c->at_gate = false;
        send_small_page(c);
    }
}

static void
on_gate(uv_async_t *a) {
    struct page_server *ps = a->data;
    ps->gate_open = true;
    uv_walk(&ps->loop, gate_walk, ps);
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
    /* A client that hangs up while a streamed route writes must not
     * kill the test process with SIGPIPE (libuv writes with write(2)). */
    signal(SIGPIPE, SIG_IGN);
    struct page_server *ps = xcalloc(1, sizeof *ps);
    ps->root = xstrdup(root_dir);
    if (make_bomb(ps) < 0) {
        free(ps->root);
        free(ps);
        return NULL;
    }
    ps->words = xmalloc(STREAM_PIECE);
    fill_words(ps->words, STREAM_PIECE);
    snprintf(ps->ip, sizeof ps->ip, "%s", ip);
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    pthread_mutex_init(&ps->rec_mu, NULL);
    ps->req_times = xcalloc(REQ_TIMES_MAX, sizeof *ps->req_times);
    uv_loop_init(&ps->loop);
    uv_tcp_init(&ps->loop, &ps->listener);
    uv_async_init(&ps->loop, &ps->stop, on_stop);
    uv_async_init(&ps->loop, &ps->gate, on_gate);
    ps->listener.data = ps->stop.data = ps->gate.data = ps;
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
page_server_gate_open(page_server_t *ps) {
    uv_async_send(&ps->gate);
}

uint64_t
page_server_streamed(page_server_t *ps) {
    return atomic_load(&ps->streamed);
}

void
page_server_stop(page_server_t *ps) {
    uv_async_send(&ps->stop);
    pthread_join(ps->thread, NULL);
    uv_loop_close(&ps->loop);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    pthread_mutex_destroy(&ps->rec_mu);
    free(ps->req_times);
    free(ps->robots_body);
    free(ps->root);
    free(ps->bomb_head);
    free(ps->bomb_block);
    free(ps->words);
    free(ps);
}

void
page_server_set_robots(page_server_t *ps, int status, const char *body) {
    pthread_mutex_lock(&ps->rec_mu);
    free(ps->robots_body);
    ps->robots_body = body ? xstrdup(body) : NULL;
    ps->robots_status = status;
    pthread_mutex_unlock(&ps->rec_mu);
}

void
page_server_set_robots_delay(page_server_t *ps, int delay_ms) {
    pthread_mutex_lock(&ps->rec_mu);
    ps->robots_delay_ms = delay_ms;
    pthread_mutex_unlock(&ps->rec_mu);
}

int
page_server_open_peak(page_server_t *ps) {
    pthread_mutex_lock(&ps->rec_mu);
    int n = ps->open_peak;
    pthread_mutex_unlock(&ps->rec_mu);
    return n;
}

size_t
page_server_requests(page_server_t *ps, int64_t *times, size_t max) {
    pthread_mutex_lock(&ps->rec_mu);
    size_t n = ps->nreq;
    size_t kept = n < REQ_TIMES_MAX ? n : REQ_TIMES_MAX;
    if (times) memcpy(times, ps->req_times, (kept < max ? kept : max) * sizeof *times);
    pthread_mutex_unlock(&ps->rec_mu);
    return n;
}

size_t
page_server_not_modified(page_server_t *ps) {
    pthread_mutex_lock(&ps->rec_mu);
    size_t n = ps->not_modified;
    pthread_mutex_unlock(&ps->rec_mu);
    return n;
}
