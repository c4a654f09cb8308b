/* redis_uv on real Redis servers: the shared one from tests/run.sh for the
 * plain cases, and a private redis-server started here (on a free port)
 * for the cases that kill, stop or restart the server or need a
 * password. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/redis_uv.h"
#include "tests/lib/proc.h"
#include "tests/lib/redis_rec.h"
#include "tests/lib/testenv.h"

struct server {
    pid_t pid;
    int port;
    char dir[64];
    char log[96];
};

static uv_loop_t loop;
static struct server *running; /* the test's private server, if any */
static void server_cleanup(struct server *s);

static void
setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void
teardown(void) {
    /* A private server is stopped even when its test failed half-way. */
    if (running) server_cleanup(running);
    running = NULL;
    cr_assert_eq(testenv_loop_close(&loop), 0, "handles leaked");
}

TestSuite(redis_uv, .init = setup, .fini = teardown, .timeout = 30);

static int
free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool
server_pings(int port) {
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *rep = redisCommand(c, "PING");
        /* NOAUTH counts: the server is up. */
        ok = rep != NULL;
        freeReplyObject(rep);
    }
    redisFree(c);
    return ok;
}

/* server_start starts redis-server on s->port (picked once, kept across
 * restarts) with extra options and waits until it answers. */
static void
server_start(struct server *s, const char *extra_opt, const char *extra_val) {
    if (!s->port) {
        s->port = free_port();
        snprintf(s->dir, sizeof s->dir, "/tmp/wc-redis-uv.XXXXXX");
        cr_assert_not_null(mkdtemp(s->dir));
        snprintf(s->log, sizeof s->log, "%s/redis.log", s->dir);
        running = s;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[] = {
        "/usr/bin/redis-server", "--port", port,    "--bind", "127.0.0.1", "--save",  "",
        "--appendonly",          "no",     "--dir", s->dir,   extra_opt,   extra_val, NULL};
    s->pid = proc_start(argv, NULL, s->log);
    cr_assert(s->pid > 0);
    for (int i = 0; i < 100 && !server_pings(s->port); i++) usleep(50000);
    cr_assert(server_pings(s->port), "private redis-server did not start (log %s)", s->log);
}

static void
server_kill(struct server *s) {
    if (s->pid > 0) proc_stop(s->pid, SIGKILL, 3000);
    s->pid = 0;
}

static void
server_cleanup(struct server *s) {
    server_kill(s);
    if (s->dir[0]) {
        unlink(s->log);
        rmdir(s->dir);
        s->dir[0] = '\0';
    }
    if (running == s) running = NULL;
}

static void
server_url(const struct server *s, const char *auth, int db, char *out, size_t n) {
    snprintf(out, n, "redis://%s127.0.0.1:%d/%d", auth ? auth : "", s->port, db);
}

static redis_uv_t *
open_conn(const char *url, int timeout_ms, struct redis_state *st) {
    char err[256] = "";
    redis_uv_t *r = redis_uv_new(&loop, url, NULL, "test", timeout_ms, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_uv_on_state(r, redis_rec_on_state, st);
    cr_assert(testenv_run_until(&loop, &st->up, 5000), "not connected to %s: %s", url,
              redis_uv_last_error(r));
    cr_assert(redis_uv_connected(r));
    return r;
}

struct want_error {
    redis_uv_t *r;
    const char *what;
};

static bool
has_error(void *arg) {
    const struct want_error *w = arg;
    return strstr(redis_uv_last_error(w->r), w->what) != NULL;
}

/* wait_error runs the loop until r's last error mentions what (bounded). */
static bool
wait_error(redis_uv_t *r, const char *what, int timeout_ms) {
    struct want_error w = {r, what};
    return testenv_run_until_pred(&loop, has_error, &w, timeout_ms);
}

/* --- plain cases on the shared server --- */

Test(redis_uv, round_trip) {
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(testenv_redis_url(), 5000, &st);
    char key[96];
    testenv_prefix(key, sizeof key);
    struct redis_rec set = {0}, get = {0}, del = {0};
    redis_rec_send(r, &set, 3, (const char *[]){"SET", key, "hello world"}, NULL);
    redis_rec_send(r, &get, 2, (const char *[]){"GET", key}, NULL);
    redis_rec_send(r, &del, 2, (const char *[]){"DEL", key}, NULL);
    redis_rec_wait(&loop, &del, 1, 10000);
    cr_assert_eq(set.calls, 1);
    cr_assert_eq(set.type, REDIS_REPLY_STATUS);
    cr_assert_eq(get.type, REDIS_REPLY_STRING);
    cr_assert_eq(get.len, 11);
    cr_assert_arr_eq(get.str, "hello world", 11);
    cr_assert_eq(del.type, REDIS_REPLY_INTEGER);
    cr_assert_eq(del.integer, 1);
    cr_assert_eq(st.ups, 1);
    cr_assert_eq(st.downs, 0);
    redis_rec_close(&loop, r);
    cr_assert_eq(get.calls, 1, "a finished command is not called again on close");
}

/* What a subscriber connection received. */
struct messages {
    int n;
    char channel[128];
    char payload[64];
    size_t len;
};

static void
on_message(redis_uv_t *r, const char *channel, const char *payload, size_t len, void *arg) {
    (void)r;
    struct messages *m = arg;
    m->n++;
    snprintf(m->channel, sizeof m->channel, "%s", channel);
    m->len = len;
    memcpy(m->payload, payload, len < sizeof m->payload ? len : sizeof m->payload);
}

static bool
two_messages(void *arg) {
    return ((struct messages *)arg)->n >= 2;
}

Test(redis_uv, subscriber_gets_messages_between_replies) {
    struct redis_state st = {0}, st2 = {0};
    redis_uv_t *sub = open_conn(testenv_redis_url(), 5000, &st);
    redis_uv_t *pub = open_conn(testenv_redis_url(), 5000, &st2);
    struct messages m = {0};
    redis_uv_on_message(sub, on_message, &m);
    char ch[96];
    testenv_prefix(ch, sizeof ch);
    struct redis_rec subscribed = {0}, published[3] = {{0}}, ping = {0};
    redis_rec_send(sub, &subscribed, 2, (const char *[]){"SUBSCRIBE", ch}, NULL);
    redis_rec_wait(&loop, &subscribed, 1, 5000);
    cr_assert_eq(subscribed.type, REDIS_REPLY_ARRAY, "the SUBSCRIBE's own reply");
    /* Binary payloads, and a command's reply after messages. */
    redis_rec_send(pub, &published[0], 3, (const char *[]){"PUBLISH", ch, "a\0b"},
                   (const size_t[]){7, strlen(ch), 3});
    redis_rec_send(pub, &published[1], 3, (const char *[]){"PUBLISH", ch, "two"}, NULL);
    redis_rec_wait(&loop, &published[1], 1, 5000);
    cr_assert_eq(published[0].integer, 1, "one subscriber");
    cr_assert(testenv_run_until_pred(&loop, two_messages, &m, 5000));
    cr_assert_str_eq(m.channel, ch);
    cr_assert_eq(m.len, 3);
    cr_assert_arr_eq(m.payload, "two", 3);
    redis_rec_send(sub, &ping, 1, (const char *[]){"PING"}, NULL);
    redis_rec_wait(&loop, &ping, 1, 5000);
    cr_assert_eq(ping.type, REDIS_REPLY_ARRAY, "PING in subscribe mode answers [pong, \"\"]");
    cr_assert_eq(st.downs, 0, "messages are not replies to no command");
    redis_rec_close(&loop, sub);
    redis_rec_close(&loop, pub);
}

Test(redis_uv, binary_safe_argv) {
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(testenv_redis_url(), 5000, &st);
    char key[96];
    testenv_prefix(key, sizeof key);
    size_t kl = strlen(key);
    key[kl++] = '\0'; /* a NUL inside the key too */
    key[kl++] = 'k';
    static const char val[] = {'a', '\0', '\r', '\n', '$', '3', '\r', '\n', (char)0xff, 'z'};
    struct redis_rec set = {0}, get = {0}, other = {0}, del = {0};
    redis_rec_send(r, &set, 3, (const char *[]){"SET", key, val}, (size_t[]){3, kl, sizeof val});
    redis_rec_send(r, &get, 2, (const char *[]){"GET", key}, (size_t[]){3, kl});
    /* The key cut at its NUL is another key, which does not exist. */
    redis_rec_send(r, &other, 2, (const char *[]){"GET", key}, NULL);
    redis_rec_send(r, &del, 2, (const char *[]){"DEL", key}, (size_t[]){3, kl});
    redis_rec_wait(&loop, &del, 1, 10000);
    cr_assert_eq(get.type, REDIS_REPLY_STRING);
    cr_assert_eq(get.len, sizeof val);
    cr_assert_arr_eq(get.str, val, sizeof val);
    cr_assert_eq(other.type, REDIS_REPLY_NIL);
    cr_assert_eq(del.integer, 1);
    redis_rec_close(&loop, r);
}

Test(redis_uv, commandf_formats) {
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(testenv_redis_url(), 5000, &st);
    char key[96];
    testenv_prefix(key, sizeof key);
    struct redis_rec set = {0}, get = {0};
    cr_assert_eq(
        redis_uv_commandf(r, redis_rec_on_reply, &set, "SET %s %b EX 60", key, "x\0y", (size_t)3),
        0);
    cr_assert_eq(redis_uv_commandf(r, redis_rec_on_reply, &get, "STRLEN %s", key), 0);
    redis_rec_wait(&loop, &get, 1, 10000);
    cr_assert_eq(set.type, REDIS_REPLY_STATUS);
    cr_assert_eq(get.integer, 3);
    redis_rec_close(&loop, r);
}

Test(redis_uv, error_reply_is_a_reply) {
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(testenv_redis_url(), 5000, &st);
    char key[96];
    testenv_prefix(key, sizeof key);
    struct redis_rec set = {0}, incr = {0}, unknown = {0}, after = {0};
    redis_rec_send(r, &set, 5, (const char *[]){"SET", key, "not a number", "EX", "60"}, NULL);
    redis_rec_send(r, &incr, 2, (const char *[]){"INCR", key}, NULL);
    redis_rec_send(r, &unknown, 1, (const char *[]){"NO-SUCH-COMMAND"}, NULL);
    redis_rec_send(r, &after, 1, (const char *[]){"PING"}, NULL);
    redis_rec_wait(&loop, &after, 1, 10000);
    cr_assert_eq(incr.calls, 1);
    cr_assert_eq(incr.nulls, 0);
    cr_assert_eq(incr.type, REDIS_REPLY_ERROR);
    cr_assert(strstr(incr.str, "not an integer"), "%s", incr.str);
    cr_assert_eq(unknown.type, REDIS_REPLY_ERROR);
    cr_assert(strstr(unknown.str, "unknown command"), "%s", unknown.str);
    /* The connection survives error replies. */
    cr_assert_eq(after.type, REDIS_REPLY_STATUS);
    cr_assert(redis_uv_connected(r));
    cr_assert_eq(st.downs, 0);
    redis_rec_close(&loop, r);
}

Test(redis_uv, select_from_url) {
    const char *shared = testenv_redis_url();
    /* The shared URL ends in /N; use database 3 on the same server. */
    char url[256];
    snprintf(url, sizeof url, "%.*s/3", (int)(strrchr(shared, '/') - shared), shared);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 5000, &st);
    struct redis_rec info = {0};
    redis_rec_send(r, &info, 2, (const char *[]){"CLIENT", "INFO"}, NULL);
    redis_rec_wait(&loop, &info, 1, 10000);
    cr_assert(strstr(info.str, " db=3 "), "%.*s", (int)info.len, info.str);
    redis_rec_close(&loop, r);
}

Test(redis_uv, enotconn_when_server_down) {
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", free_port());
    struct redis_state st = {0};
    redis_uv_t *r = redis_uv_new(&loop, url, NULL, "test", 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_uv_on_state(r, redis_rec_on_state, &st);
    struct redis_rec rec = {0};
    const char *argv[] = {"PING"};
    /* At once, while the first connect is in progress... */
    cr_assert_eq(redis_uv_command(r, redis_rec_on_reply, &rec, 1, argv, NULL), UV_ENOTCONN);
    cr_assert_eq(redis_uv_commandf(r, redis_rec_on_reply, &rec, "PING"), UV_ENOTCONN);
    cr_assert_not(redis_uv_connected(r));
    /* ...and after a refused attempt or more. */
    cr_assert(wait_error(r, "refused", 5000), "%s", redis_uv_last_error(r));
    cr_assert_eq(redis_uv_command(r, redis_rec_on_reply, &rec, 1, argv, NULL), UV_ENOTCONN);
    redis_rec_close(&loop, r);
    cr_assert_eq(rec.calls, 0, "a refused command's callback must never run");
    cr_assert_eq(st.ups + st.downs, 0);
}

Test(redis_uv, close_before_the_loop_runs) {
    char err[256];
    redis_uv_t *r = redis_uv_new(&loop, testenv_redis_url(), NULL, "test", 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_rec_close(&loop, r);
}

Test(redis_uv, close_without_callback) {
    char err[256];
    redis_uv_t *r = redis_uv_new(&loop, testenv_redis_url(), NULL, "test", 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_uv_close(r, NULL, NULL);
    /* .fini checks that every handle is gone. */
}

/* Fixed arrays, not pointers: Criterion copies parameters into a test
 * process whose addresses differ. */
struct bad_url {
    char url[64];
    char msg[32];
};

ParameterizedTestParameters(redis_uv, rejects_bad_url) {
    static struct bad_url cases[] = {
        {"http://127.0.0.1:6379", "scheme"},
        {"rediss://127.0.0.1:6379?ssl_cert_reqs=none", "query"},
        {"redis://", "invalid Redis URL"},
        {"not a url at all", "invalid Redis URL"},
        {"redis://127.0.0.1:99999", "invalid Redis URL"},
        {"redis://127.0.0.1:6379/db1", "database number"},
        {"redis://127.0.0.1:6379/-1", "database number"},
        {"redis://127.0.0.1:6379/1x", "database number"},
        {"redis://user@127.0.0.1:6379", "password"},
    };
    return cr_make_param_array(struct bad_url, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct bad_url *c, redis_uv, rejects_bad_url) {
    char err[256] = "";
    redis_uv_t *r = redis_uv_new(&loop, c->url, NULL, "test", 1000, err, sizeof err);
    cr_assert_null(r, "%s accepted", c->url);
    cr_assert(strstr(err, c->msg), "%s: %s", c->url, err);
}

/* --- cases on a private server --- */

Test(redis_uv, auth_from_url) {
    static struct server s; /* static: teardown may need it after a failed assert */
    server_start(&s, "--requirepass", "s3cr:t");
    char url[128];
    /* The password is percent-encoded in the URL. */
    server_url(&s, ":s3cr%3At@", 2, url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 5000, &st);
    struct redis_rec info = {0};
    redis_rec_send(r, &info, 2, (const char *[]){"CLIENT", "INFO"}, NULL);
    redis_rec_wait(&loop, &info, 1, 10000);
    cr_assert_eq(info.type, REDIS_REPLY_STRING);
    cr_assert(strstr(info.str, " db=2 "), "%.*s", (int)info.len, info.str);
    redis_rec_close(&loop, r);

    /* A wrong password never counts as connected. */
    server_url(&s, ":wrong@", 0, url, sizeof url);
    char err[256];
    struct redis_state bad = {0};
    r = redis_uv_new(&loop, url, NULL, "test", 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_uv_on_state(r, redis_rec_on_state, &bad);
    cr_assert(wait_error(r, "WRONGPASS", 5000), "%s", redis_uv_last_error(r));
    cr_assert_not(redis_uv_connected(r));
    cr_assert_eq(bad.ups, 0);
    redis_rec_close(&loop, r);
    server_cleanup(&s);
}

Test(redis_uv, reconnects_after_restart) {
    static struct server s; /* static: teardown may need it after a failed assert */
    server_start(&s, NULL, NULL);
    char url[128];
    server_url(&s, NULL, 0, url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 5000, &st);

    /* Commands that are pending when the server dies: BLPOP waits. */
    struct redis_rec pending[3] = {{0}};
    for (int i = 0; i < 3; i++)
        redis_rec_send(r, &pending[i], 3, (const char *[]){"BLPOP", "nokey", "0"}, NULL);
    struct redis_rec ping = {0};
    redis_rec_send(r, &ping, 1, (const char *[]){"PING"}, NULL);
    testenv_run_ms(&loop, 100);
    cr_assert_eq(pending[0].calls, 0);
    server_kill(&s);
    redis_rec_wait(&loop, &ping, 1, 10000);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pending[i].calls, 1);
        cr_assert_eq(pending[i].nulls, 1);
    }
    cr_assert_eq(ping.nulls, 1);
    cr_assert_eq(st.downs, 1);
    cr_assert_not(redis_uv_connected(r));
    struct redis_rec refused = {0};
    cr_assert_eq(
        redis_uv_command(r, redis_rec_on_reply, &refused, 1, (const char *[]){"PING"}, NULL),
        UV_ENOTCONN);
    /* Attempts fail while it is down; nothing is called twice. */
    testenv_run_ms(&loop, 700);
    for (int i = 0; i < 3; i++) cr_assert_eq(pending[i].calls, 1);
    cr_assert_eq(st.ups, 1);

    server_start(&s, NULL, NULL);
    st.up = false;
    cr_assert(testenv_run_until(&loop, &st.up, 8000), "did not reconnect: %s",
              redis_uv_last_error(r));
    cr_assert_eq(st.ups, 2);
    cr_assert_eq(redis_uv_last_error(r)[0], '\0');
    struct redis_rec again = {0};
    redis_rec_send(r, &again, 2, (const char *[]){"ECHO", "back"}, NULL);
    redis_rec_wait(&loop, &again, 1, 10000);
    cr_assert_eq(again.len, 4);
    cr_assert_arr_eq(again.str, "back", 4);
    redis_rec_close(&loop, r);
    cr_assert_eq(refused.calls, 0);
    server_cleanup(&s);
}

Test(redis_uv, command_timeout_drops_and_reconnects) {
    static struct server s; /* static: teardown may need it after a failed assert */
    server_start(&s, NULL, NULL);
    char url[128];
    server_url(&s, NULL, 0, url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 300, &st);

    kill(s.pid, SIGSTOP);
    struct redis_rec a = {0}, b = {0};
    uint64_t t0 = uv_now(&loop);
    redis_rec_send(r, &a, 1, (const char *[]){"PING"}, NULL);
    testenv_run_ms(&loop, 100);
    redis_rec_send(r, &b, 1, (const char *[]){"PING"}, NULL);
    redis_rec_wait(&loop, &a, 1, 10000);
    uint64_t waited = uv_now(&loop) - t0;
    cr_assert_eq(a.nulls, 1);
    cr_assert_str_eq(a.err, "timeout");
    /* The oldest command decides: b, younger, fails with it. */
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.nulls, 1);
    cr_assert_geq(waited, 290);
    cr_assert_leq(waited, 1500);
    cr_assert_eq(st.downs, 1);
    cr_assert_str_eq(redis_uv_last_error(r), "timeout");

    kill(s.pid, SIGCONT);
    st.up = false;
    cr_assert(testenv_run_until(&loop, &st.up, 8000), "did not reconnect: %s",
              redis_uv_last_error(r));
    struct redis_rec c = {0};
    redis_rec_send(r, &c, 1, (const char *[]){"PING"}, NULL);
    redis_rec_wait(&loop, &c, 1, 10000);
    cr_assert_eq(c.type, REDIS_REPLY_STATUS);
    redis_rec_close(&loop, r);
    cr_assert_eq(a.calls, 1);
    server_cleanup(&s);
}

Test(redis_uv, slow_but_in_time_commands_succeed) {
    static struct server s; /* static: teardown may need it after a failed assert */
    server_start(&s, NULL, NULL);
    char url[128];
    server_url(&s, NULL, 0, url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 600, &st);
    /* Each BLPOP waits 0.3 s, under the 0.6 s limit; back to back, the
     * second answers 0.6 s after it was sent, at the limit. The timer must
     * measure each command from its own send time. */
    struct redis_rec first = {0}, second = {0};
    redis_rec_send(r, &first, 3, (const char *[]){"BLPOP", "nokey", "0.3"}, NULL);
    testenv_run_ms(&loop, 250);
    redis_rec_send(r, &second, 3, (const char *[]){"BLPOP", "nokey", "0.3"}, NULL);
    redis_rec_wait(&loop, &second, 1, 10000);
    cr_assert_eq(first.nulls, 0);
    cr_assert_eq(first.type, REDIS_REPLY_NIL);
    cr_assert_eq(second.nulls, 0, "%s", second.err);
    cr_assert_eq(st.downs, 0);
    redis_rec_close(&loop, r);
    server_cleanup(&s);
}

Test(redis_uv, close_with_commands_pending) {
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(testenv_redis_url(), 5000, &st);
    char key[96];
    testenv_prefix(key, sizeof key);
    struct redis_rec recs[4] = {{0}};
    for (int i = 0; i < 4; i++)
        redis_rec_send(r, &recs[i], 3, (const char *[]){"BLPOP", key, "0"}, NULL);
    testenv_run_ms(&loop, 50);
    bool closed = false;
    redis_uv_close(r, testenv_on_closed, &closed);
    /* The callbacks run during the close call itself. */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(recs[i].calls, 1);
        cr_assert_eq(recs[i].nulls, 1);
        cr_assert_str_eq(recs[i].err, "closing");
    }
    cr_assert(testenv_run_until(&loop, &closed, 5000));
    for (int i = 0; i < 4; i++) cr_assert_eq(recs[i].calls, 1);
    cr_assert_eq(st.downs, 0, "closing is not reported as a disconnect");
}

Test(redis_uv, close_inside_a_reply_callback) {
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(testenv_redis_url(), 5000, &st);
    char key[96];
    testenv_prefix(key, sizeof key);
    struct redis_rec first = {.close_me = r}, later[3] = {{0}};
    redis_rec_send(r, &first, 1, (const char *[]){"PING"}, NULL);
    for (int i = 0; i < 3; i++)
        redis_rec_send(r, &later[i], 3, (const char *[]){"BLPOP", key, "0"}, NULL);
    redis_rec_wait(&loop, &first, 1, 10000);
    cr_assert_eq(first.nulls, 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(later[i].calls, 1);
        cr_assert_str_eq(later[i].err, "closing");
    }
    testenv_run_ms(&loop, 50);
    for (int i = 0; i < 3; i++) cr_assert_eq(later[i].calls, 1);
}

Test(redis_uv, close_inside_a_failed_callback) {
    static struct server s; /* static: teardown may need it after a failed assert */
    server_start(&s, NULL, NULL);
    char url[128];
    server_url(&s, NULL, 0, url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 5000, &st);
    /* The first pending command closes the connection from inside the
     * NULL-reply callback that the server's death causes. */
    struct redis_rec first = {.close_me = r}, second = {0};
    redis_rec_send(r, &first, 3, (const char *[]){"BLPOP", "nokey", "0"}, NULL);
    redis_rec_send(r, &second, 3, (const char *[]){"BLPOP", "nokey", "0"}, NULL);
    testenv_run_ms(&loop, 50);
    server_kill(&s);
    redis_rec_wait(&loop, &second, 1, 10000);
    cr_assert_eq(first.calls, 1);
    cr_assert_eq(first.nulls, 1);
    cr_assert_eq(second.nulls, 1);
    testenv_run_ms(&loop, 300);
    cr_assert_eq(first.calls, 1);
    cr_assert_eq(second.calls, 1);
    server_cleanup(&s);
}

Test(redis_uv, silent_server_times_out_the_handshake) {
    /* A socket that listens but never answers: connects succeed (the
     * kernel's backlog), the handshake PING never gets a reply. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 16) == 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", ntohs(a.sin_port));
    struct redis_state st = {0};
    redis_uv_t *r = redis_uv_new(&loop, url, NULL, "test", 200, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    redis_uv_on_state(r, redis_rec_on_state, &st);
    testenv_run_ms(&loop, 600);
    cr_assert_not(redis_uv_connected(r));
    cr_assert_eq(st.ups, 0);
    cr_assert_str_eq(redis_uv_last_error(r), "timeout");
    struct redis_rec rec = {0};
    cr_assert_eq(redis_uv_command(r, redis_rec_on_reply, &rec, 1, (const char *[]){"PING"}, NULL),
                 UV_ENOTCONN);
    redis_rec_close(&loop, r);
    close(fd);
    cr_assert_eq(rec.calls, 0);
}

/* --- Lua scripts: whole once per connection, then by SHA-1 --- */

/* calls_of reads the server's count of calls to cmd (INFO commandstats). */
static long
calls_of(int port, const char *cmd) {
    redisContext *c = redisConnect("127.0.0.1", port);
    cr_assert(c && !c->err);
    redisReply *rep = redisCommand(c, "INFO commandstats");
    cr_assert(rep && rep->type == REDIS_REPLY_STRING);
    char needle[64];
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
    const char *at = strstr(rep->str, needle);
    long n = at ? atol(at + strlen(needle)) : 0;
    freeReplyObject(rep);
    redisFree(c);
    return n;
}

static void
direct(int port, const char *cmd) {
    redisContext *c = redisConnect("127.0.0.1", port);
    cr_assert(c && !c->err);
    redisReply *rep = redisCommand(c, cmd);
    cr_assert(rep && rep->type != REDIS_REPLY_ERROR, "%s", cmd);
    freeReplyObject(rep);
    redisFree(c);
}

static const char SCRIPT[] = "return 'got ' .. ARGV[1]";

static void
eval(redis_uv_t *r, struct redis_rec *rec, const char *arg) {
    redis_rec_send(r, rec, 4, (const char *[]){"EVAL", SCRIPT, "0", arg}, NULL);
}

Test(redis_uv, a_script_goes_whole_once_then_by_its_sha) {
    static struct server s;
    server_start(&s, NULL, NULL);
    char url[128];
    server_url(&s, NULL, 0, url, sizeof url);
    struct redis_state st = {0};
    redis_uv_t *r = open_conn(url, 5000, &st);
    /* Pipelined: the EVAL runs before the EVALSHAs sent behind it. */
    struct redis_rec a = {0}, b = {0}, c = {0};
    eval(r, &a, "a");
    eval(r, &b, "b");
    eval(r, &c, "c");
    redis_rec_wait(&loop, &c, 1, 10000);
    cr_assert_str_eq(a.str, "got a");
    cr_assert_str_eq(b.str, "got b");
    cr_assert_str_eq(c.str, "got c");
    cr_assert_eq(calls_of(s.port, "eval"), 1);
    cr_assert_eq(calls_of(s.port, "evalsha"), 2);

    /* Redis loses its scripts under the live connection: one call gets
     * NOSCRIPT, the next goes whole again and works. */
    direct(s.port, "SCRIPT FLUSH");
    struct redis_rec lost = {0}, back = {0};
    eval(r, &lost, "x");
    redis_rec_wait(&loop, &lost, 1, 10000);
    cr_assert_eq(lost.type, REDIS_REPLY_ERROR);
    cr_assert(strstr(lost.str, "NOSCRIPT"), "%s", lost.str);
    eval(r, &back, "y");
    redis_rec_wait(&loop, &back, 1, 10000);
    cr_assert_str_eq(back.str, "got y");
    cr_assert_eq(calls_of(s.port, "eval"), 2);

    /* A new connection (the server restarted) starts with none sent. */
    server_kill(&s);
    testenv_run_ms(&loop, 50);
    server_start(&s, NULL, NULL);
    st.up = false;
    cr_assert(testenv_run_until(&loop, &st.up, 8000), "did not reconnect");
    struct redis_rec fresh = {0};
    eval(r, &fresh, "z");
    redis_rec_wait(&loop, &fresh, 1, 10000);
    cr_assert_str_eq(fresh.str, "got z", "%s", fresh.str);
    cr_assert_eq(calls_of(s.port, "eval"), 1);
    cr_assert_eq(calls_of(s.port, "evalsha"), 0);
    redis_rec_close(&loop, r);
    server_cleanup(&s);
}
