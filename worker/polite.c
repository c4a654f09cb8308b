#include "worker/polite.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/robots.h"
#include "common/shards.h"
#include "common/xalloc.h"
#include "worker/fetch.h"

/* Parsed robots.txt kept per process, direct-mapped by origin: a miss
 * costs one Redis read (and a parse), never a fetch. */
#define CACHE_SLOTS 256
/* The longest a robots.txt is kept (RFC 9309 2.4: 24 hours). */
#define ROBOTS_MAX_AGE_MS (24LL * 3600 * 1000)
/* A check that finds another worker fetching its robots.txt waits for
 * it here, reading Redis again after ROBOTS_POLL_MIN_MS, doubling up to
 * ROBOTS_POLL_MAX_MS, for at most as long as that fetch may take
 * (FETCH_TIMEOUT, and ROBOTS_POLL_SLACK_MS for its slot and its store);
 * only then is the job parked, as robots_pending, for
 * ROBOTS_PENDING_WAIT_MS. */
#define ROBOTS_POLL_MIN_MS 20
#define ROBOTS_POLL_MAX_MS 1000
#define ROBOTS_POLL_SLACK_MS 1000
#define ROBOTS_PENDING_WAIT_MS 500
/* How many stale waiters (canceled, or woken by their due time) a
 * release skips to find one still waiting. */
#define WAKE_TRIES 8

/* unavailable: 5xx or 429, kept FETCH_ROBOTS_RETRY; unreachable: no
 * answer at all (connection, DNS, timeout), kept only a moment, so the
 * job's own backoff decides when it is tried again. */
enum robots_state { ROBOTS_OK, ROBOTS_NONE, ROBOTS_UNAVAILABLE, ROBOTS_UNREACHABLE };
#define ROBOTS_UNREACHABLE_TTL_MS 1000

struct cache_entry {
    char origin[HOSTS_NAME_MAX + 1];
    enum robots_state state;
    struct robots *rules; /* ROBOTS_OK only */
    int64_t expires_at;
    char code[32]; /* ROBOTS_UNREACHABLE: the fetch's error code ("connect", ...) */
};

struct check;

struct polite {
    uv_loop_t *loop;
    const struct config *cfg;
    struct polite_shard *shards; /* [nshards]: a host's state lives on its shard */
    int nshards;
    curl_uv_t *curl;
    char consumer[160];
    char agent[64];
    struct hosts_limits lim;
    bool hosts_on;
    uv_timer_t renew;
    uv_timer_t poll;           /* the next read of a robots.txt another worker fetches */
    struct polite_slot *slots; /* held: renewed by the timer */
    struct check *checks;      /* in flight */
    uint64_t seq;
    struct cache_entry cache[CACHE_SLOTS];
    bool closing;
    int timers_open;
    void (*close_cb)(void *arg);
    void *close_arg;
};

struct check {
    polite_t *p;
    const struct polite_shard *sh; /* the host's shard */
    struct check *prev, *next;
    char *url;
    char host[HOSTS_NAME_MAX + 1];
    char origin[HOSTS_NAME_MAX + 1];
    struct polite_slot *slot;
    polite_cb cb;
    void *arg;
    /* The first check of an origin whose robots.txt is not cached here
     * leads: it reads (or fetches) the robots.txt, and the checks of this
     * process for the same origin wait for it rather than park their
     * jobs. The leader hands them what it learned, or its own answer. */
    bool leading;
    struct check *waiters; /* linked by next_waiter */
    struct check *next_waiter;
    fetch_t *fetch; /* the robots.txt fetch, when the leader makes it */
    struct polite_slot robots_slot;
    /* Waiting for another worker's robots.txt fetch (a leader only):
     * read Redis again at poll_at (0: not now), by poll_step, until
     * poll_until. */
    int64_t poll_at, poll_until, poll_step;
    bool cancel_asked; /* polite_cancel came while Redis was being read again */
    struct buf body;
    char detail[640];
};

static void maybe_free(polite_t *p);

/* home is the shard that keeps host's state (common/shards.h). */
static const struct polite_shard *
home(const polite_t *p, const char *host) {
    return &p->shards[shards_of_host(host, p->nshards)];
}

static const char *const state_names[] = {"ok", "none", "unavailable", "unreachable"};

/* --- slots --- */

