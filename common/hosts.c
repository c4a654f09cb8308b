#include "common/hosts.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/lua_scripts.h"
#include "common/xalloc.h"

int
hosts_of_url(const char *url, char host[HOSTS_NAME_MAX + 1], char origin[HOSTS_NAME_MAX + 1]) {
    CURLU *u = curl_url();
    char *scheme = NULL, *name = NULL, *port = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) goto done;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto done;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto done;
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    int n = snprintf(host, HOSTS_NAME_MAX + 1, "%s:%s", name, port);
    int m = snprintf(origin, HOSTS_NAME_MAX + 1, "%s://%s:%s", scheme, name, port);
    if (n > 0 && n <= HOSTS_NAME_MAX && m > 0 && m <= HOSTS_NAME_MAX) rc = 0;
done:
    curl_free(scheme);
    curl_free(name);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* One call in flight: the caller's callback and argument. */
struct call {
    union {
        hosts_acquire_cb acquire;
        hosts_release_cb release;
        hosts_robots_cb robots;
        hosts_lock_cb lock;
        hosts_view_cb view;
    } cb;
    void *arg;
    const char *what;        /* calls nobody waits for: what failed, for the log */
    int top;                 /* hosts_view */
    const struct keys *keys; /* hosts_view: must outlive the call */
};

static int
send_call(redis_uv_t *r, redis_uv_cb on_reply, struct call *c, int argc, const char **argv) {
    size_t argvlen[64];
    if (argc > 64) return UV_E2BIG;
    for (int i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(r, on_reply, c, argc, argv, argvlen);
    if (rc < 0) free(c);
    return rc;
}

static struct call *
call_new(void *arg) {
    struct call *c = xcalloc(1, sizeof *c);
    c->arg = arg;
    return c;
}

/* reply_error returns 0 for a usable reply, else a UV_* status and why. */
static int
reply_error(const redisReply *reply, const char *errstr, const char **msg) {
    *msg = NULL;
    if (!reply) {
        *msg = errstr ? errstr : "no reply";
        return UV_ECONNRESET;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        *msg = reply->str;
        return UV_EPROTO;
    }
    return 0;
}

static long long
int_at(const redisReply *a, size_t i) {
    if (i >= a->elements) return 0;
    const redisReply *e = a->element[i];
    if (e->type == REDIS_REPLY_INTEGER) return e->integer;
    if (e->type == REDIS_REPLY_STRING) return strtoll(e->str, NULL, 10);
    return 0;
}

/* --- slots --- */

static void
on_acquired(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    if (!st && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3))
        st = UV_EPROTO, msg = "unexpected reply";
    if (st) {
        c->cb.acquire(st, NULL, msg, c->arg);
    } else {
        const redisReply *why = reply->element[2];
        struct hosts_grant g = {.granted = int_at(reply, 0) == 1,
                                .wait_ms = int_at(reply, 1),
                                .reason = why->type == REDIS_REPLY_STRING ? why->str : ""};
        c->cb.acquire(0, &g, NULL, c->arg);
    }
    free(c);
}

int
hosts_acquire(redis_uv_t *r, const struct keys *k, const char *host, const char *token,
              const struct hosts_limits *lim, hosts_acquire_cb cb, void *arg) {
    struct keybuf kh, ks, ki, kst;
    char now[24], limit[16], delay[16], lease[16], maxd[16];
    const char *keys[] = {keys_host(k, host, &kh), keys_host_slots(k, host, &ks),
                          keys_hosts(k, &ki), keys_stats(k, &kst)};
    if (!keys[0] || !keys[1]) return UV_EINVAL;
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    snprintf(limit, sizeof limit, "%d", lim->concurrency);
    snprintf(delay, sizeof delay, "%d", lim->delay_ms);
    snprintf(lease, sizeof lease, "%d", lim->lease_ms);
    snprintf(maxd, sizeof maxd, "%d", lim->max_delay_ms);
    const char *argv[] = {"EVAL",  lua_host_acquire,
                          "4",     keys[0],
                          keys[1], keys[2],
                          keys[3], now,
                          token,   limit,
                          delay,   lease,
                          maxd,    host};
    struct call *c = call_new(arg);
    c->cb.acquire = cb;
    return send_call(r, on_acquired, c, (int)(sizeof argv / sizeof *argv), argv);
}

