/* redis_uv.c — hiredis async on libuv, with reconnect and a command
 * timeout. See redis_uv.h for the contract.
 *
 * How hiredis 0.14 tears a context down matters for everything below:
 * whether the connection broke (EOF, error) or we called redisAsyncFree,
 * __redisAsyncFree runs every pending reply callback with a NULL reply,
 * then the disconnect callback (only when the connection had been made),
 * then frees the context. A failed connect calls the connect callback with
 * REDIS_ERR and frees the context right after it returns, with no
 * disconnect callback. redisAsyncFree from inside a reply callback is
 * deferred by hiredis until that callback returns. Freeing the context
 * from inside the connect callback is never safe (hiredis touches it after
 * the callback), so user code never runs from there.
 *
 * So the rule here: r->ac is the live context or NULL. lost() detaches it
 * (sets r->ac = NULL) the first time we learn that it is going away, which
 * is in whichever of these comes first: our own drop(), the first NULL
 * reply, the connect callback with an error, or the disconnect callback.
 * Every teardown completes synchronously inside the uv callback that
 * started it, so r stays valid throughout: r is only freed from a uv close
 * callback, which libuv runs in a later phase of the loop. */
#include "common/redis_uv.h"

#include <assert.h>
#include <curl/curl.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* One command in flight, in send order (Redis answers in order, so the
 * head is always the oldest). */
struct cmd {
    struct cmd *prev, *next;
    redis_uv_t *r;
    redis_uv_cb cb;
    void *arg;
    uint64_t sent_ms;
};

struct redis_uv {
    uv_loop_t *loop;
    char *name;
    char *host;
    int port;
    char *user;     /* NULL: AUTH with the password only */
    char *password; /* NULL: no AUTH */
    int db;
    int cmd_timeout_ms;

    redisAsyncContext *ac; /* live context, NULL when none */
    bool connected;        /* handshake (AUTH, SELECT) done */
    int handshake_left;    /* handshake replies still expected */
    bool broken;           /* the handshake could not be queued: drop */
    struct cmd *head, *tail;

    uv_timer_t retry_timer;
    uv_timer_t cmd_timer;
    int backoff_ms;
    unsigned failures; /* connect attempts failed in a row */
    uint64_t rnd;

    char reason[256];     /* why the last context went away; errstr for NULL replies */
    char last_error[256]; /* last connection error, "" if none */

    redis_uv_state_cb state_cb;
    void *state_arg;

    bool closing;
    int pending_closes;
    redis_uv_close_cb close_cb;
    void *close_arg;
};

static void start_connect(redis_uv_t *r);
static void on_cmd_timer(uv_timer_t *t);

/* --- URL --- */

static char *
url_part(CURLU *u, CURLUPart part, unsigned flags) {
    char *s = NULL;
    if (curl_url_get(u, part, &s, flags) != CURLUE_OK) return NULL;
    char *copy = xstrdup(s);
    curl_free(s);
    return copy;
}

/* parse_url fills host, port, user, password and db from
 * redis://[[user]:password@]host[:port][/db]. */
static int
parse_url(redis_uv_t *r, const char *url, char *err, size_t errlen) {
    int rc = UV_EINVAL;
    char *scheme = NULL, *port = NULL, *path = NULL;
    CURLU *u = curl_url();
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        snprintf(err, errlen, "invalid Redis URL: %s", curl_url_strerror(uc));
        goto fail;
    }
    scheme = url_part(u, CURLUPART_SCHEME, 0);
    if (!scheme || strcmp(scheme, "redis") != 0) {
        snprintf(err, errlen, "invalid Redis URL: the scheme must be redis://");
        goto fail;
    }
    r->host = url_part(u, CURLUPART_HOST, 0);
    if (!r->host || !*r->host) {
        snprintf(err, errlen, "invalid Redis URL: no host");
        goto fail;
    }
    /* curl keeps the brackets of an IPv6 literal; getaddrinfo wants none. */
    size_t hl = strlen(r->host);
    if (hl > 2 && r->host[0] == '[' && r->host[hl - 1] == ']') {
        memmove(r->host, r->host + 1, hl - 2);
        r->host[hl - 2] = '\0';
    }
    r->port = 6379;
    port = url_part(u, CURLUPART_PORT, 0);
    if (port) r->port = atoi(port); /* curl has checked it: 1..65535 digits */
    r->password = url_part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    r->user = url_part(u, CURLUPART_USER, CURLU_URLDECODE);
    if (r->user && !*r->user) {
        free(r->user);
        r->user = NULL;
    }
    if (r->user && !r->password) {
        snprintf(err, errlen, "invalid Redis URL: a user name needs a password");
        goto fail;
    }
    path = url_part(u, CURLUPART_PATH, 0);
    r->db = 0;
    if (path && path[0] == '/' && path[1]) {
        char *end;
        long db = strtol(path + 1, &end, 10);
        if (*end || path[1] < '0' || path[1] > '9' || db > 100000) {
            snprintf(err, errlen, "invalid Redis URL: the path must be a database number");
            goto fail;
        }
        r->db = (int)db;
    }
    rc = 0;
