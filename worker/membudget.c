#include "worker/membudget.h"

#include <assert.h>
#include <malloc.h>

#include "worker/count.h"

/* Blocks this large or larger are mapped on their own. */
#define MMAP_FROM ((size_t)128 << 10)

void
membudget_init(struct membudget *b, size_t limit, membudget_wake_cb on_release, void *arg) {
    *b = (struct membudget){.limit = limit, .on_release = on_release, .release_arg = arg};
}

void
membudget_malloc_setup(void) {
    /* glibc raises its mapping threshold each time a mapped block is
     * freed (up to 32 MB), after which a job's tables come from the heap
     * and stay there when freed; a fixed threshold stops that. */
    mallopt(M_MMAP_THRESHOLD, (int)MMAP_FROM);
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
    /* Two tables (all words, and without stop words) at the size they
     * have with that many words. */
    return MEMBUDGET_JOB_MIN + bytes * MEMBUDGET_PER_BYTE + words * MEMBUDGET_PER_WORD +
           2 * count_slots_bytes(words);
}

size_t
membudget_job_estimate(size_t bytes, size_t words, size_t unread) {
    return membudget_estimate(bytes, words + unread / MEMBUDGET_WORD_BYTES);
}

size_t
membudget_row_estimate(size_t row_bytes) {
    return MEMBUDGET_JOB_MIN + row_bytes * MEMBUDGET_ROW_COPIES;
}

/* others_moving: another account does not wait, so it will give memory
 * back (it ends, or shrinks once counted). */
static bool
others_moving(const struct membudget *b, const struct membudget_acct *a) {
    for (const struct membudget_acct *o = b->head; o; o = o->next)
        if (o != a && !o->waiting) return true;
    return false;
}

int
membudget_grow(struct membudget *b, struct membudget_acct *a, size_t need) {
    if (need <= a->held) return 0;
    size_t more = need - a->held;
    /* When every other job waits, none will give anything back: this one
     * must go on, over the budget if need be. */
    if (b->used + more > b->limit && others_moving(b, a)) {
        a->waiting = true;
        return -1;
    }
    a->waiting = false;
    a->held = need;
    b->used += more;
    return 0;
}

/* wake_waiting wakes the waiting, oldest first, each once per round: a
 * woken one asks again at once (curl hands it the held bytes inside the
 * wake) and may wait again. A wake may also end a job and release its
 * account, so the walk starts from the head each time. Then the owner
 * is told. */
static void
wake_waiting(struct membudget *b) {
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

int
membudget_set(struct membudget *b, struct membudget_acct *a, size_t bytes) {
    if (bytes >= a->held) return membudget_grow(b, a, bytes);
    b->used -= a->held - bytes;
    a->held = bytes;
    a->waiting = false;
    wake_waiting(b);
    return 0;
}

void
membudget_retain(struct membudget *b, size_t bytes) {
    if (bytes <= b->retained) return;
    b->used += bytes - b->retained;
    b->retained = bytes;
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
    a->waiting = false;
    wake_waiting(b);
}
