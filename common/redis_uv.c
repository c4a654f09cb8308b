/* redis_uv.c — Redis on libuv over common/transport, with reconnect and a
 * command timeout. See redis_uv.h for the contract.
 *
 * The rule for connection state: r->t is the live transport or NULL.
 * drop() detaches it (r->t = NULL), closes it (its memory goes in a later
 * turn of the loop; r->pending_closes counts it so that r outlives it),
 * reports the loss, and fails every pending command with a NULL reply.
 * It runs from whichever comes first: a transport error, a reader error,
 * a failed handshake reply, the timeout timer, or redis_uv_close. Every
 * callback into user code is followed by a check that r is still open and
 * on the same transport before anything else is touched, because the user
 * may close r (or a failure may drop the connection) from inside it. r
 * itself is freed only from a uv close callback, never during one of our
 * own calls. */
#include "common/redis_uv.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/redis_scripts.h"
#include "common/redis_url.h"
#include "common/transport.h"
#include "common/xalloc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* One command in flight, in send order (Redis answers in order, so the
 * head is always the oldest). */
struct cmd {
    struct cmd *prev, *next;
    redis_uv_cb cb;
    void *arg;
    uint64_t sent_ms;
};

struct redis_uv {
    uv_loop_t *loop;
    char *name;
    struct redis_url url;
    tls_ctx_t *tls;       /* rediss:// only */
    const char *tls_mode; /* for logs: "off", "on" or "unverified" */
    int cmd_timeout_ms;

    transport_t *t;      /* live connection, NULL when none */
    redisReader *reader; /* replies of the live connection */
    bool connected;      /* handshake (AUTH, SELECT) done */
    int handshake_left;  /* handshake replies still expected */
    struct cmd *head, *tail;
    struct redis_scripts scripts; /* the Lua scripts sent whole on this connection */

    uv_timer_t retry_timer;
    uv_timer_t cmd_timer;
    const struct cmd *late;   /* the command found late once, given one more read */
    struct backoff reconnect; /* its failures: connect attempts failed in a row */

    char reason[256];     /* why the last connection went away; errstr for NULL replies */
    char last_error[256]; /* last connection error, "" if none */

    redis_uv_state_cb state_cb;
    void *state_arg;
    redis_uv_message_cb message_cb; /* a subscriber connection */
    void *message_arg;

    bool closing;
    int pending_closes; /* transports and timers still closing */
    redis_uv_close_cb close_cb;
    void *close_arg;
};

static void start_connect(redis_uv_t *r);
static void on_cmd_timer(uv_timer_t *t);

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

/* fail_pending calls every pending command back with NULL and r->reason.
 * A callback may close r, which empties the list itself. */
static void
fail_pending(redis_uv_t *r) {
    while (r->head) {
        struct cmd *c = r->head;
        unlink_cmd(r, c);
        c->cb(r, NULL, r->reason, c->arg);
        free(c);
    }
}

/* send_formatted writes one encoded command (and frees it) and queues its
 * callback. */
static int
send_formatted(redis_uv_t *r, redis_uv_cb cb, void *arg, char *cmd, int len) {
    int rc = transport_write(r->t, cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (rc < 0) return rc;
    struct cmd *c = xcalloc(1, sizeof *c);
    c->cb = cb;
    c->arg = arg;
    link_cmd(r, c);
    return 0;
}

static int
send_argv(redis_uv_t *r, redis_uv_cb cb, void *arg, int argc, const char **argv,
          const size_t *argvlen) {
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0) return UV_ENOMEM;
    return send_formatted(r, cb, arg, cmd, len);
}

/* send_script sends EVAL script ... as EVALSHA sha ... when the script
 * went whole on this connection before (Redis has it then: the earlier
 * EVAL ran first), else as it is. */