static void
on_released(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    if (st) log_debug("msg=\"host slot not released\" error=%s", log_q(msg));
    if (c->cb.release) {
        const char *woken = !st && reply->type == REDIS_REPLY_STRING ? reply->str : NULL;
        c->cb.release(st, woken, msg, c->arg);
    }
    free(c);
}

int
hosts_release(redis_uv_t *r, const struct keys *k, const char *host, const char *token,
              long http_status, int64_t retry_after_ms, const struct hosts_limits *lim,
              hosts_release_cb cb, void *arg) {
    struct keybuf kh, ks, kw, kst;
    char now[24], status[16], ra[24], maxd[16], maxp[16];
    const char *keys[] = {keys_host(k, host, &kh), keys_host_slots(k, host, &ks),
                          keys_host_wait(k, host, &kw), keys_stats(k, &kst)};
    if (!keys[0] || !keys[1] || !keys[2]) return UV_EINVAL;
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    snprintf(status, sizeof status, "%ld", http_status);
    snprintf(ra, sizeof ra, "%lld", (long long)retry_after_ms);
    snprintf(maxd, sizeof maxd, "%d", lim->max_delay_ms);
    snprintf(maxp, sizeof maxp, "%d", HOSTS_MAX_PAUSE_MS);
    const char *argv[] = {"EVAL", lua_host_release, "4", keys[0], keys[1], keys[2], keys[3], now,
                          token,  status,           ra,  maxd,    maxp};
    struct call *c = call_new(arg);
    c->cb.release = cb;
    return send_call(r, on_released, c, (int)(sizeof argv / sizeof *argv), argv);
}

static void
on_popped(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    /* ZPOPMIN answers [member, score], or [] when nobody waits. */
    const char *woken = !st && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                                reply->element[0]->type == REDIS_REPLY_STRING
                            ? reply->element[0]->str
                            : NULL;
    c->cb.release(st, woken, msg, c->arg);
    free(c);
}

int
hosts_next_waiter(redis_uv_t *r, const struct keys *k, const char *host, hosts_release_cb cb,
                  void *arg) {
    struct keybuf kw;
    const char *key = keys_host_wait(k, host, &kw);
    if (!key) return UV_EINVAL;
    const char *argv[] = {"ZPOPMIN", key, "1"};
    struct call *c = call_new(arg);
    c->cb.release = cb;
    return send_call(r, on_popped, c, 3, argv);
}

/* on_quiet: the answer to a call nobody waits for (c->what says which). */
static void
on_quiet(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    if (reply_error(reply, errstr, &msg)) log_debug("msg=\"%s\" error=%s", c->what, log_q(msg));
    free(c);
}

static struct call *
quiet(const char *what) {
    struct call *c = call_new(NULL);
    c->what = what;
    return c;
}

int
hosts_renew(redis_uv_t *r, const struct keys *k, const char *host, const char *token,
            int lease_ms) {
    struct keybuf ks;
    char exp[24];
    const char *key = keys_host_slots(k, host, &ks);
    if (!key) return UV_EINVAL;
    snprintf(exp, sizeof exp, "%lld", (long long)(clock_now_ms() + lease_ms));
    /* XX: a slot already released (or lapsed) is not brought back. */
    const char *argv[] = {"ZADD", key, "XX", exp, token};
    return send_call(r, on_quiet, quiet("host slot not renewed"), 5, argv);
}

/* --- robots.txt --- */

