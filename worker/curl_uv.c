#include "worker/curl_uv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

struct curl_uv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    int open_handles; /* timer + socket polls not yet closed */
    int watched;      /* sockets in socks */
    bool closing;
    void (*close_cb)(void *);
    void *close_arg;
    struct sock **socks; /* by socket number; NULL: none */
    size_t nsocks;
};

/* One socket's poll handle, from the first time curl asks to watch it
 * (or curl_uv_open_socket) until curl closes it (or, for a socket that
 * may be closed without a word, CURL_POLL_REMOVE). */
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct curl_uv *cu;
    int events;     /* what the poll watches now; 0: stopped */
    bool ours;      /* opened by curl_uv_open_socket: closed through on_close_socket */
    bool wanted;    /* curl watches it (until CURL_POLL_REMOVE) */
    bool read_from; /* curl asked to read it: connected, so closed through on_close_socket */
};

struct xfer {
    curl_uv_done_cb cb;
    void *arg;
};

static void
maybe_closed(struct curl_uv *cu) {
    if (!cu->closing || cu->open_handles > 0) return;
    void (*cb)(void *) = cu->close_cb;
    void *arg = cu->close_arg;
    free(cu->socks);
    free(cu);
    if (cb) cb(arg);
}

static void
on_sock_closed(uv_handle_t *h) {
    struct sock *s = h->data;
    struct curl_uv *cu = s->cu;
    free(s);
    cu->open_handles--;
    maybe_closed(cu);
}

static struct sock *
sock_find(const struct curl_uv *cu, curl_socket_t fd) {
    return fd >= 0 && (size_t)fd < cu->nsocks ? cu->socks[fd] : NULL;
}

/* sock_new makes fd's poll handle (NULL when libuv refuses the fd). */
static struct sock *
sock_new(struct curl_uv *cu, curl_socket_t fd, bool ours) {
    if (fd < 0) return NULL;
    if ((size_t)fd >= cu->nsocks) {
        /* Socket numbers are small and bounded by the process's limit
         * on open files: grow to the next power of two. */
        size_t n = cu->nsocks ? cu->nsocks : 64;
        while (n <= (size_t)fd) n *= 2;
        cu->socks = xrealloc(cu->socks, n * sizeof *cu->socks);
        memset(cu->socks + cu->nsocks, 0, (n - cu->nsocks) * sizeof *cu->socks);
        cu->nsocks = n;
    }
    struct sock *s = xcalloc(1, sizeof *s);
    if (uv_poll_init_socket(cu->loop, &s->poll, fd) < 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    s->fd = fd;
    s->cu = cu;
    s->ours = ours;
    cu->socks[fd] = s;
    cu->open_handles++;
    cu->watched++;
    return s;
}

/* sock_close closes s's handle while its socket is still open (libuv
 * stops watching the number at once, so a new socket may take it). */
static void
sock_close(struct sock *s) {
    struct curl_uv *cu = s->cu;
    cu->socks[s->fd] = NULL;
    cu->watched--;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* drain reports every finished transfer: remove, then call back. */
static void
drain(struct curl_uv *cu) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cu->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct xfer *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(cu->multi, easy);
        if (x) {
            curl_uv_done_cb cb = x->cb;
            void *arg = x->arg;
            free(x);
            cb(easy, rc, arg);
        }
    }
}

static void
on_poll(uv_poll_t *p, int status, int events) {
    struct sock *s = p->data;
    struct curl_uv *cu = s->cu;
    if (!s->wanted) {
        /* An idle connection became readable: the server closed it (or
         * sent what nobody asked for). curl finds out when it next
         * considers the connection; until then nothing is watched. */
        uv_poll_stop(p);
        s->events = 0;
        return;
    }
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(cu->multi, s->fd, flags, &running);
    drain(cu);
}