static int
send_script(redis_uv_t *r, redis_uv_cb cb, void *arg, int argc, const char **argv,
            const size_t *argvlen) {
    char sha[REDIS_SCRIPTS_SHA_LEN + 1];
    size_t len = argvlen ? argvlen[1] : strlen(argv[1]);
    if (redis_scripts_name(&r->scripts, argv[1], len, sha) < 0 ||
        !redis_scripts_use(&r->scripts, sha))
        return send_argv(r, cb, arg, argc, argv, argvlen);
    /* On the stack for the usual few arguments; a batch's renewals (a
     * thousand entries) take the heap. */
    const char *av_stack[32];
    size_t avl_stack[32];
    bool heap = argc > 32;
    const char **av = heap ? xmalloc((size_t)argc * sizeof *av) : av_stack;
    size_t *avl = heap ? xmalloc((size_t)argc * sizeof *avl) : avl_stack;
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i];
        avl[i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    av[0] = "EVALSHA";
    avl[0] = 7;
    av[1] = sha;
    avl[1] = REDIS_SCRIPTS_SHA_LEN;
    int rc = send_argv(r, cb, arg, argc, av, avl);
    if (heap) {
        free(av);
        free(avl);
    }
    return rc;
}

/* --- connection state --- */

static void
on_retry_timer(uv_timer_t *t) {
    redis_uv_t *r = t->data;
    if (r->closing) return;
    start_connect(r);
}

/* schedule_retry counts a failed attempt and waits out its backoff. */
static void
schedule_retry(redis_uv_t *r) {
    uv_timer_start(&r->retry_timer, on_retry_timer, (uint64_t)backoff_next(&r->reconnect), 0);
}

/* lost records why the connection (or the attempt) ended, logs it once
 * per outage, schedules a reconnect and reports the change. */
static void
lost(redis_uv_t *r, const char *why) {
    bool was_connected = r->connected;
    r->connected = false;
    r->handshake_left = 0;
    snprintf(r->reason, sizeof r->reason, "%s", why && *why ? why : "connection lost");
    if (r->closing) return;
    snprintf(r->last_error, sizeof r->last_error, "%s", r->reason);
    if (was_connected) {
        /* The outage is reported here; failed attempts after it are debug. */
        log_warn("msg=\"redis disconnected\" conn=%s error=%s", r->name, log_q(r->reason));
    } else if (r->reconnect.failures == 0) {
        log_warn("msg=\"redis connect failed\" conn=%s addr=%s:%d tls=%s error=%s", r->name,
                 r->url.host, r->url.port, r->tls_mode, log_q(r->reason));
    } else {
        log_debug("msg=\"redis connect failed\" conn=%s error=%s attempt=%u", r->name,
                  log_q(r->reason), r->reconnect.failures + 1);
    }
    schedule_retry(r);
    if (was_connected && r->state_cb) r->state_cb(r, false, r->state_arg);
}

static void
on_transport_closed(void *arg) {
    redis_uv_t *r = arg;
    if (--r->pending_closes > 0 || !r->closing) return;
    assert(!r->head && !r->t);
    redis_uv_close_cb cb = r->close_cb;
    void *cb_arg = r->close_arg;
    if (r->reader) redisReaderFree(r->reader);
    tls_ctx_free(r->tls);
    redis_url_free(&r->url);
    redis_scripts_free(&r->scripts);
    free(r->name);
    free(r);
    if (cb) cb(cb_arg);
}

static void
on_handle_closed(uv_handle_t *h) {
    on_transport_closed(h->data);
}

/* drop closes the live connection: the loss is reported, then pending
 * commands get NULL and why. */
static void
drop(redis_uv_t *r, const char *why) {
    transport_t *t = r->t;
    if (!t) return;
    r->t = NULL;
    r->pending_closes++;
    transport_close(t, on_transport_closed, r);
    lost(r, why);
    fail_pending(r);
}

/* on_cmd_timer fires when the oldest command may have waited too long, or
 * when connecting (no command is pending before the handshake) took too
 * long. */
static void
on_cmd_timer(uv_timer_t *t) {
    redis_uv_t *r = t->data;
    if (r->closing || !r->t) return;
    if (!r->head) {
        drop(r, "connect timeout");
    } else if (uv_now(r->loop) - r->head->sent_ms >= (uint64_t)r->cmd_timeout_ms) {
        /* The loop may have been busy (a big page's counting) while the
         * answer sat in the socket: timers run before the socket is read,
         * so let one read happen before calling the command late. */
        if (r->late != r->head) {
            r->late = r->head;
            uv_timer_start(&r->cmd_timer, on_cmd_timer, 1, 0);
            return;
        }
        drop(r, "timeout");
    } else {
        arm_cmd_timer(r);
    }
}