static void
on_robots(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    if (!st && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3))
        st = UV_EPROTO, msg = "unexpected reply";
    if (st) {
        c->cb.robots(st, NULL, msg, c->arg);
    } else {
        const redisReply *state = reply->element[0], *body = reply->element[1];
        struct hosts_robots rb = {0};
        if (state->type == REDIS_REPLY_STRING) {
            rb.state = state->str;
            rb.body = body->type == REDIS_REPLY_STRING ? body->str : "";
            rb.len = body->type == REDIS_REPLY_STRING ? body->len : 0;
            rb.expires_at = int_at(reply, 2);
        }
        c->cb.robots(0, &rb, NULL, c->arg);
    }
    free(c);
}

int
hosts_robots_get(redis_uv_t *r, const struct keys *k, const char *origin, hosts_robots_cb cb,
                 void *arg) {
    struct keybuf kr;
    const char *key = keys_robots(k, origin, &kr);
    if (!key) return UV_EINVAL;
    const char *argv[] = {"HMGET", key, "state", "body", "expires_at"};
    struct call *c = call_new(arg);
    c->cb.robots = cb;
    return send_call(r, on_robots, c, 5, argv);
}

static void
on_locked(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    c->cb.lock(st, !st && reply->type == REDIS_REPLY_STATUS, msg, c->arg);
    free(c);
}

int
hosts_robots_lock(redis_uv_t *r, const struct keys *k, const char *origin, const char *owner,
                  int ttl_ms, hosts_lock_cb cb, void *arg) {
    struct keybuf kl;
    char ttl[16];
    const char *key = keys_robots_lock(k, origin, &kl);
    if (!key) return UV_EINVAL;
    snprintf(ttl, sizeof ttl, "%d", ttl_ms);
    const char *argv[] = {"SET", key, owner, "NX", "PX", ttl};
    struct call *c = call_new(arg);
    c->cb.lock = cb;
    return send_call(r, on_locked, c, 6, argv);
}

int
hosts_robots_unlock(redis_uv_t *r, const struct keys *k, const char *origin) {
    struct keybuf kl;
    const char *key = keys_robots_lock(k, origin, &kl);
    if (!key) return UV_EINVAL;
    const char *argv[] = {"DEL", key};
    return send_call(r, on_quiet, quiet("robots.txt lock not freed"), 2, argv);
}

int
hosts_robots_put(redis_uv_t *r, const struct keys *k, const char *origin, const char *host,
                 const struct hosts_robots *rb, long crawl_delay_ms, long http_status) {
    struct keybuf kr, kl, kh;
    char exp[24], delay[24], status[16];
    const char *keys[] = {keys_robots(k, origin, &kr), keys_robots_lock(k, origin, &kl),
                          keys_host(k, host, &kh)};
    if (!keys[0] || !keys[1] || !keys[2]) return UV_EINVAL;
    snprintf(exp, sizeof exp, "%lld", (long long)rb->expires_at);
    snprintf(delay, sizeof delay, "%ld", crawl_delay_ms);
    snprintf(status, sizeof status, "%ld", http_status);
    const char *argv[] = {"EVAL",    lua_robots_put,           "3", keys[0], keys[1], keys[2],
                          rb->state, rb->body ? rb->body : "", exp, delay,   status};
    size_t argvlen[11];
    for (int i = 0; i < 11; i++) argvlen[i] = strlen(argv[i]);
    argvlen[7] = rb->body ? rb->len : 0; /* a body may hold NUL bytes */
    struct call *c = quiet("robots.txt not stored");
    int rc = redis_uv_command(r, on_quiet, c, 11, argv, argvlen);
    if (rc < 0) free(c);
    return rc;
}

/* --- the operator's view --- */

static int
busier(const void *a, const void *b) {
    const struct hosts_row *x = a, *y = b;
    long long bx = x->inflight + x->waiting, by = y->inflight + y->waiting;
    if (bx != by) return bx > by ? -1 : 1;
    if ((x->paused_until > 0) != (y->paused_until > 0)) return x->paused_until > 0 ? -1 : 1;
    return 0;
}

