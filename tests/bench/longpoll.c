/* longpoll.c — the client of tests/bench/longpoll.sh: NLONG long-poll
 * waiters and NPOLL polling clients against one wordcount-web process.
 *
 *   longpoll PORT WEB_PID NLONG NPOLL SETTLE_S
 *
 * 1. submits NLONG + NPOLL jobs (no worker runs: they stay queued);
 * 2. opens NLONG connections, each GET /api/v1/jobs/{id}?wait=60 (asked
 *    again if a wait ends first), and NPOLL keep-alive connections that
 *    poll their job every second (the Retry-After the server gives);
 * 3. after SETTLE_S seconds, ends every job (DELETE: canceled) as fast as
 *    eight connections can, and waits for every client to see its end;
 * 4. prints the web process's RSS (before the waiters, with all of them
 *    waiting, and the peak), how long after its job's end each waiter
 *    was answered (finished_at in the answer against the clock here: one
 *    host), and the requests each kind of client sent per job.
 * Nothing is asserted; the bar is printed beside the figures. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { LONG, POLL, CTRL };
enum { CTRL_CONNS = 8, IN_MAX = 16384 };

struct cl {
    int fd;
    enum kind kind;
    char id[40];
    bool connected, waiting, done;
    char in[IN_MAX];
    size_t inlen;
    long requests;
    long long next_ms;    /* POLL: when to ask again */
    long long end_lat_ms; /* answered this long after the job's end */
};

static int port, epfd;
static struct cl *cls;
static size_t ncl;
static char (*ids)[40];
static size_t nids, next_submit, next_cancel, canceled_ok;
static size_t want_ids, nlong, npoll;

static long long
now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long
rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static int
dial(struct cl *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
send_str(struct cl *c, const char *s) {
    size_t n = strlen(s);
    if (write(c->fd, s, n) != (ssize_t)n) {
        fprintf(stderr, "longpoll: short write\n");
        exit(1);
    }
    c->requests++;
    c->waiting = true;
}

static void
ask(struct cl *c) {
    char req[256];
    if (c->kind == LONG)
        snprintf(req, sizeof req, "GET /api/v1/jobs/%s?wait=60 HTTP/1.1\r\nHost: b\r\n\r\n", c->id);
    else snprintf(req, sizeof req, "GET /api/v1/jobs/%s HTTP/1.1\r\nHost: b\r\n\r\n", c->id);
    send_str(c, req);
}

/* ctrl_next sends the control connection's next submit or cancel. */
static void
ctrl_next(struct cl *c, bool canceling) {
    char req[512];
    if (!canceling && next_submit < want_ids) {
        static const char body[] = "{\"url\":\"http://127.0.0.1:9/bench\"}";
        snprintf(req, sizeof req,
                 "POST /api/v1/jobs HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 sizeof body - 1, body);
        next_submit++;
        send_str(c, req);
    } else if (canceling && next_cancel < nids) {
        snprintf(req, sizeof req, "DELETE /api/v1/jobs/%s HTTP/1.1\r\nHost: b\r\n\r\n",
                 ids[next_cancel++]);
        send_str(c, req);
    }
}

static long long
parse_time(const char *body, const char *field) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":\"", field);
    const char *p = strstr(body, key);
    if (!p) return -1;
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(p + strlen(key), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

static bool
terminal(const char *body) {
    return strstr(body, "\"status\":\"canceled\"") || strstr(body, "\"status\":\"finished\"") ||
           strstr(body, "\"status\":\"failed\"");
}

/* answer handles one complete answer (body NUL-terminated). */
static void
answer(struct cl *c, int status, char *body, bool canceling) {
    c->waiting = false;
    if (c->kind == CTRL) {
        if (!canceling && status == 202 && nids < want_ids) {
            const char *p = strstr(body, "\"id\":\"");
            if (p) snprintf(ids[nids++], sizeof ids[0], "%.36s", p + 6);
        } else if (canceling && status == 200) {
            canceled_ok++;
        }
        ctrl_next(c, canceling);
        return;
    }
    if (status == 200 && terminal(body)) {
        long long end = parse_time(body, "finished_at");
        c->end_lat_ms = end > 0 ? now_ms() - end : -1;
        c->done = true;
    } else if (c->kind == LONG) {
        ask(c);
    } else {
        c->next_ms = now_ms() + 1000;
    }
}

static void
on_readable(struct cl *c, bool canceling) {
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->inlen, IN_MAX - 1 - c->inlen);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0 && c->kind == CTRL && !c->waiting) {
            /* An idle control connection the server closed: dial again. */
            close(c->fd);
            c->connected = false;
            c->inlen = 0;
            if (dial(c) < 0) exit(1);
            return;
        }
        if (n <= 0) {
            fprintf(stderr, "longpoll: a %s connection closed\n",
                    c->kind == LONG   ? "long-poll"
                    : c->kind == POLL ? "poll"
                                      : "control");
            exit(1);
        }
        c->inlen += (size_t)n;
        c->in[c->inlen] = '\0';
        for (;;) {
            char *end = strstr(c->in, "\r\n\r\n");
            if (!end) break;
            const char *cl = strcasestr(c->in, "Content-Length:");
            size_t head = (size_t)(end - c->in) + 4, len = cl ? (size_t)atol(cl + 15) : 0;
            if (c->inlen < head + len) break;
            int status = atoi(c->in + 9);
            char saved = c->in[head + len];
            c->in[head + len] = '\0';
            answer(c, status, c->in + head, canceling);
            c->in[head + len] = saved;
            memmove(c->in, c->in + head + len, c->inlen - head - len);
            c->inlen -= head + len;
            c->in[c->inlen] = '\0';
        }
    }
}