static void
on_handshake(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    (void)errstr;
    (void)arg;
    if (!reply || r->closing) return; /* lost() has reported it */
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "handshake: %s", reply->str);
        drop(r, why);
        return;
    }
    if (--r->handshake_left > 0) return;
    r->connected = true;
    backoff_reset(&r->reconnect);
    r->last_error[0] = '\0';
    log_info("msg=\"redis connected\" conn=%s addr=%s:%d db=%d tls=%s", r->name, r->url.host,
             r->url.port, r->url.db, r->tls_mode);
    if (r->state_cb) r->state_cb(r, true, r->state_arg);
}

/* on_connect sends AUTH and SELECT as the URL asks, or a PING, so that
 * "connected" is always decided by a reply, after which user code may
 * safely close us. */
static void
on_connect(transport_t *t, void *arg) {
    redis_uv_t *r = arg;
    assert(r->t == t);
    redis_scripts_forget_sent(&r->scripts); /* a new connection: each script goes whole once */
    char db[16];
    snprintf(db, sizeof db, "%d", r->url.db);
    const char *auth1[] = {"AUTH", r->url.password};
    const char *auth2[] = {"AUTH", r->url.user, r->url.password};
    const char *select[] = {"SELECT", db};
    const char *ping[] = {"PING"};
    int rc = 0;
    r->handshake_left = 0;
    if (r->url.password) {
        if (r->url.user) rc = send_argv(r, on_handshake, NULL, 3, auth2, NULL);
        else rc = send_argv(r, on_handshake, NULL, 2, auth1, NULL);
        r->handshake_left++;
    }
    if (rc == 0 && r->url.db != 0) {
        rc = send_argv(r, on_handshake, NULL, 2, select, NULL);
        r->handshake_left++;
    }
    if (rc == 0 && r->handshake_left == 0) {
        rc = send_argv(r, on_handshake, NULL, 1, ping, NULL);
        r->handshake_left++;
    }
    if (rc < 0) drop(r, "handshake: cannot queue commands");
}

/* is_message tells whether reply is a pub/sub message (RESP2's
 * ["message", channel, payload]). */
static bool
is_message(const redisReply *reply) {
    return reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
           reply->element[0]->type == REDIS_REPLY_STRING &&
           reply->element[1]->type == REDIS_REPLY_STRING &&
           reply->element[2]->type == REDIS_REPLY_STRING &&
           !strcmp(reply->element[0]->str, "message");
}

/* on_read decodes replies and hands each to the oldest pending command
 * (or, on a subscriber connection, a message to the message callback). */
static void
on_read(transport_t *t, const char *data, size_t len, void *arg) {
    redis_uv_t *r = arg;
    if (redisReaderFeed(r->reader, data, len) != REDIS_OK) {
        drop(r, "out of memory reading a reply");
        return;
    }
    while (!r->closing && r->t == t) {
        void *reply = NULL;
        if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
            char why[160];
            snprintf(why, sizeof why, "protocol error: %s", r->reader->errstr);
            drop(r, why);
            return;
        }
        if (!reply) return;
        if (r->message_cb && is_message(reply)) {
            redisReply *m = reply;
            r->message_cb(r, m->element[1]->str, m->element[2]->str, m->element[2]->len,
                          r->message_arg);
            freeReplyObject(reply);
            continue;
        }
        struct cmd *c = r->head;
        if (!c) {
            freeReplyObject(reply);
            drop(r, "protocol error: a reply to no command");
            return;
        }
        unlink_cmd(r, c);
        redisReply *rep = reply;
        if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
            /* Redis lost its scripts (SCRIPT FLUSH) under a live
             * connection: this call fails, the next ones send them whole. */
            log_warn("msg=\"redis has not got a script, sending them whole again\" conn=%s",
                     r->name);
            redis_scripts_forget_sent(&r->scripts);
        }
        c->cb(r, reply, NULL, c->arg);
        free(c);
        freeReplyObject(reply);
    }
}