fail:
    free(scheme);
    free(port);
    free(path);
    curl_url_cleanup(u);
    return rc;
}

/* --- pending commands and the timeout --- */

static void
arm_cmd_timer(redis_uv_t *r) {
    if (r->closing || r->cmd_timeout_ms <= 0) return;
    if (!r->head) {
        uv_timer_stop(&r->cmd_timer);
        return;
    }
    uint64_t now = uv_now(r->loop), due = r->head->sent_ms + (uint64_t)r->cmd_timeout_ms;
    uv_timer_start(&r->cmd_timer, on_cmd_timer, due > now ? due - now : 0, 0);
}

static struct cmd *
cmd_new(redis_uv_t *r, redis_uv_cb cb, void *arg) {
    struct cmd *c = xcalloc(1, sizeof *c);
    c->r = r;
    c->cb = cb;
    c->arg = arg;
    return c;
}

/* link_cmd appends a command hiredis has accepted. */
static void
link_cmd(redis_uv_t *r, struct cmd *c) {
    c->sent_ms = uv_now(r->loop);
    c->prev = r->tail;
    if (r->tail) r->tail->next = c;
    else r->head = c;
    r->tail = c;
    if (r->head == c) arm_cmd_timer(r);
}

static void
unlink_cmd(redis_uv_t *r, struct cmd *c) {
    bool was_head = r->head == c;
    if (c->prev) c->prev->next = c->next;
    else r->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else r->tail = c->prev;
    if (was_head) arm_cmd_timer(r);
}

/* --- connection state --- */

static uint32_t
next_rand(redis_uv_t *r) {
    /* xorshift64*: jitter only needs to spread reconnects apart. */
    r->rnd ^= r->rnd >> 12;
    r->rnd ^= r->rnd << 25;
    r->rnd ^= r->rnd >> 27;
    return (uint32_t)((r->rnd * 2685821657736338717ULL) >> 32);
}

static void
on_retry_timer(uv_timer_t *t) {
    redis_uv_t *r = t->data;
    if (r->closing) return;
    start_connect(r);
}

/* schedule_retry waits between half and all of the current backoff (the
 * "equal jitter" scheme), then doubles the backoff up to its cap. */
static void
schedule_retry(redis_uv_t *r) {
    int half = r->backoff_ms / 2;
    uint64_t delay = (uint64_t)(half + (int)(next_rand(r) % (uint32_t)(half + 1)));
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
    uv_timer_start(&r->retry_timer, on_retry_timer, delay, 0);
}

/* lost detaches the live context, which hiredis is about to free or which
 * drop() frees right after, reports the change and schedules a reconnect. */
static void
lost(redis_uv_t *r, const char *why) {
    bool was_connected = r->connected;
    r->ac = NULL;
    r->connected = false;
    r->handshake_left = 0;
    r->broken = false;
    snprintf(r->reason, sizeof r->reason, "%s", why && *why ? why : "connection lost");
    if (r->closing) return;
    snprintf(r->last_error, sizeof r->last_error, "%s", r->reason);
    if (was_connected) {
        /* The outage is reported here; failed attempts after it are debug. */
        r->failures = 1;
        log_warn("msg=\"redis disconnected\" conn=%s error=%s", r->name, log_q(r->reason));
    } else if (r->failures++ == 0) {
        log_warn("msg=\"redis connect failed\" conn=%s addr=%s:%d error=%s", r->name, r->host,
                 r->port, log_q(r->reason));
    } else {
        log_debug("msg=\"redis connect failed\" conn=%s error=%s attempt=%u", r->name,
                  log_q(r->reason), r->failures);
    }
    schedule_retry(r);
    if (was_connected && r->state_cb) r->state_cb(r, false, r->state_arg);
}