/* run turns the loop until pred is true or ms pass; returns pred. */
static bool
run(bool (*pred)(void), int ms, bool canceling, long *peak_kb, int pid) {
    long long until = now_ms() + ms;
    struct epoll_event evs[256];
    while (!pred() && now_ms() < until) {
        int n = epoll_wait(epfd, evs, 256, 20);
        for (int i = 0; i < n; i++) {
            struct cl *c = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && !c->connected) {
                c->connected = true;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                if (c->kind == CTRL) ctrl_next(c, canceling);
                else ask(c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c, canceling);
        }
        long long t = now_ms();
        for (size_t i = 0; i < ncl; i++)
            if (cls[i].kind == POLL && cls[i].connected && !cls[i].done && !cls[i].waiting &&
                cls[i].next_ms <= t)
                ask(&cls[i]);
        long kb = rss_kb(pid);
        if (kb > *peak_kb) *peak_kb = kb;
    }
    return pred();
}

static bool
all_submitted(void) {
    return nids >= want_ids;
}
static bool
never(void) {
    return false;
}
static bool
all_done(void) {
    for (size_t i = CTRL_CONNS; i < ncl; i++)
        if (!cls[i].done) return false;
    return true;
}

static size_t range_start, range_end;
static bool
range_connected(void) {
    for (size_t i = range_start; i < range_end; i++)
        if (!cls[i].connected) return false;
    return true;
}

/* connect_range connects clients [from, to), 256 at a time. */
static int
connect_range(size_t from, size_t to, long *peak, int pid) {
    range_start = from;
    for (size_t i = from; i < to; i++) {
        if (dial(&cls[i]) < 0) {
            perror("connect");
            return -1;
        }
        if ((i - from) % 256 == 255 || i + 1 == to) {
            range_end = i + 1;
            if (!run(range_connected, 60000, false, peak, pid)) {
                fprintf(stderr, "longpoll: not every client connected\n");
                return -1;
            }
        }
    }
    return 0;
}