static void
on_timeout(uv_timer_t *t) {
    struct curl_uv *cu = t->data;
    int running;
    curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(cu);
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    struct curl_uv *cu = userp;
    (void)multi;
    if (timeout_ms < 0) uv_timer_stop(&cu->timer);
    else uv_timer_start(&cu->timer, on_timeout, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
    return 0;
}

static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    struct curl_uv *cu = userp;
    struct sock *s = sock_find(cu, fd);
    (void)easy;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (!s) return 0;
        s->wanted = false;
        if (s->ours && s->read_from) {
            /* A connection going back to the cache: it stays watched
             * for the next transfer (on_poll stops it if the server
             * closes it meanwhile) and keeps no loop alive. */
            uv_unref((uv_handle_t *)&s->poll);
            return 0;
        }
        sock_close(s);
        return 0;
    }
    if (!s && !(s = sock_new(cu, fd, false))) return -1;
    if (!s->wanted) {
        s->wanted = true;
        uv_ref((uv_handle_t *)&s->poll);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    if (events & UV_READABLE) s->read_from = true;
    /* uv_poll_start takes the fd out of epoll and puts it back, even for
     * the same events: call it only for a change. A socket that is not
     * ours may have been closed and its number reused without a word
     * (see curl_uv.h), so it is always started again. */
    if (events == s->events && s->ours) return 0;
    uv_poll_start(&s->poll, events, on_poll);
    s->events = events;
    return 0;
}

/* on_close_socket: curl closes one of its connections' sockets (the
 * transfer that opened it may be gone); its handle goes first. */
static int
on_close_socket(void *clientp, curl_socket_t fd) {
    struct curl_uv *cu = clientp;
    struct sock *s = sock_find(cu, fd);
    if (s) sock_close(s);
    return close(fd) == 0 ? 0 : 1;
}

curl_uv_t *
curl_uv_new(uv_loop_t *loop, long max_connects) {
    struct curl_uv *cu = xcalloc(1, sizeof *cu);
    cu->loop = loop;
    cu->multi = curl_multi_init();
    if (!cu->multi) {
        free(cu);
        return NULL;
    }
    uv_timer_init(loop, &cu->timer);
    cu->timer.data = cu;
    cu->open_handles = 1;
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    if (max_connects > 0) curl_multi_setopt(cu->multi, CURLMOPT_MAXCONNECTS, max_connects);
    return cu;
}

uv_loop_t *
curl_uv_loop(const curl_uv_t *cu) {
    return cu->loop;
}

int
curl_uv_add(curl_uv_t *cu, CURL *easy, curl_uv_done_cb cb, void *arg) {
    if (cu->closing) return UV_ECANCELED;
    /* A handle that cannot be added (one already in a multi) keeps the
     * transfer state it has: CURLOPT_PRIVATE is set only once added.
     * Adding runs no transfer callback, so none can miss it. */
    if (curl_multi_add_handle(cu->multi, easy) != CURLM_OK) return UV_EINVAL;
    struct xfer *x = xcalloc(1, sizeof *x);
    x->cb = cb;
    x->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    /* A connection takes these from the transfer that opens it and
     * keeps them after that transfer is gone: cu outlives them all
     * (curl_multi_cleanup closes every connection). */
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, cu);
    return 0;
}

curl_socket_t
curl_uv_open_socket(curl_uv_t *cu, const struct curl_sockaddr *addr) {
    curl_socket_t fd = socket(addr->family, addr->socktype, addr->protocol);
    if (fd == CURL_SOCKET_BAD) return fd;
    /* A handle still under this number is a socket curl closed without
     * a word (curl_uv.h); libuv no longer sees that socket in epoll. */
    struct sock *old = sock_find(cu, fd);
    if (old) sock_close(old);
    if (!sock_new(cu, fd, true)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

void
curl_uv_remove(curl_uv_t *cu, CURL *easy) {
    struct xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(cu->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(x);
}

int
curl_uv_watched(const curl_uv_t *cu) {
    return cu->watched;
}

static void
on_timer_closed(uv_handle_t *h) {
    struct curl_uv *cu = h->data;
    cu->open_handles--;
    maybe_closed(cu);
}

void
curl_uv_close(curl_uv_t *cu, void (*cb)(void *arg), void *arg) {
    cu->closing = true;
    cu->close_cb = cb;
    cu->close_arg = arg;
    /* Cleanup closes every connection (on_close_socket) and sends
     * CURL_POLL_REMOVE for the other sockets it still has; a handle left
     * after that belongs to a socket closed without a word. */
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    for (size_t fd = 0; fd < cu->nsocks; fd++)
        if (cu->socks[fd]) sock_close(cu->socks[fd]);
    uv_timer_stop(&cu->timer);
    uv_close((uv_handle_t *)&cu->timer, on_timer_closed);
}