static void
slot_link(polite_t *p, struct polite_slot *s) {
    s->held = true;
    s->prev = NULL;
    s->next = p->slots;
    if (p->slots) p->slots->prev = s;
    p->slots = s;
}

static void
slot_unlink(polite_t *p, struct polite_slot *s) {
    if (s->prev) s->prev->next = s->next;
    else p->slots = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->held = false;
}

static void
on_renew_timer(uv_timer_t *t) {
    polite_t *p = t->data;
    for (struct polite_slot *s = p->slots; s; s = s->next) {
        const struct polite_shard *h = home(p, s->host);
        hosts_renew(h->redis, h->keys, s->host, s->token, p->lim.lease_ms);
    }
}

/* A release wakes one job that waited for the host; one no longer
 * waiting makes it look for the next. Owned by the chain of calls, and
 * free of the polite_t (which may be gone by the time Redis answers). */
struct wake {
    redis_uv_t *redis;
    const struct keys *keys;
    struct queue *queue;
    char host[HOSTS_NAME_MAX + 1];
    int tries;
};

static void on_waiter(int status, const char *woken, const char *errstr, void *arg);

static void
on_woken(int status, long long value, const char *errstr, void *arg) {
    struct wake *w = arg;
    (void)errstr;
    if (status == 0 && value == 0 && ++w->tries < WAKE_TRIES &&
        hosts_next_waiter(w->redis, w->keys, w->host, on_waiter, w) == 0)
        return;
    free(w);
}

static void
on_waiter(int status, const char *woken, const char *errstr, void *arg) {
    struct wake *w = arg;
    (void)errstr;
    if (status == 0 && woken && queue_wake(w->queue, woken, on_woken, w) == 0) return;
    free(w);
}

void
polite_release(polite_t *p, struct polite_slot *slot, long http_status, int64_t retry_after_ms) {
    if (!slot->held) return;
    slot_unlink(p, slot);
    struct wake *w = xcalloc(1, sizeof *w);
    /* The host's wait list holds jobs of the host's shard only (task.c
     * parks no other there), so the one woken is on that shard too. */
    const struct polite_shard *h = home(p, slot->host);
    *w = (struct wake){.redis = h->redis, .keys = h->keys, .queue = h->queue};
    snprintf(w->host, sizeof w->host, "%s", slot->host);
    if (hosts_release(h->redis, h->keys, slot->host, slot->token, http_status, retry_after_ms,
                      &p->lim, on_waiter, w) < 0) {
        /* Redis is down: the slot lapses with its lease. */
        free(w);
    }
}

/* --- robots.txt cache --- */

static struct cache_entry *
cache_slot(polite_t *p, const char *origin) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *s = origin; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return &p->cache[h % CACHE_SLOTS];
}

static const struct cache_entry *
cache_get(polite_t *p, const char *origin) {
    struct cache_entry *e = cache_slot(p, origin);
    if (strcmp(e->origin, origin) != 0 || e->expires_at <= clock_now_ms()) return NULL;
    return e;
}

static const struct cache_entry *
cache_put(polite_t *p, const char *origin, enum robots_state state, const char *body, size_t len,
          int64_t expires_at) {
    struct cache_entry *e = cache_slot(p, origin);
    robots_free(e->rules);
    e->rules = state == ROBOTS_OK ? robots_parse(body, len, p->agent) : NULL;
    /* An unreachable robots.txt keeps the fetch's error code as its body. */
    snprintf(e->code, sizeof e->code, "%.*s", state == ROBOTS_UNREACHABLE ? (int)len : 0, body);
    snprintf(e->origin, sizeof e->origin, "%s", origin);
    e->state = state;
    e->expires_at = expires_at;
    return e;
}

/* --- a check --- */

static void
finish_code(struct check *c, int status, enum polite_verdict v, int64_t wait_ms, const char *reason,
            const char *code) {
    polite_t *p = c->p;
    if (c->prev) c->prev->next = c->next;
    else p->checks = c->next;
    if (c->next) c->next->prev = c->prev;
    /* A leader that ends before the robots.txt is known: its waiters end
     * as it does (the same wait, the same error). */
    for (struct check *w = c->waiters, *next; w; w = next) {
        next = w->next_waiter;
        snprintf(w->detail, sizeof w->detail, "%s", c->detail);
        finish_code(w, status, v, wait_ms, reason, code);
    }
    c->waiters = NULL;
    struct polite_answer a = {.verdict = v,
                              .wait_ms = wait_ms < 0 ? 0 : wait_ms,
                              .reason = reason,
                              .code = code,
                              .host = c->host,
                              .detail = c->detail};
    c->cb(status, status == 0 ? &a : NULL, c->arg);
    buf_free(&c->body);
    free(c->url);
    free(c);
    maybe_free(p);
}