static int
cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: longpoll PORT WEB_PID NLONG NPOLL SETTLE_S\n");
        return 2;
    }
    port = atoi(argv[1]);
    int pid = atoi(argv[2]);
    nlong = (size_t)atol(argv[3]);
    npoll = (size_t)atol(argv[4]);
    int settle_s = atoi(argv[5]);
    want_ids = nlong + npoll;
    ncl = CTRL_CONNS + want_ids;
    cls = calloc(ncl, sizeof *cls);
    ids = calloc(want_ids, sizeof *ids);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    long peak = 0;
    for (size_t i = 0; i < CTRL_CONNS; i++) {
        cls[i].kind = CTRL;
        if (dial(&cls[i]) < 0) return perror("connect"), 1;
    }
    size_t saved_ncl = ncl;
    ncl = CTRL_CONNS;
    if (!run(all_submitted, 120000, false, &peak, pid)) {
        fprintf(stderr, "longpoll: only %zu of %zu jobs submitted\n", nids, want_ids);
        return 1;
    }
    ncl = saved_ncl;
    for (size_t i = CTRL_CONNS; i < ncl; i++) {
        size_t k = i - CTRL_CONNS;
        cls[i].kind = k < nlong ? LONG : POLL;
        snprintf(cls[i].id, sizeof cls[i].id, "%s", ids[k]);
    }
    /* The polling clients first, then the baseline, then the waiters
     * (a few hundred connections at a time: the listen backlog), so the
     * growth measured is the waiters'. */
    if (connect_range(CTRL_CONNS + nlong, ncl, &peak, pid) < 0) return 1;
    long rss_before = rss_kb(pid);
    peak = rss_before;
    long long t0 = now_ms();
    if (connect_range(CTRL_CONNS, CTRL_CONNS + nlong, &peak, pid) < 0) return 1;
    /* Requests are counted from here on for both kinds of client. */
    for (size_t i = CTRL_CONNS + nlong; i < ncl; i++) cls[i].requests = cls[i].waiting;
    long long connected_ms = now_ms() - t0;
    run(never, settle_s * 1000, false, &peak, pid);
    long rss_waiting = rss_kb(pid);
    /* End every job; the control connections cancel them all. */
    long long c0 = now_ms();
    for (size_t i = 0; i < CTRL_CONNS; i++) { /* fresh ones: the old may be timing out */
        close(cls[i].fd);
        cls[i].connected = cls[i].waiting = false;
        cls[i].inlen = 0;
        if (dial(&cls[i]) < 0) return perror("connect"), 1;
    }
    bool done = run(all_done, 120000, true, &peak, pid);
    long long cancel_ms = now_ms() - c0;

    long long *lat = calloc(nlong + 1, sizeof *lat);
    size_t nl = 0, answered = 0, bad_time = 0;
    long long long_reqs = 0, poll_reqs = 0;
    for (size_t i = CTRL_CONNS; i < ncl; i++) {
        struct cl *c = &cls[i];
        if (c->kind == LONG) {
            long_reqs += c->requests;
            if (c->done) answered++;
            if (c->done && c->end_lat_ms >= 0) lat[nl++] = c->end_lat_ms;
            else if (c->done) bad_time++;
        } else {
            poll_reqs += c->requests;
        }
    }
    qsort(lat, nl, sizeof *lat, cmp_ll);
    long long p50 = nl ? lat[nl / 2] : -1, p99 = nl ? lat[nl * 99 / 100] : -1,
              max = nl ? lat[nl - 1] : -1;
    size_t within = 0;
    for (size_t i = 0; i < nl; i++) within += lat[i] <= 1000;
    double per_long = nlong ? (double)long_reqs / (double)nlong : 0;
    double per_poll = npoll ? (double)poll_reqs / (double)npoll : 0;
    printf("\nLong-poll: %zu waiters and %zu polling clients on one web process, %d s before the "
           "jobs end\n",
           nlong, npoll, settle_s);
    printf("  clients connected in %lld ms; %zu jobs canceled in %lld ms; all answered: %s\n",
           connected_ms, canceled_ok, cancel_ms, done ? "yes" : "NO");
    printf("  web RSS: %.1f MB before the waiters, %.1f MB with all waiting, peak %.1f MB: growth "
           "%.1f MB (bar: under 20 MB) -> %s\n",
           rss_before / 1024.0, rss_waiting / 1024.0, peak / 1024.0, (peak - rss_before) / 1024.0,
           (peak - rss_before) < 20 * 1024 ? "met" : "NOT met");
    printf("  waiters answered: %zu of %zu; after their job's end: p50 %lld ms, p99 %lld ms, max "
           "%lld ms; within 1 s: %zu (bar: all) -> %s\n",
           answered, nlong, p50, p99, max, within,
           within == nlong && !bad_time ? "met" : "NOT met");
    printf("  requests per job: polling %.1f, long-poll %.2f: %.1fx (bar: at least 10x) -> %s\n",
           per_poll, per_long, per_long > 0 ? per_poll / per_long : 0,
           per_long > 0 && per_poll / per_long >= 10 ? "met" : "NOT met");
    printf("RESULT {\"waiters\":%zu,\"pollers\":%zu,\"rss_before_kb\":%ld,\"rss_waiting_kb\":%ld,"
           "\"rss_peak_kb\":%ld,\"answered\":%zu,\"p50_ms\":%lld,\"p99_ms\":%lld,\"max_ms\":%lld,"
           "\"within_1s\":%zu,\"poll_requests_per_job\":%.2f,\"longpoll_requests_per_job\":%.3f}\n",
           nlong, npoll, rss_before, rss_waiting, peak, answered, p50, p99, max, within, per_poll,
           per_long);
    free(lat);
    for (size_t i = 0; i < ncl; i++)
        if (cls[i].fd > 0) close(cls[i].fd);
    free(cls);
    free(ids);
    close(epfd);
    return done ? 0 : 1;
}