static void
on_view(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    (void)r;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    if (!st && reply->type != REDIS_REPLY_ARRAY) st = UV_EPROTO, msg = "unexpected reply";
    if (st) {
        c->cb.view(st, NULL, 0, msg, c->arg);
        free(c);
        return;
    }
    size_t n = 0;
    struct hosts_row *rows = xcalloc(reply->elements + 1, sizeof *rows);
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 9) continue;
        struct hosts_row *row = &rows[n++];
        snprintf(row->host, sizeof row->host, "%s",
                 e->element[0]->type == REDIS_REPLY_STRING ? e->element[0]->str : "");
        row->inflight = int_at(e, 1);
        row->waiting = int_at(e, 2);
        row->paused_until = int_at(e, 3);
        row->seen_429 = int_at(e, 4);
        row->seen_503 = int_at(e, 5);
        snprintf(row->robots, sizeof row->robots, "%s",
                 e->element[6]->type == REDIS_REPLY_STRING ? e->element[6]->str : "");
        row->delay_ms = int_at(e, 7);
        row->fetches = int_at(e, 8);
    }
    /* Stable for equal rows: the index answered most recent first. */
    qsort(rows, n, sizeof *rows, busier);
    c->cb.view(0, rows, n < (size_t)c->top ? n : (size_t)c->top, NULL, c->arg);
    free(rows);
    free(c);
}

/* on_view_hosts: the most recent hosts are known; read their state. */
static void
on_view_hosts(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct call *c = arg;
    const char *msg;
    int st = reply_error(reply, errstr, &msg);
    if (!st && reply->type != REDIS_REPLY_ARRAY) st = UV_EPROTO, msg = "unexpected reply";
    if (st || reply->elements == 0) {
        c->cb.view(st, NULL, 0, msg, c->arg);
        free(c);
        return;
    }
    size_t n = reply->elements;
    size_t argc = 4 + 4 * n;
    const char **argv = xcalloc(argc, sizeof *argv);
    size_t *argvlen = xcalloc(argc, sizeof *argvlen);
    struct keybuf *kb = xcalloc(3 * n, sizeof *kb);
    char nkeys[16], now[24];
    snprintf(nkeys, sizeof nkeys, "%zu", 3 * n);
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = lua_host_view;
    argv[a++] = nkeys;
    const struct keys *keys = c->keys;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *h = reply->element[i]->type == REDIS_REPLY_STRING ? reply->element[i]->str : "";
        const char *k1 = keys_host(keys, h, &kb[3 * i]),
                   *k2 = keys_host_slots(keys, h, &kb[3 * i + 1]),
                   *k3 = keys_host_wait(keys, h, &kb[3 * i + 2]);
        if (!k1 || !k2 || !k3) continue;
        argv[a++] = k1, argv[a++] = k2, argv[a++] = k3;
        used++;
    }
    snprintf(nkeys, sizeof nkeys, "%zu", 3 * used);
    argv[a++] = now;
    for (size_t i = 0; i < n; i++) {
        const char *h = reply->element[i]->type == REDIS_REPLY_STRING ? reply->element[i]->str : "";
        struct keybuf tmp;
        if (keys_host(keys, h, &tmp)) argv[a++] = h;
    }
    for (size_t i = 0; i < a; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(r, on_view, c, (int)a, argv, argvlen);
    free(kb);
    free(argvlen);
    free(argv);
    if (rc < 0) {
        c->cb.view(rc, NULL, 0, "redis not connected", c->arg);
        free(c);
    }
}

int
hosts_view(redis_uv_t *r, const struct keys *k, int scan, int top, hosts_view_cb cb, void *arg) {
    if (top < 1 || scan < top || scan > HOSTS_VIEW_MAX) return UV_EINVAL;
    struct keybuf ki;
    char last[16];
    snprintf(last, sizeof last, "%d", scan - 1);
    const char *argv[] = {"ZREVRANGE", keys_hosts(k, &ki), "0", last};
    struct call *c = call_new(arg);
    c->cb.view = cb;
    c->top = top;
    c->keys = k;
    return send_call(r, on_view_hosts, c, 4, argv);
}
