/* hooks.c — webhook deliveries; see hooks.h.
 *
 * One delivery's chain: claimed (on_claimed) -> the job read for its body
 * at the first attempt (on_job) -> POSTed (on_posted) -> its outcome
 * recorded (on_recorded), then freed. h->busy counts deliveries from
 * claim to record, and h->claiming the claim in flight; hooks_close
 * cancels the POSTs in flight, and closing the connection fails the Redis
 * replies still due at once, which ends their chains. */
#include "worker/hooks.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_class.h"
#include "common/addr_policy.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "common/xalloc.h"
#include "worker/curl_uv.h"
#include "worker/lua_scripts.h"

/* Redis command timeout of the deliveries' connection. */
#define HOOKS_REDIS_TIMEOUT_MS 5000

struct delivery;

struct hooks {
    uv_loop_t *loop;
    const struct config *cfg;
    redis_uv_t *redis;
    struct queue queue; /* for queue_get of a job */
    curl_uv_t *curl;
    uv_timer_t tick;
    struct backoff rnd;       /* random numbers for the retry jitter */
    struct delivery *posting; /* POSTs in flight, in a list */
    int busy;                 /* deliveries from claim to record */
    bool claiming;
    bool stopped;
    bool closing;
    int closes_left;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

struct delivery {
    struct delivery *prev, *next; /* in h->posting while its POST runs */
    hooks_t *h;
    char id[JOB_ID_LEN + 1];
    char *url;
    char msg[128];
    char status[16];
    struct buf body;
    int attempt;
    int64_t created_at;
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    char blocked[96]; /* the address the policy refused, if it did */
    uint64_t start_ns;
    size_t response_bytes;
};

static void claim(hooks_t *h);

static void
delivery_free(struct delivery *d) {
    free(d->url);
    buf_free(&d->body);
    if (d->headers) curl_slist_free_all(d->headers);
    if (d->easy) curl_easy_cleanup(d->easy);
    free(d);
}

/* done ends a delivery's chain. */
static void
done(struct delivery *d) {
    hooks_t *h = d->h;
    delivery_free(d);
    h->busy--;
    if (!h->closing && !h->stopped && !h->claiming) claim(h); /* a slot is free */
}

/* --- recording the outcome --- */

static void
on_recorded(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct delivery *d = arg;
    (void)r;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("msg=\"webhook outcome not recorded; the lease will run out and it is sent "
                 "again\" job=%s error=%s",
                 d->id, log_q(reply ? reply->str : errstr));
    done(d);
}

/* record stores the attempt: outcome "delivered", "retry" (at due_ms) or
 * "failed". */
static void
record(struct delivery *d, const char *outcome, int64_t due_ms, long http_status, int latency_ms,
       const char *error) {
    hooks_t *h = d->h;
    int64_t now = clock_now_ms();
    char at[32];
    clock_format_rfc3339(now, at);
    json_t *attempt = json_pack("{s:s, s:s, s:i, s:I, s:i, s:s?, s:s}", "at", at, "webhook_id",
                                d->msg, "attempt", d->attempt, "status", (json_int_t)http_status,
                                "latency_ms", latency_ms, "error", error, "job", d->id);
    struct buf a;
    buf_init(&a);
    json_dump_append(attempt, &a);
    json_decref(attempt);
    struct keybuf kh, khs, kst, kf;
    char due[24], keep[24], nows[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    snprintf(keep, sizeof keep, "%d", HOOKS_KEEP_S);
    snprintf(nows, sizeof nows, "%lld", (long long)now);
    const char *argv[] = {"EVAL",
                          lua_hooks_done,
                          "4",
                          keys_hook(&h->queue.keys, d->id, &kh),
                          keys_hooks(&h->queue.keys, &khs),
                          keys_stats(&h->queue.keys, &kst),
                          keys_hook_failing(&h->queue.keys, &kf),
                          d->id,
                          outcome,
                          due,
                          a.data,
                          d->body.data ? d->body.data : "",
                          keep,
                          d->url,
                          nows,
                          d->msg};
    enum { N = sizeof argv / sizeof argv[0] };
    size_t lens[N];
    for (size_t i = 0; i < N; i++) lens[i] = strlen(argv[i]);
    lens[11] = d->body.len;
    int rc = h->closing ? UV_ECANCELED : redis_uv_command(h->redis, on_recorded, d, N, argv, lens);
    buf_free(&a);
    if (rc < 0) {
        log_warn(
            "msg=\"webhook outcome not recorded; the lease will run out and it is sent again\" "
            "job=%s error=%s",
            d->id, log_q(uv_strerror(rc)));
        done(d);
    }
}

/* --- the POST --- */

static void
unlink_posting(struct delivery *d) {
    hooks_t *h = d->h;
    if (d->prev) d->prev->next = d->next;
    else h->posting = d->next;
    if (d->next) d->next->prev = d->prev;
    d->prev = d->next = NULL;
}

static void
on_posted(CURL *easy, CURLcode result, void *arg) {
    struct delivery *d = arg;
    hooks_t *h = d->h;
    unlink_posting(d);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int ms = (int)((uv_hrtime() - d->start_ns) / 1000000);
    char error[CURL_ERROR_SIZE + 64] = "";
    bool permanent = false;
    if (d->blocked[0]) {
        snprintf(error, sizeof error, "blocked_address: %s", d->blocked);
        permanent = true;
    } else if (result != CURLE_OK && result != CURLE_WRITE_ERROR) {
        snprintf(error, sizeof error, "%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(result));
    } else if (status < 200 || status > 299) {
        snprintf(error, sizeof error, "HTTP %ld", status);
    }
    int64_t now = clock_now_ms();
    if (!error[0]) {
        log_info("msg=\"webhook delivered\" job=%s webhook_id=%s attempt=%d status=%ld ms=%d",
                 d->id, d->msg, d->attempt, status, ms);
        record(d, "delivered", 0, status, ms, NULL);
        return;
    }
    const struct config *cfg = h->cfg;
    int64_t due = now + backoff_delay_ms(cfg->webhook_retry_base_ms, cfg->webhook_retry_max_ms,
                                         (unsigned)d->attempt, backoff_rand(&h->rnd));
    bool give_up = permanent || due > d->created_at + cfg->webhook_retry_for_ms;
    log_warn("msg=\"webhook failed\" job=%s webhook_id=%s attempt=%d status=%ld ms=%d error=%s "
             "next=%s",
             d->id, d->msg, d->attempt, status, ms, log_q(error), give_up ? "none" : "retry");
    record(d, give_up ? "failed" : "retry", due, status, ms, error);
}

static size_t
on_response(char *data, size_t size, size_t n, void *arg) {
    struct delivery *d = arg;
    (void)data;
    d->response_bytes += size * n;
    return d->response_bytes > HOOKS_MAX_RESPONSE ? 0 : size * n; /* the answer is not read */
}

static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr) {
    struct delivery *d = arg;
    (void)purpose;
    if (!addr_policy_allowed(d->h->cfg, &addr->addr)) {
        char ip[INET6_ADDRSTRLEN] = "?";
        const void *a = addr->family == AF_INET6
                            ? (const void *)&((const struct sockaddr_in6 *)&addr->addr)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)&addr->addr)->sin_addr;
        inet_ntop(addr->family, a, ip, sizeof ip);
        snprintf(d->blocked, sizeof d->blocked, "%s is %s", ip,
                 addr_class_name(addr_class(&addr->addr)));
        return CURL_SOCKET_BAD;
    }
    d->blocked[0] = '\0'; /* another address of the name was refused; this one is fine */
    return curl_uv_open_socket(d->h->curl, addr);
}

