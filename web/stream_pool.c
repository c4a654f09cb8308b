/* stream_pool.c — result streams' own connections; see stream_pool.h. */
#include "web/stream_pool.h"

#include <stddef.h>

/* A connection's queue: each stream has one query in flight at most
 * (its DECLARE, a FETCH or the CLOSE), with room. */
#define CONN_QUEUE (STREAM_POOL_PER_CONN * 2 + 4)

void
stream_pool_init(struct stream_pool *p, uv_loop_t *loop, const char *primary_url,
                 const char *read_url) {
    *p = (struct stream_pool){0};
    const char *urls[] = {primary_url, read_url};
    const char *names[] = {"pg-web-stream", "pg-web-read-stream"};
    p->nserver = read_url ? 2 : 1;
    for (int s = 0; s < p->nserver; s++)
        for (int i = 0; i < STREAM_POOL_CONNS; i++) {
            p->server[s].pg[i] =
                pg_uv_new(loop, urls[s], names[s], STREAM_POOL_TIMEOUT_MS, CONN_QUEUE);
            /* Each statement here names its own cursor: run once, never
             * worth preparing (nor a place in the statement cache). */
            pg_uv_set_prepare(p->server[s].pg[i], false);
        }
}

/* least_busy: the connection of s with room for one more stream, or -1:
 * of those that are up, the one with the fewest streams; one that is down
 * only when none with room is up (its first query makes it try again). */
static int
least_busy(const struct stream_server *s) {
    int best = -1;
    bool best_up = false;
    for (int i = 0; i < STREAM_POOL_CONNS; i++) {
        if (s->streams[i] >= STREAM_POOL_PER_CONN) continue;
        bool up = pg_uv_connected(s->pg[i]);
        if (best < 0 || (up && !best_up) || (up == best_up && s->streams[i] < s->streams[best])) {
            best = i;
            best_up = up;
        }
    }
    return best;
}

static void
grant(struct stream_pool *p, struct stream_slot *slot, int conn) {
    struct stream_server *s = &p->server[slot->server];
    s->streams[conn]++;
    slot->conn = conn;
    slot->cb(slot, 0, slot->arg);
}

int
stream_pool_acquire(struct stream_pool *p, int server, struct stream_slot *slot, stream_pool_cb cb,
                    void *arg) {
    if (p->closing) return UV_ECANCELED;
    slot->server = server < p->nserver ? server : 0;
    slot->cb = cb;
    slot->arg = arg;
    slot->conn = -1;
    slot->next = NULL;
    /* First come first: none goes before one waiting for the same server. */
    int conn = p->server[slot->server].waiting == 0 ? least_busy(&p->server[slot->server]) : -1;
    if (conn >= 0) {
        grant(p, slot, conn);
        return 0;
    }
    if (p->waiting >= STREAM_POOL_WAITING) return UV_EBUSY;
    if (p->tail) p->tail->next = slot;
    else p->head = slot;
    p->tail = slot;
    p->waiting++;
    p->server[slot->server].waiting++;
    return 1;
}

void
stream_pool_release(struct stream_pool *p, struct stream_slot *slot) {
    if (slot->conn < 0) return;
    p->server[slot->server].streams[slot->conn]--;
    slot->conn = -1;
    /* The first in line whose server has room goes (in order, per server). */
    struct stream_slot *prev = NULL;
    for (struct stream_slot *w = p->head; w && !p->closing; prev = w, w = w->next) {
        int conn = least_busy(&p->server[w->server]);
        if (conn < 0) continue;
        if (prev) prev->next = w->next;
        else p->head = w->next;
        if (p->tail == w) p->tail = prev;
        p->waiting--;
        p->server[w->server].waiting--;
        grant(p, w, conn);
        return;
    }
}

int
stream_pool_query(struct stream_pool *p, struct stream_slot *slot, const char *sql, int nparams,
                  const char *const *params, pg_uv_cb cb, void *arg) {
    if (p->closing || slot->conn < 0) return UV_ECANCELED;
    return pg_uv_query(p->server[slot->server].pg[slot->conn], sql, nparams, params, cb, arg);
}

void
stream_pool_wake(struct stream_pool *p, struct stream_slot *slot) {
    if (p->closing || slot->conn < 0) return;
    pg_uv_t *pg = p->server[slot->server].pg[slot->conn];
    if (!pg_uv_connected(pg)) pg_uv_retry_now(pg);
}

int
stream_pool_waiting(const struct stream_pool *p) {
    return p->waiting;
}

static void
on_closed(void *arg) {
    struct stream_pool *p = arg;
    if (--p->closes == 0 && p->closed_cb) p->closed_cb(p->closed_arg);
}

void
stream_pool_close(struct stream_pool *p, void (*cb)(void *arg), void *arg) {
    p->closing = true;
    p->closed_cb = cb;
    p->closed_arg = arg;
    /* Those in line get no connection: they answer and end. */
    while (p->head) {
        struct stream_slot *w = p->head;
        p->head = w->next;
        p->waiting--;
        p->server[w->server].waiting--;
        w->cb(w, UV_ECANCELED, w->arg);
    }
    p->tail = NULL;
    p->closes = 1;
    for (int s = 0; s < p->nserver; s++)
        for (int i = 0; i < STREAM_POOL_CONNS; i++) {
            p->closes++;
            pg_uv_close(p->server[s].pg[i], on_closed, p);
            p->server[s].pg[i] = NULL;
        }
    on_closed(p);
}
