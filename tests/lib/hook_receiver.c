/* hook_receiver.c — see hook_receiver.h. */
#include "tests/lib/hook_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"

struct hook_receiver {
    int listen_fd;
    int port;
    int wake[2]; /* a byte here stops the thread */
    pthread_t thread;
    pthread_mutex_t mu;
    struct hook_request reqs[HOOK_RECEIVER_MAX];
    int n;
    int hung[HOOK_RECEIVER_MAX]; /* connections left unanswered */
    int nhung;
};

static void
header(const char *head, const char *name, char *out, size_t n) {
    out[0] = '\0';
    size_t len = strlen(name);
    for (const char *p = head; (p = strchr(p, '\n'));) {
        p++;
        if (!strncasecmp(p, name, len) && p[len] == ':') {
            const char *v = p + len + 1;
            v += strspn(v, " ");
            size_t m = strcspn(v, "\r\n");
            snprintf(out, n, "%.*s", (int)m, v);
            return;
        }
    }
}

/* count_key counts earlier requests with this exact path (lock held). */
static int
count_path(struct hook_receiver *hr, const char *path) {
    int c = 0;
    for (int i = 0; i < hr->n; i++) c += !strcmp(hr->reqs[i].path, path);
    return c;
}

/* serve reads one request from fd and answers it (or keeps fd hung). */
static void
serve(struct hook_receiver *hr, int fd) {
    struct buf in;
    buf_init(&in);
    char chunk[4096];
    size_t need = 0, head_len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0) break;
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        buf_append(&in, chunk, (size_t)n);
        char *end = strstr(in.data, "\r\n\r\n");
        if (end && !head_len) {
            head_len = (size_t)(end - in.data) + 4;
            char cl[32];
            header(in.data, "Content-Length", cl, sizeof cl);
            need = head_len + (size_t)atol(cl);
        }
        if (head_len && in.len >= need) break;
    }
    if (!head_len || in.len < need) {
        buf_free(&in);
        close(fd);
        return;
    }
    struct hook_request r = {0};
    sscanf(in.data, "%*s %127s", r.path);
    header(in.data, "webhook-id", r.id, sizeof r.id);
    header(in.data, "webhook-timestamp", r.timestamp, sizeof r.timestamp);
    header(in.data, "webhook-signature", r.signature, sizeof r.signature);
    header(in.data, "User-Agent", r.user_agent, sizeof r.user_agent);
    header(in.data, "Content-Type", r.content_type, sizeof r.content_type);
    r.len = need - head_len;
    r.body = xmalloc(r.len + 1);
    memcpy(r.body, in.data + head_len, r.len);
    r.body[r.len] = '\0';
    buf_free(&in);

    pthread_mutex_lock(&hr->mu);
    int seen = count_path(hr, r.path);
    if (hr->n < HOOK_RECEIVER_MAX) hr->reqs[hr->n++] = r;
    else free(r.body);
    int fails = 0;
    bool hang = !strncmp(r.path, "/hang/", 6) || (!strncmp(r.path, "/hang-once/", 11) && seen == 0);
    bool fail = sscanf(r.path, "/fail/%d/", &fails) == 1 && seen < fails;
    if (hang && hr->nhung < HOOK_RECEIVER_MAX) {
        hr->hung[hr->nhung++] = fd;
        pthread_mutex_unlock(&hr->mu);
        return;
    }
    pthread_mutex_unlock(&hr->mu);
    const char *ans =
        fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: "
               "close\r\n\r\n"
             : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    ssize_t w = write(fd, ans, strlen(ans));
    (void)w;
    close(fd);
}

static void *
run(void *arg) {
    struct hook_receiver *hr = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = hr->listen_fd, .events = POLLIN},
                              {.fd = hr->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) continue;
        if (p[1].revents) break;
        int fd = accept(hr->listen_fd, NULL, NULL);
        if (fd >= 0) serve(hr, fd);
    }
    return NULL;
}

hook_receiver_t *
hook_receiver_start(void) {
    struct hook_receiver *hr = xcalloc(1, sizeof *hr);
    hr->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (hr->listen_fd < 0 || bind(hr->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(hr->listen_fd, 64) < 0 ||
        getsockname(hr->listen_fd, (struct sockaddr *)&a, &len) < 0 || pipe(hr->wake) < 0) {
        if (hr->listen_fd >= 0) close(hr->listen_fd);
        free(hr);
        return NULL;
    }
    hr->port = ntohs(a.sin_port);
    pthread_mutex_init(&hr->mu, NULL);
    pthread_create(&hr->thread, NULL, run, hr);
    return hr;
}

int
hook_receiver_port(const hook_receiver_t *hr) {
    return hr->port;
}

static int
count_prefix(struct hook_receiver *hr, const char *prefix) {
    int c = 0;
    pthread_mutex_lock(&hr->mu);
    for (int i = 0; i < hr->n; i++) c += !strncmp(hr->reqs[i].path, prefix, strlen(prefix));
    pthread_mutex_unlock(&hr->mu);
    return c;
}

int
hook_receiver_wait(hook_receiver_t *hr, const char *prefix, int n, int timeout_ms) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int c;
    while ((c = count_prefix(hr, prefix)) < n) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= timeout_ms) break;
        usleep(20 * 1000);
    }
    return c;
}

bool
hook_receiver_nth(hook_receiver_t *hr, const char *prefix, int nth, struct hook_request *out) {
    bool found = false;
    pthread_mutex_lock(&hr->mu);
    for (int i = 0, k = 0; i < hr->n && !found; i++) {
        if (strncmp(hr->reqs[i].path, prefix, strlen(prefix))) continue;
        if (k++ != nth) continue;
        *out = hr->reqs[i];
        out->body = xmalloc(out->len + 1);
        memcpy(out->body, hr->reqs[i].body, out->len + 1);
        found = true;
    }
    pthread_mutex_unlock(&hr->mu);
    return found;
}

void
hook_receiver_stop(hook_receiver_t *hr) {
    if (!hr) return;
    ssize_t w = write(hr->wake[1], "x", 1);
    (void)w;
    pthread_join(hr->thread, NULL);
    close(hr->listen_fd);
    close(hr->wake[0]);
    close(hr->wake[1]);
    for (int i = 0; i < hr->nhung; i++) close(hr->hung[i]);
    for (int i = 0; i < hr->n; i++) free(hr->reqs[i].body);
    pthread_mutex_destroy(&hr->mu);
    free(hr);
}