/* post sends the delivery's body, signed. */
static void
post(struct delivery *d) {
    hooks_t *h = d->h;
    const struct config *cfg = h->cfg;
    long long ts = clock_now_ms() / 1000;
    struct buf sig, line;
    buf_init(&sig);
    buf_init(&line);
    if (webhook_sign(&cfg->webhook_keys, d->msg, ts, d->body.data, d->body.len, &sig) < 0) {
        buf_free(&sig);
        record(d, "retry", clock_now_ms() + cfg->webhook_retry_base_ms, 0, 0,
               "cannot sign: WEBHOOK_SECRET is not set in this worker");
        return;
    }
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    buf_printf(&line, "webhook-id: %s", d->msg);
    hs = curl_slist_append(hs, line.data);
    buf_reset(&line);
    buf_printf(&line, "webhook-timestamp: %lld", ts);
    hs = curl_slist_append(hs, line.data);
    buf_reset(&line);
    buf_printf(&line, "webhook-signature: %s", sig.data);
    hs = curl_slist_append(hs, line.data);
    hs = curl_slist_append(hs, "Expect:"); /* no 100-continue round trip */
    buf_free(&sig);
    buf_free(&line);
    d->headers = hs;
    CURL *e = d->easy = curl_easy_init();
    if (!e || !hs) {
        record(d, "retry", clock_now_ms() + cfg->webhook_retry_base_ms, 0, 0, "out of memory");
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, d->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->webhook_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(cfg->fetch_connect_timeout_ms < cfg->webhook_timeout_ms
                                ? cfg->fetch_connect_timeout_ms
                                : cfg->webhook_timeout_ms));
    curl_easy_setopt(e, CURLOPT_USERAGENT, cfg->fetch_user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)d->body.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_response);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, d);
    d->start_ns = uv_hrtime();
    if (curl_uv_add(h->curl, e, on_posted, d) < 0) {
        record(d, "retry", clock_now_ms() + cfg->webhook_retry_base_ms, 0, 0, "cannot start");
        return;
    }
    d->next = h->posting;
    if (h->posting) h->posting->prev = d;
    h->posting = d;
}