static void
finish(struct check *c, int status, enum polite_verdict v, int64_t wait_ms, const char *reason) {
    finish_code(c, status, v, wait_ms, reason, NULL);
}

static void
on_acquired(int status, const struct hosts_grant *g, const char *errstr, void *arg) {
    struct check *c = arg;
    if (status < 0) {
        snprintf(c->detail, sizeof c->detail, "%s", errstr ? errstr : "redis error");
        finish(c, status, POLITE_WAIT, 0, NULL);
        return;
    }
    if (g->granted) {
        slot_link(c->p, c->slot);
        finish(c, 0, POLITE_GO, 0, NULL);
        return;
    }
    snprintf(c->detail, sizeof c->detail, "waiting for host %s (%s)", c->host, g->reason);
    const char *reason = !strcmp(g->reason, "host_paused")   ? "host_paused"
                         : !strcmp(g->reason, "host_pacing") ? "host_pacing"
                                                             : "host_busy";
    finish(c, 0, POLITE_WAIT, g->wait_ms, reason);
}

/* acquire asks for one slot of c's host under slot's token. */
static int
acquire(struct check *c, struct polite_slot *slot, hosts_acquire_cb cb) {
    polite_t *p = c->p;
    snprintf(slot->host, sizeof slot->host, "%s", c->host);
    snprintf(slot->token, sizeof slot->token, "%.140s:%llu", p->consumer,
             (unsigned long long)++p->seq);
    return hosts_acquire(c->sh->redis, c->sh->keys, c->host, slot->token, &p->lim, cb, c);
}

static void
step_host(struct check *c) {
    if (!c->p->hosts_on) {
        finish(c, 0, POLITE_GO, 0, NULL);
        return;
    }
    int rc = acquire(c, c->slot, on_acquired);
    if (rc < 0) finish(c, rc, POLITE_WAIT, 0, NULL);
}

/* url_path writes url's path and query ("/a/b?x=1"). */
static void
url_path(const char *url, char *out, size_t n) {
    CURLU *u = curl_url();
    char *path = NULL, *query = NULL;
    snprintf(out, n, "/");
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        snprintf(out, n, "%s%s%s", path ? path : "/", query ? "?" : "", query ? query : "");
    }
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
}

/* judge applies an origin's robots.txt to c's URL, then asks for the host. */
static void
judge(struct check *c, const struct cache_entry *e) {
    int64_t now = clock_now_ms();
    if (e->state == ROBOTS_UNAVAILABLE) {
        snprintf(c->detail, sizeof c->detail,
                 "%s/robots.txt answered with a server error: the host is off limits until it "
                 "is fetched again",
                 c->origin);
        finish_code(c, 0, POLITE_ROBOTS_UNAVAILABLE, e->expires_at - now, NULL,
                    "robots_unavailable");
        return;
    }
    if (e->state == ROBOTS_UNREACHABLE) {
        snprintf(c->detail, sizeof c->detail, "%s/robots.txt could not be fetched (%s)", c->origin,
                 e->code);
        finish_code(c, 0, POLITE_ROBOTS_UNAVAILABLE, 0, NULL, e->code);
        return;
    }
    if (e->state == ROBOTS_OK) {
        char path[2048];
        url_path(c->url, path, sizeof path);
        struct robots_verdict v;
        robots_check(e->rules, path, &v);
        if (!v.allowed) {
            snprintf(c->detail, sizeof c->detail, "%s/robots.txt disallows this URL (%s)",
                     c->origin, v.rule);
            finish(c, 0, POLITE_DISALLOWED, 0, NULL);
            return;
        }
    }
    step_host(c);
}

/* robots_known judges c and every check waiting for it by e. */
static void
robots_known(struct check *c, const struct cache_entry *e) {
    struct check *waiters = c->waiters;
    c->waiters = NULL;
    c->leading = false;
    judge(c, e);
    /* The entry stays in the cache: judging never evicts it. */
    for (struct check *w = waiters, *next; w; w = next) {
        next = w->next_waiter;
        judge(w, e);
    }
}

