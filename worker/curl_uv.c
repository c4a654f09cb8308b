#include "worker/curl_uv.h"

#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"

struct curl_uv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    int open_handles; /* timer + live socket polls */
    bool closing;
    void (*close_cb)(void *);
    void *close_arg;
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct curl_uv *cu;
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
    struct sock *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_sock_closed);
            curl_multi_assign(cu->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->fd = fd;
        s->cu = cu;
        if (uv_poll_init_socket(cu->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        cu->open_handles++;
        curl_multi_assign(cu->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
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
    return 0;
}

void
curl_uv_remove(curl_uv_t *cu, CURL *easy) {
    struct xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(cu->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(x);
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
    /* Cleanup makes curl send CURL_POLL_REMOVE for sockets it still has. */
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    uv_timer_stop(&cu->timer);
    uv_close((uv_handle_t *)&cu->timer, on_timer_closed);
}