/* drop frees the live context: pending commands get NULL and why. */
static void
drop(redis_uv_t *r, const char *why) {
    redisAsyncContext *ac = r->ac;
    if (!ac) return;
    lost(r, why);
    redisAsyncFree(ac);
}

/* on_cmd_timer fires when the oldest command may have waited too long,
 * when a connect attempt took too long (no command is pending before the
 * handshake), or to drop a context the handshake could not use. */
static void
on_cmd_timer(uv_timer_t *t) {
    redis_uv_t *r = t->data;
    if (r->closing || !r->ac) return;
    if (r->broken) drop(r, "handshake: cannot queue commands");
    else if (!r->head) drop(r, "connect timeout");
    else if (uv_now(r->loop) - r->head->sent_ms >= (uint64_t)r->cmd_timeout_ms) drop(r, "timeout");
    else arm_cmd_timer(r);
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    struct cmd *c = privdata;
    redis_uv_t *r = c->r;
    unlink_cmd(r, c);
    if (!reply && r->ac == ac) lost(r, ac->err && ac->errstr ? ac->errstr : "connection lost");
    c->cb(r, reply, reply ? NULL : r->reason, c->arg);
    free(c);
}

/* send_argv queues a command on the live context. */
static int
send_argv(redis_uv_t *r, redis_uv_cb cb, void *arg, int argc, const char **argv,
          const size_t *argvlen) {
    struct cmd *c = cmd_new(r, cb, arg);
    if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, argvlen) != REDIS_OK) {
        free(c);
        return UV_ENOTCONN;
    }
    link_cmd(r, c);
    return 0;
}

static void
on_handshake(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    (void)errstr;
    (void)arg;
    if (!reply || r->closing) return; /* lost() has reported it */
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "handshake: %s", reply->str);
        drop(r, why); /* deferred by hiredis until this callback returns */
        return;
    }
    if (--r->handshake_left > 0) return;
    r->connected = true;
    r->failures = 0;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->last_error[0] = '\0';
    log_info("msg=\"redis connected\" conn=%s addr=%s:%d db=%d", r->name, r->host, r->port, r->db);
    if (r->state_cb) r->state_cb(r, true, r->state_arg);
}

/* handshake sends AUTH and SELECT as the URL asks, or a PING, so that
 * "connected" is always decided by a reply callback, where user code may
 * safely close us. */
static void
handshake(redis_uv_t *r) {
    char db[16];
    snprintf(db, sizeof db, "%d", r->db);
    const char *auth1[] = {"AUTH", r->password};
    const char *auth2[] = {"AUTH", r->user, r->password};
    const char *select[] = {"SELECT", db};
    const char *ping[] = {"PING"};
    int rc = 0;
    r->handshake_left = 0;
    if (r->password) {
        if (r->user) rc = send_argv(r, on_handshake, NULL, 3, auth2, NULL);
        else rc = send_argv(r, on_handshake, NULL, 2, auth1, NULL);
        r->handshake_left++;
    }
    if (rc == 0 && r->db != 0) {
        rc = send_argv(r, on_handshake, NULL, 2, select, NULL);
        r->handshake_left++;
    }
    if (rc == 0 && r->handshake_left == 0) {
        rc = send_argv(r, on_handshake, NULL, 1, ping, NULL);
        r->handshake_left++;
    }
    /* Queuing fails only when hiredis is out of memory. Freeing the
     * context is not allowed inside the connect callback, so the timer
     * drops it on the next turn of the loop. */
    if (rc < 0) {
        r->broken = true;
        uv_timer_start(&r->cmd_timer, on_cmd_timer, 0, 0);
    }
}

static void
on_connect(const redisAsyncContext *cac, int status) {
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    redis_uv_t *r = ac->data;
    if (r->ac != ac) return;
    /* On failure hiredis frees the context when we return. */
    if (status != REDIS_OK) lost(r, ac->errstr);
    else handshake(r);
}

static void
on_disconnect(const redisAsyncContext *cac, int status) {
    redis_uv_t *r = cac->data;
    if (r->ac != cac) return; /* already reported */
    lost(r, status == REDIS_OK ? "disconnected" : cac->errstr);
}

/* The hiredis 0.14 adapter ignores a poll status < 0, but libuv reports
 * POLLERR that way (and stops the handle): a refused connect would hang
 * until the connect timeout. These wrappers keep the adapter's bookkeeping
 * and restart its handle with on_redis_poll, which hands hiredis the
 * events it was waiting for so that it reads the error itself. */