static void
on_error(transport_t *t, const char *errstr, void *arg) {
    redis_uv_t *r = arg;
    assert(r->t == t);
    drop(r, errstr);
}

static void
start_connect(redis_uv_t *r) {
    static const struct transport_cbs cbs = {
        .on_connect = on_connect, .on_read = on_read, .on_error = on_error};
    /* A fresh reader: a dropped connection may have left half a reply. */
    if (r->reader) redisReaderFree(r->reader);
    r->reader = redisReaderCreate();
    if (!r->reader) {
        lost(r, "out of memory");
        return;
    }
    r->t = transport_new(r->loop, r->url.host, r->url.port, r->tls, &cbs, r);
    /* No command is pending until the handshake: the timer bounds the
     * connect itself. */
    if (r->cmd_timeout_ms > 0)
        uv_timer_start(&r->cmd_timer, on_cmd_timer, (uint64_t)r->cmd_timeout_ms, 0);
}

/* --- public API --- */

redis_uv_t *
redis_uv_new(uv_loop_t *loop, const char *url, const struct tls_opts *tls, const char *name,
             int cmd_timeout_ms, char *err, size_t errlen) {
    redis_uv_t *r = xcalloc(1, sizeof *r);
    if (redis_url_parse(url, &r->url, err, errlen) < 0) {
        free(r);
        return NULL;
    }
    if (r->url.tls && !(r->tls = tls_ctx_new(tls, err, errlen))) {
        redis_url_free(&r->url);
        free(r);
        return NULL;
    }
    r->tls_mode = !r->url.tls ? "off" : !tls || tls->verify ? "on" : "unverified";
    r->loop = loop;
    r->name = xstrdup(name ? name : "redis");
    r->cmd_timeout_ms = cmd_timeout_ms;
    backoff_init(&r->reconnect, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
                 uv_hrtime() ^ (uint64_t)(uintptr_t)r);
    uv_timer_init(loop, &r->retry_timer);
    uv_timer_init(loop, &r->cmd_timer);
    r->retry_timer.data = r;
    r->cmd_timer.data = r;
    start_connect(r);
    return r;
}

void
redis_uv_on_message(redis_uv_t *r, redis_uv_message_cb cb, void *arg) {
    r->message_cb = cb;
    r->message_arg = arg;
}

void
redis_uv_on_state(redis_uv_t *r, redis_uv_state_cb cb, void *arg) {
    r->state_cb = cb;
    r->state_arg = arg;
}

bool
redis_uv_connected(const redis_uv_t *r) {
    return r->connected && r->t && !r->closing;
}

int
redis_uv_command(redis_uv_t *r, redis_uv_cb cb, void *arg, int argc, const char **argv,
                 const size_t *argvlen) {
    assert(cb);
    if (r->closing) return UV_ECANCELED;
    if (!redis_uv_connected(r)) return UV_ENOTCONN;
    if (argc >= 3 && strcmp(argv[0], "EVAL") == 0)
        return send_script(r, cb, arg, argc, argv, argvlen);
    return send_argv(r, cb, arg, argc, argv, argvlen);
}

int
redis_uv_commandf(redis_uv_t *r, redis_uv_cb cb, void *arg, const char *fmt, ...) {
    assert(cb);
    if (r->closing) return UV_ECANCELED;
    if (!redis_uv_connected(r)) return UV_ENOTCONN;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) return UV_EINVAL; /* a bad format */
    return send_formatted(r, cb, arg, cmd, len);
}

const char *
redis_uv_last_error(const redis_uv_t *r) {
    return r->last_error;
}

void
redis_uv_close(redis_uv_t *r, redis_uv_close_cb cb, void *arg) {
    assert(!r->closing);
    r->closing = true;
    r->close_cb = cb;
    r->close_arg = arg;
    /* Pending commands get (NULL, "closing") now, even when we are inside
     * one of their callbacks. */
    snprintf(r->reason, sizeof r->reason, "closing");
    drop(r, "closing");
    fail_pending(r);
    r->pending_closes += 2;
    uv_close((uv_handle_t *)&r->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->cmd_timer, on_handle_closed);
}
