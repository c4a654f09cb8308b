#include "worker/membudget.h"

#include <assert.h>

void
membudget_init(struct membudget *b, size_t limit, membudget_wake_cb on_release, void *arg) {
    *b = (struct membudget){.limit = limit, .on_release = on_release, .release_arg = arg};
}

int
membudget_room(const struct membudget *b) {
    if (!b->head) return b->limit / MEMBUDGET_JOB_MIN > 0 ? (int)(b->limit / MEMBUDGET_JOB_MIN) : 1;
    if (b->used >= b->limit) return 0;
    /* A job already waits for memory: a new one would only wait too. */
    for (const struct membudget_acct *a = b->head; a; a = a->next)
        if (a->waiting) return 0;
    size_t n = (b->limit - b->used) / MEMBUDGET_JOB_MIN;
    return n > 1000000 ? 1000000 : (int)n;
}

void
membudget_open(struct membudget *b, struct membudget_acct *a, membudget_wake_cb wake, void *arg) {
    *a = (struct membudget_acct){.held = MEMBUDGET_JOB_MIN, .wake = wake, .wake_arg = arg};
    a->prev = b->tail;
    if (b->tail) b->tail->next = a;
    else b->head = a;
    b->tail = a;
    b->used += a->held;
}

size_t
membudget_estimate(size_t bytes, size_t words) {
    return MEMBUDGET_JOB_MIN + bytes * MEMBUDGET_PER_BYTE + words * MEMBUDGET_PER_WORD;
}

int
membudget_grow(struct membudget *b, struct membudget_acct *a, size_t need) {
    if (need <= a->held) return 0;
    size_t more = need - a->held;
    /* The oldest job always goes on: someone must finish to free memory. */
    if (b->used + more > b->limit && a != b->head) {
        a->waiting = true;
        return -1;
    }
    a->waiting = false;
    a->held = need;
    b->used += more;
    return 0;
}

void
membudget_release(struct membudget *b, struct membudget_acct *a) {
    assert(b->used >= a->held);
    b->used -= a->held;
    if (a->prev) a->prev->next = a->next;
    else b->head = a->next;
    if (a->next) a->next->prev = a->prev;
    else b->tail = a->prev;
    a->prev = a->next = NULL;
    a->held = 0;
    /* Wake the paused, oldest first, each once per release: a woken one
     * asks again at once (curl hands it the held bytes inside the wake)
     * and may pause again. A wake may also end a job and release its
     * account, so the walk starts from the head each time. */
    unsigned round = ++b->round;
    for (;;) {
        struct membudget_acct *w = b->head;
        while (w && !(w->waiting && w->woken != round)) w = w->next;
        if (!w) break;
        w->waiting = false;
        w->woken = round;
        w->wake(w->wake_arg);
    }
    if (b->on_release) b->on_release(b->release_arg);
}