/* --- the body, at the first attempt --- */

static void
on_job(int status, const struct job *job, const char *errstr, void *arg) {
    struct delivery *d = arg;
    if (status < 0) {
        log_warn("msg=\"webhook job read failed\" job=%s error=%s", d->id, log_q(errstr));
        done(d); /* the lease runs out and it is tried again */
        return;
    }
    /* The job as GET /api/v1/jobs/{id} shows it; a job Redis no longer
     * holds is named by what the delivery recorded. */
    json_t *v = job ? json_job(job) : json_pack("{s:s, s:s}", "id", d->id, "status", d->status);
    json_t *summary = job && job->result ? json_loads(job->result, 0, NULL) : NULL;
    if (summary) json_object_set_new(v, "result", summary);
    json_dump_append(v, &d->body);
    json_decref(v);
    if (d->h->closing) done(d);
    else post(d);
}

/* --- claiming due deliveries --- */

static void
start(hooks_t *h, const redisReply *e) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 7) return;
    for (size_t i = 0; i < 7; i++)
        if (e->element[i]->type != REDIS_REPLY_STRING) return;
    struct delivery *d = xcalloc(1, sizeof *d);
    d->h = h;
    snprintf(d->id, sizeof d->id, "%s", e->element[0]->str);
    d->url = xstrdup(e->element[1]->str);
    snprintf(d->msg, sizeof d->msg, "%s", e->element[2]->str);
    snprintf(d->status, sizeof d->status, "%s", e->element[3]->str);
    buf_init(&d->body);
    d->attempt = atoi(e->element[5]->str);
    d->created_at = strtoll(e->element[6]->str, NULL, 10);
    h->busy++;
    if (e->element[4]->len > 0) {
        buf_append(&d->body, e->element[4]->str, e->element[4]->len);
        post(d);
    } else if (queue_get(&h->queue, d->id, on_job, d) < 0) {
        done(d);
    }
}

static void
on_claimed(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    hooks_t *h = arg;
    (void)r;
    h->claiming = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (!h->closing)
            log_warn("msg=\"webhook claim failed\" error=%s", log_q(reply ? reply->str : errstr));
        return;
    }
    /* Claimed while closing: not started, their leases run out. */
    for (size_t i = 0; i < reply->elements && !h->closing; i++) start(h, reply->element[i]);
}

/* on_due claims the due ids read just before (their records' keys go in KEYS). */
static void
on_due(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    hooks_t *h = arg;
    (void)r;
    if (h->closing || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_warn("msg=\"webhook poll failed\" error=%s", log_q(reply->str));
        (void)errstr;
        h->claiming = false;
        return;
    }
    size_t n = reply->elements, argc = 3 + 1 + n + 2 + n;
    const char **argv = xcalloc(argc, sizeof *argv);
    size_t *lens = xcalloc(argc, sizeof *lens);
    struct keybuf *kb = xcalloc(n + 1, sizeof *kb);
    char nk[16], now[24], lease[24];
    int64_t t = clock_now_ms();
    snprintf(nk, sizeof nk, "%zu", n + 1);
    snprintf(now, sizeof now, "%lld", (long long)t);
    snprintf(lease, sizeof lease, "%lld",
             (long long)(t + h->cfg->webhook_timeout_ms + HOOKS_LEASE_SLACK_MS));
    size_t k = 0;
    argv[k++] = "EVAL";
    argv[k++] = lua_hooks_claim;
    argv[k++] = nk;
    argv[k++] = keys_hooks(&h->queue.keys, &kb[n]);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = reply->element[i];
        ok = ok && id->type == REDIS_REPLY_STRING && job_id_valid(id->str);
        argv[k++] = ok ? keys_hook(&h->queue.keys, id->str, &kb[i]) : "";
    }
    argv[k++] = now;
    argv[k++] = lease;
    for (size_t i = 0; i < n; i++) argv[k++] = ok ? reply->element[i]->str : "";
    for (size_t i = 0; i < k; i++) lens[i] = strlen(argv[i]);
    int rc = ok ? redis_uv_command(h->redis, on_claimed, h, (int)k, argv, lens) : UV_EINVAL;
    free(argv);
    free(lens);
    free(kb);
    if (rc < 0) {
        if (rc == UV_EINVAL) log_warn("msg=\"webhook set holds a malformed id\"");
        h->claiming = false;
    }
}