/* robots_outcome sorts a robots.txt fetch into RFC 9309's cases. */
static enum robots_state
robots_outcome(const struct fetch_result *r) {
    if (r->status == 0 || (r->error_code && !strcmp(r->error_code, "robots_truncated")))
        return ROBOTS_OK;
    long st = r->http_status;
    if (st == 429 || st >= 500) return ROBOTS_UNAVAILABLE;
    if (st >= 400) return ROBOTS_NONE;
    /* No answer: unreachable (timeouts, connection, DNS) unless the
     * fetch itself was refused for good (blocked address, bad or too
     * many redirects): then the page's own fetch says why. */
    return r->transient ? ROBOTS_UNREACHABLE : ROBOTS_NONE;
}

static int
on_robots_head(fetch_t *f, const struct fetch_head *head, void *arg) {
    (void)f;
    (void)head;
    (void)arg;
    return 0; /* any media type: servers send robots.txt as all sorts */
}

static int
on_robots_body(fetch_t *f, const char *data, size_t len, void *arg) {
    struct check *c = arg;
    size_t room = ROBOTS_MAX_BYTES - c->body.len;
    buf_append(&c->body, data, len < room ? len : room);
    if (len >= room) return fetch_refuse(f, "robots_truncated", "robots.txt beyond 500 KiB");
    return 0;
}

static void
on_robots_done(fetch_t *f, const struct fetch_result *r, void *arg) {
    struct check *c = arg;
    polite_t *p = c->p;
    (void)f;
    c->fetch = NULL;
    polite_release(p, &c->robots_slot, r->http_status, r->retry_after_ms);
    if (r->error_code && !strcmp(r->error_code, "canceled")) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        snprintf(c->detail, sizeof c->detail, "canceled");
        finish(c, UV_ECANCELED, POLITE_WAIT, 0, NULL);
        return;
    }
    enum robots_state state = robots_outcome(r);
    int64_t now = clock_now_ms(), ttl = ROBOTS_MAX_AGE_MS;
    if (state == ROBOTS_UNAVAILABLE) ttl = p->cfg->fetch_robots_retry_ms;
    else if (state == ROBOTS_UNREACHABLE) ttl = ROBOTS_UNREACHABLE_TTL_MS;
    else if (r->max_age_ms >= 0 && r->max_age_ms < ttl) ttl = r->max_age_ms;
    if (ttl < 1000) ttl = 1000; /* max-age=0 still serves the jobs waiting for it */
    const char *body = c->body.data ? c->body.data : "";
    size_t len = state == ROBOTS_OK ? c->body.len : 0;
    if (state == ROBOTS_UNREACHABLE) {
        body = r->error_code ? r->error_code : "fetch";
        len = strlen(body);
    }
    const struct cache_entry *e = cache_put(p, c->origin, state, body, len, now + ttl);
    long delay = state == ROBOTS_OK ? robots_crawl_delay_ms(e->rules) : -1;
    struct hosts_robots rb = {
        .state = state_names[state], .body = body, .len = len, .expires_at = now + ttl};
    hosts_robots_put(c->sh->redis, c->sh->keys, c->origin, c->host, &rb, delay, r->http_status);
    log_info(
        "msg=\"robots.txt fetched\" origin=%s status=%ld state=%s rules=%zu crawl_delay_ms=%ld "
        "ttl_ms=%lld",
        c->origin, r->http_status, state_names[state], e->rules ? robots_nrules(e->rules) : 0,
        delay, (long long)ttl);
    robots_known(c, e);
}

/* robots.txt bodies are capped (500 KiB) and not held against the memory budget. */
static const struct fetch_sink robots_sink = {
    .on_head = on_robots_head, .on_body = on_robots_body, .on_done = on_robots_done};

static void
fetch_robots(struct check *c) {
    char url[HOSTS_NAME_MAX + 16];
    snprintf(url, sizeof url, "%s/robots.txt", c->origin);
    int rc = fetch_start(c->p->curl, c->p->cfg, url, NULL, &robots_sink, c, &c->fetch);
    if (rc < 0) {
        polite_release(c->p, &c->robots_slot, 0, -1);
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        snprintf(c->detail, sizeof c->detail, "cannot fetch %s: %s", url, uv_strerror(rc));
        finish(c, rc, POLITE_WAIT, 0, NULL);
    }
}