static void
on_redis_poll(uv_poll_t *h, int status, int events) {
    redisLibuvEvents *p = h->data;
    redisLibuvPoll(h, 0, status < 0 ? p->events : events);
}

static void
repoll(void *privdata) {
    redisLibuvEvents *p = privdata;
    if (p->events) uv_poll_start(&p->handle, p->events, on_redis_poll);
}

static void
ev_add_read(void *privdata) {
    redisLibuvAddRead(privdata);
    repoll(privdata);
}

static void
ev_del_read(void *privdata) {
    redisLibuvDelRead(privdata);
    repoll(privdata);
}

static void
ev_add_write(void *privdata) {
    redisLibuvAddWrite(privdata);
    repoll(privdata);
}

static void
ev_del_write(void *privdata) {
    redisLibuvDelWrite(privdata);
    repoll(privdata);
}

static void
start_connect(redis_uv_t *r) {
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        schedule_retry(r);
        return;
    }
    r->ac = ac;
    if (ac->err) {
        drop(r, ac->errstr);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        drop(r, "cannot attach to the loop");
        return;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    /* The connect callback is set last: setting it starts write polling. */
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect);
    /* No command is pending until the handshake: the timer bounds the
     * connect itself. */
    if (r->cmd_timeout_ms > 0)
        uv_timer_start(&r->cmd_timer, on_cmd_timer, (uint64_t)r->cmd_timeout_ms, 0);
}

/* --- public API --- */

redis_uv_t *
redis_uv_new(uv_loop_t *loop, const char *url, const char *name, int cmd_timeout_ms, char *err,
             size_t errlen) {
    redis_uv_t *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->name = xstrdup(name ? name : "redis");
    r->cmd_timeout_ms = cmd_timeout_ms;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->rnd = uv_hrtime() ^ (uint64_t)(uintptr_t)r ^ 0x9e3779b97f4a7c15ULL;
    if (parse_url(r, url, err, errlen) < 0) goto fail;
    uv_timer_init(loop, &r->retry_timer);
    uv_timer_init(loop, &r->cmd_timer);
    r->retry_timer.data = r;
    r->cmd_timer.data = r;
    start_connect(r);
    return r;
fail:
    free(r->name);
    free(r->host);
    free(r->user);
    free(r->password);
    free(r);
    return NULL;
}

void
redis_uv_on_state(redis_uv_t *r, redis_uv_state_cb cb, void *arg) {
    r->state_cb = cb;
    r->state_arg = arg;
}

bool
redis_uv_connected(const redis_uv_t *r) {
    return r->connected && r->ac && !r->closing;
}

int
redis_uv_command(redis_uv_t *r, redis_uv_cb cb, void *arg, int argc, const char **argv,
                 const size_t *argvlen) {
    assert(cb);
    if (r->closing) return UV_ECANCELED;
    if (!redis_uv_connected(r)) return UV_ENOTCONN;
    return send_argv(r, cb, arg, argc, argv, argvlen);
}

int
redis_uv_commandf(redis_uv_t *r, redis_uv_cb cb, void *arg, const char *fmt, ...) {
    assert(cb);
    if (r->closing) return UV_ECANCELED;
    if (!redis_uv_connected(r)) return UV_ENOTCONN;
    struct cmd *c = cmd_new(r, cb, arg);
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(r->ac, on_reply, c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(c);
        /* The context is healthy here, so the format was bad. */
        return UV_EINVAL;
    }
    link_cmd(r, c);
    return 0;
}

const char *
redis_uv_last_error(const redis_uv_t *r) {
    return r->last_error;
}

static void
on_handle_closed(uv_handle_t *h) {
    redis_uv_t *r = h->data;
    if (--r->pending_closes > 0) return;
    assert(!r->head && !r->ac);
    redis_uv_close_cb cb = r->close_cb;
    void *arg = r->close_arg;
    free(r->name);
    free(r->host);
    free(r->user);
    free(r->password);
    free(r);
    if (cb) cb(arg);
}

void
redis_uv_close(redis_uv_t *r, redis_uv_close_cb cb, void *arg) {
    assert(!r->closing);
    r->closing = true;
    r->close_cb = cb;
    r->close_arg = arg;
    /* Pending commands get (NULL, "closing") now, or, when we are inside
     * one of their callbacks, as soon as it returns (hiredis defers). */
    drop(r, "closing");
    r->pending_closes = 2;
    uv_close((uv_handle_t *)&r->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->cmd_timer, on_handle_closed);
}