static void
claim(hooks_t *h) {
    int room = h->cfg->webhook_concurrency - h->busy;
    if (h->claiming || h->stopped || h->closing || room <= 0 || !redis_uv_connected(h->redis))
        return;
    struct keybuf kh;
    char now[24], count[16];
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    snprintf(count, sizeof count, "%d", room);
    const char *argv[] = {
        "ZRANGEBYSCORE", keys_hooks(&h->queue.keys, &kh), "-inf", now, "LIMIT", "0", count};
    size_t lens[7];
    for (int i = 0; i < 7; i++) lens[i] = strlen(argv[i]);
    if (redis_uv_command(h->redis, on_due, h, 7, argv, lens) == 0) h->claiming = true;
}

static void
on_tick(uv_timer_t *t) {
    claim(t->data);
}

hooks_t *
hooks_new(uv_loop_t *loop, const struct config *cfg, int shard, char *err, size_t errlen) {
    struct keys keys;
    if (keys_init_shard(&keys, cfg->key_prefix, shard) < 0) {
        snprintf(err, errlen, "key prefix is too long");
        return NULL;
    }
    hooks_t *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->cfg = cfg;
    char name[32];
    snprintf(name, sizeof name, shard ? "redis-hooks-%d" : "redis-hooks", shard);
    h->redis = redis_uv_new(loop, cfg->redis_urls ? cfg->redis_urls[shard] : cfg->redis_url,
                            &cfg->redis_tls, name, HOOKS_REDIS_TIMEOUT_MS, err, errlen);
    if (!h->redis) {
        free(h);
        return NULL;
    }
    queue_init(&h->queue, h->redis, &keys, cfg->result_ttl_s);
    h->curl = curl_uv_new(loop, 0);
    backoff_init(&h->rnd, 1, 1, uv_hrtime() ^ (uint64_t)(uintptr_t)h);
    uv_timer_init(loop, &h->tick);
    h->tick.data = h;
    uv_timer_start(&h->tick, on_tick, HOOKS_POLL_MS, HOOKS_POLL_MS);
    return h;
}

void
hooks_stop(hooks_t *h) {
    h->stopped = true;
    uv_timer_stop(&h->tick);
}

static void
on_part_closed(void *arg) {
    hooks_t *h = arg;
    if (--h->closes_left > 0) return;
    void (*cb)(void *) = h->closed_cb;
    void *cb_arg = h->closed_arg;
    free(h);
    if (cb) cb(cb_arg);
}

static void
on_tick_closed(uv_handle_t *t) {
    on_part_closed(t->data);
}

void
hooks_close(hooks_t *h, void (*cb)(void *arg), void *arg) {
    hooks_stop(h);
    h->closing = true;
    h->closed_cb = cb;
    h->closed_arg = arg;
    /* POSTs still running are dropped: their leases run out. */
    while (h->posting) {
        struct delivery *d = h->posting;
        unlink_posting(d);
        curl_uv_remove(h->curl, d->easy);
        log_info("msg=\"webhook abandoned at stop; delivered again after its lease\" job=%s",
                 d->id);
        done(d);
    }
    /* Replies still due (a claim, a job read, a record) fail inside
     * redis_uv_close, and their chains end there. */
    h->closes_left = 3;
    redis_uv_close(h->redis, on_part_closed, h);
    curl_uv_close(h->curl, on_part_closed, h);
    uv_close((uv_handle_t *)&h->tick, on_tick_closed);
}