static void
on_robots_slot(int status, const struct hosts_grant *g, const char *errstr, void *arg) {
    struct check *c = arg;
    polite_t *p = c->p;
    if (status == 0 && g->granted) {
        slot_link(p, &c->robots_slot);
        if (p->closing) {
            /* Closing while the slot was asked for: no new fetch. */
            polite_release(p, &c->robots_slot, 0, -1);
            hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
            finish(c, UV_ECANCELED, POLITE_WAIT, 0, NULL);
            return;
        }
        fetch_robots(c);
        return;
    }
    /* The host is busy, paused or paced even for robots.txt: let another
     * job (or this one, later) fetch it. */
    hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
    if (status < 0) {
        snprintf(c->detail, sizeof c->detail, "%s", errstr ? errstr : "redis error");
        finish(c, status, POLITE_WAIT, 0, NULL);
        return;
    }
    snprintf(c->detail, sizeof c->detail, "waiting for host %s (%s)", c->host, g->reason);
    finish(c, 0, POLITE_WAIT, g->wait_ms, g->reason);
}

static void on_robots_read(int status, const struct hosts_robots *rb, const char *errstr,
                           void *arg);
static void on_poll_timer(uv_timer_t *t);

/* on_reread: the lock was won, but another worker may have stored the
 * robots.txt between this check's read and its lock (its store frees the
 * lock): then that one is used, and the lock freed. */
static void
on_reread(int status, const struct hosts_robots *rb, const char *errstr, void *arg) {
    struct check *c = arg;
    if (status == 0 && rb->state) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        on_robots_read(status, rb, errstr, arg);
        return;
    }
    if (status < 0) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        snprintf(c->detail, sizeof c->detail, "%s", errstr ? errstr : "redis error");
        finish(c, status, POLITE_WAIT, 0, NULL);
        return;
    }
    if (c->p->closing) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        finish(c, UV_ECANCELED, POLITE_WAIT, 0, NULL);
        return;
    }
    if (!c->p->hosts_on) {
        fetch_robots(c);
        return;
    }
    int rc = acquire(c, &c->robots_slot, on_robots_slot);
    if (rc < 0) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        finish(c, rc, POLITE_WAIT, 0, NULL);
    }
}

/* poll_arm sets the poll timer for the earliest check due to read Redis
 * again (stops it when none is). */
static void
poll_arm(polite_t *p) {
    int64_t next = 0;
    for (struct check *c = p->checks; c; c = c->next)
        if (c->poll_at && (!next || c->poll_at < next)) next = c->poll_at;
    if (!next) {
        uv_timer_stop(&p->poll);
        return;
    }
    int64_t now = clock_now_ms();
    uv_timer_start(&p->poll, on_poll_timer, next > now ? (uint64_t)(next - now) : 0, 0);
}

/* on_poll_timer reads Redis again for each check that is due: the
 * robots.txt is there (judged), or the lock is free (this check fetches
 * it), or it waits on (wait_for_robots). */
static void
on_poll_timer(uv_timer_t *t) {
    polite_t *p = t->data;
    int64_t now = clock_now_ms();
again:
    for (struct check *c = p->checks; c; c = c->next) {
        if (!c->poll_at || c->poll_at > now) continue;
        c->poll_at = 0;
        int rc = hosts_robots_get(c->sh->redis, c->sh->keys, c->origin, on_robots_read, c);
        if (rc < 0) {
            /* Its finish may end others (its waiters): look again from the start. */
            finish(c, rc, POLITE_WAIT, 0, NULL);
            goto again;
        }
    }
    poll_arm(p);
}

/* cancel_wait ends c, a check waiting for another worker's robots.txt,
 * canceled; the checks that waited with it go on waiting, the first
 * leading (reading Redis again at once if c was reading it). */
static void
cancel_wait(struct check *c) {
    polite_t *p = c->p;
    struct check *heir = c->waiters;
    if (heir) {
        heir->leading = true;
        heir->waiters = heir->next_waiter;
        heir->next_waiter = NULL;
        heir->poll_at = c->poll_at ? c->poll_at : clock_now_ms();
        heir->poll_until = c->poll_until;
        heir->poll_step = c->poll_step;
        c->waiters = NULL;
    }
    c->poll_at = 0;
    c->leading = false;
    snprintf(c->detail, sizeof c->detail, "canceled");
    finish(c, UV_ECANCELED, POLITE_WAIT, 0, NULL);
    poll_arm(p);
}

/* wait_for_robots: another worker holds the origin's lock and fetches
 * its robots.txt. The check (holding no host slot) reads Redis again
 * with backoff until that fetch has had the time it may take; only then
 * is the job parked (robots_pending), so a job of a host whose
 * robots.txt is on its way just starts a moment later. */
static void
wait_for_robots(struct check *c) {
    polite_t *p = c->p;
    int64_t now = clock_now_ms();
    if (c->cancel_asked) {
        cancel_wait(c);
        return;
    }
    if (!c->poll_until) {
        c->poll_until = now + p->cfg->fetch_timeout_ms + ROBOTS_POLL_SLACK_MS;
        c->poll_step = ROBOTS_POLL_MIN_MS;
        log_info("msg=\"waiting for another worker's robots.txt fetch\" origin=%s", c->origin);
    }
    if (p->closing || now + c->poll_step > c->poll_until) {
        snprintf(c->detail, sizeof c->detail, "another worker is fetching %s/robots.txt",
                 c->origin);
        finish(c, 0, POLITE_WAIT, ROBOTS_PENDING_WAIT_MS, "robots_pending");
        return;
    }
    c->poll_at = now + c->poll_step;
    c->poll_step = c->poll_step * 2 < ROBOTS_POLL_MAX_MS ? c->poll_step * 2 : ROBOTS_POLL_MAX_MS;
    poll_arm(p);
}

static void
on_locked(int status, bool won, const char *errstr, void *arg) {
    struct check *c = arg;
    if (status < 0) {
        snprintf(c->detail, sizeof c->detail, "%s", errstr ? errstr : "redis error");
        finish(c, status, POLITE_WAIT, 0, NULL);
        return;
    }
    if (!won) {
        wait_for_robots(c);
        return;
    }
    if (c->cancel_asked) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        cancel_wait(c);
        return;
    }
    int rc = hosts_robots_get(c->sh->redis, c->sh->keys, c->origin, on_reread, c);
    if (rc < 0) {
        hosts_robots_unlock(c->sh->redis, c->sh->keys, c->origin);
        finish(c, rc, POLITE_WAIT, 0, NULL);
    }
}

static void
on_robots_read(int status, const struct hosts_robots *rb, const char *errstr, void *arg) {
    struct check *c = arg;
    polite_t *p = c->p;
    if (status < 0) {
        snprintf(c->detail, sizeof c->detail, "%s", errstr ? errstr : "redis error");
        finish(c, status, POLITE_WAIT, 0, NULL);
        return;
    }
    if (rb->state) {
        enum robots_state st = !strcmp(rb->state, "ok")            ? ROBOTS_OK
                               : !strcmp(rb->state, "none")        ? ROBOTS_NONE
                               : !strcmp(rb->state, "unreachable") ? ROBOTS_UNREACHABLE
                                                                   : ROBOTS_UNAVAILABLE;
        robots_known(c, cache_put(p, c->origin, st, rb->body, rb->len, rb->expires_at));
        return;
    }
    /* Lock for as long as one fetch may take, and a little more. */
    int rc = hosts_robots_lock(c->sh->redis, c->sh->keys, c->origin, p->consumer,
                               p->cfg->fetch_timeout_ms + p->cfg->fetch_connect_timeout_ms + 5000,
                               on_locked, c);
    if (rc < 0) finish(c, rc, POLITE_WAIT, 0, NULL);
}

int
polite_check(polite_t *p, const char *url, struct polite_slot *slot, polite_cb cb, void *arg) {
    if (p->closing) return UV_ECANCELED;
    if (!polite_enabled(p)) {
        struct polite_answer go = {.verdict = POLITE_GO, .host = "", .detail = ""};
        cb(0, &go, arg);
        return 0;
    }
    struct check *c = xcalloc(1, sizeof *c);
    if (hosts_of_url(url, c->host, c->origin) < 0) {
        free(c);
        return UV_EINVAL;
    }
    c->p = p;
    c->sh = home(p, c->host);
    c->url = xstrdup(url);
    c->slot = slot;
    c->cb = cb;
    c->arg = arg;
    buf_init(&c->body);
    c->next = p->checks;
    if (p->checks) p->checks->prev = c;
    p->checks = c;
    if (!p->cfg->fetch_robots) {
        step_host(c);
        return 0;
    }
    const struct cache_entry *e = cache_get(p, c->origin);
    if (e) {
        judge(c, e);
        return 0;
    }
    /* Another check of this process finds out already: wait for it. */
    for (struct check *o = c->next; o; o = o->next) {
        if (o->leading && !strcmp(o->origin, c->origin)) {
            c->next_waiter = o->waiters;
            o->waiters = c;
            return 0;
        }
    }
    c->leading = true;
    int rc = hosts_robots_get(c->sh->redis, c->sh->keys, c->origin, on_robots_read, c);
    if (rc < 0) finish(c, rc, POLITE_WAIT, 0, NULL);
    return 0;
}

void
polite_cancel(polite_t *p, struct polite_slot *slot) {
    struct check *c = p->checks;
    while (c && c->slot != slot) c = c->next;
    if (!c || !c->poll_until) return; /* not waiting for another worker */
    if (c->poll_at) cancel_wait(c);
    else c->cancel_asked = true; /* reading Redis again: ends when it answers */
}

/* --- life cycle --- */

polite_t *
polite_new(uv_loop_t *loop, const struct config *cfg, const struct polite_shard *shards,
           int nshards, curl_uv_t *curl, const char *consumer) {
    polite_t *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->cfg = cfg;
    p->nshards = nshards;
    p->shards = xcalloc((size_t)nshards, sizeof *p->shards);
    memcpy(p->shards, shards, (size_t)nshards * sizeof *shards);
    p->curl = curl;
    snprintf(p->consumer, sizeof p->consumer, "%s", consumer);
    robots_agent_token(cfg->fetch_user_agent, p->agent, sizeof p->agent);
    p->lim = (struct hosts_limits){.concurrency = cfg->fetch_host_concurrency,
                                   .delay_ms = cfg->fetch_host_delay_ms,
                                   .max_delay_ms = cfg->fetch_host_max_delay_ms,
                                   .lease_ms = cfg->job_rescue_after_ms};
    p->hosts_on = cfg->fetch_host_concurrency > 0 || cfg->fetch_host_delay_ms > 0;
    uv_timer_init(loop, &p->renew);
    p->renew.data = p;
    uv_timer_start(&p->renew, on_renew_timer, (uint64_t)cfg->heartbeat_interval_ms,
                   (uint64_t)cfg->heartbeat_interval_ms);
    uv_timer_init(loop, &p->poll);
    p->poll.data = p;
    p->timers_open = 2;
    return p;
}

bool
polite_enabled(const polite_t *p) {
    return p && (p->hosts_on || p->cfg->fetch_robots);
}

static void
maybe_free(polite_t *p) {
    if (!p->closing || p->timers_open > 0 || p->checks) return;
    for (size_t i = 0; i < CACHE_SLOTS; i++) robots_free(p->cache[i].rules);
    void (*cb)(void *) = p->close_cb;
    void *arg = p->close_arg;
    free(p->shards);
    free(p);
    if (cb) cb(arg);
}

static void
on_timer_closed(uv_handle_t *h) {
    polite_t *p = h->data;
    p->timers_open--;
    maybe_free(p);
}

void
polite_close(polite_t *p, void (*cb)(void *arg), void *arg) {
    p->closing = true;
    p->close_cb = cb;
    p->close_arg = arg;
    /* Slots still held lapse with their leases; forget them here. */
    while (p->slots) slot_unlink(p, p->slots);
    /* Robots.txt fetches must end before curl_uv closes; each answers its
     * check and the checks waiting for it (UV_ECANCELED). */
    for (;;) {
        /* From the start each time: a leader's cancel ends its waiters. */
        struct check *c = p->checks;
        while (c && !c->fetch) c = c->next;
        if (!c) break;
        fetch_cancel(c->fetch);
    }
    /* Checks waiting for another worker's robots.txt end now (canceled). */
    for (;;) {
        struct check *c = p->checks;
        while (c && !c->poll_at) c = c->next;
        if (!c) break;
        c->poll_at = 0;
        snprintf(c->detail, sizeof c->detail, "canceled");
        finish(c, UV_ECANCELED, POLITE_WAIT, 0, NULL);
    }
    uv_timer_stop(&p->renew);
    uv_close((uv_handle_t *)&p->renew, on_timer_closed);
    uv_timer_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_timer_closed);
}
