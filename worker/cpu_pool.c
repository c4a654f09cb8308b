#include "worker/cpu_pool.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/xalloc.h"

/* One pool thread, and the semaphore it sleeps on when the queue is
 * empty. */
struct pool_thread {
    uv_thread_t id;
    uv_sem_t wake;
    struct cpu_pool *pool;
};

struct cpu_pool {
    uv_loop_t *loop;
    /* A pool thread that finishes the first work of a batch (the list of
     * finished work was empty) writes to wake_fd; the loop reads it and
     * takes the whole list. Not a uv_async_t: libuv 1.44's loop side
     * spins, then sched_yield()s, while a sender is inside its write,
     * and on a busy host the woken loop thread often preempts exactly
     * that sender (a pool thread runs nicer than the loop). */
    uv_poll_t wake;
    int wake_fd;     /* an eventfd */
    uv_mutex_t lock; /* guards the lists, idle and stopping */
    struct cpu_work *queued, *queued_tail;
    struct cpu_work *finished, *finished_tail;
    /* The threads asleep, each on its own semaphore, posted once by
     * whoever takes it off this list: one futex call to wake a thread
     * that sleeps, none for one that is busy or about to sleep. (A
     * condition variable made three: glibc re-locks the mutex after
     * cond_wait as contended, so the next unlock wakes nobody with a
     * system call, and cond_signal may wait for an older group of
     * sleepers; a shared semaphore posts a wake for every work queued
     * while any thread sleeps, woken or not.) */
    struct pool_thread *idle[CPU_POOL_MAX_THREADS];
    int nidle;
    bool stopping;   /* threads leave when the queue is empty */
    int outstanding; /* submitted, done not yet run (loop side, no lock) */
    bool closing;    /* cpu_pool_close was called (loop side) */
    cpu_pool_close_cb close_cb;
    void *close_arg;
    int nthreads;
    struct pool_thread threads[CPU_POOL_MAX_THREADS];
};

int
cpu_pool_threads(void) {
    unsigned n = uv_available_parallelism();
    if (n < 1) n = 1;
    return n > CPU_POOL_MAX_THREADS ? CPU_POOL_MAX_THREADS : (int)n;
}

static void
push(struct cpu_work **head, struct cpu_work **tail, struct cpu_work *w) {
    w->next = NULL;
    if (*tail) (*tail)->next = w;
    else *head = w;
    *tail = w;
}

/* wake_loop: the loop has finished work to report. */
static void
wake_loop(struct cpu_pool *p) {
    uint64_t one = 1;
    /* EAGAIN: the counter is full, so the loop is woken anyway. */
    while (write(p->wake_fd, &one, sizeof one) < 0 && errno == EINTR) continue;
}

static void
run_thread(void *arg) {
    struct pool_thread *t = arg;
    struct cpu_pool *p = t->pool;
    /* Below the loop's thread: on a busy host the loop (heartbeats,
     * leases) gets the CPU first when it wakes. Linux takes a thread's id
     * here; failing is harmless. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), CPU_POOL_NICE);
    uv_mutex_lock(&p->lock);
    for (;;) {
        struct cpu_work *w = p->queued;
        if (!w) {
            if (p->stopping) break;
            p->idle[p->nidle++] = t;
            uv_mutex_unlock(&p->lock);
            uv_sem_wait(&t->wake); /* taken off idle by a submit or the stop */
            uv_mutex_lock(&p->lock);
            continue;
        }
        p->queued = w->next;
        if (!p->queued) p->queued_tail = NULL;
        uv_mutex_unlock(&p->lock);
        w->work(w->arg);
        uv_mutex_lock(&p->lock);
        bool first = !p->finished;
        push(&p->finished, &p->finished_tail, w);
        if (first) {
            /* The loop takes the whole list: one wake per batch, sent
             * outside the lock. */
            uv_mutex_unlock(&p->lock);
            wake_loop(p);
            uv_mutex_lock(&p->lock);
        }
    }
    uv_mutex_unlock(&p->lock);
}

static void
on_closed(uv_handle_t *h) {
    struct cpu_pool *p = h->data;
    cpu_pool_close_cb cb = p->close_cb;
    void *arg = p->close_arg;
    close(p->wake_fd);
    for (int i = 0; i < p->nthreads; i++) uv_sem_destroy(&p->threads[i].wake);
    uv_mutex_destroy(&p->lock);
    free(p);
    if (cb) cb(arg);
}

/* finish_close joins the threads (idle by now) and closes the handle. */
static void
finish_close(struct cpu_pool *p) {
    uv_mutex_lock(&p->lock);
    p->stopping = true;
    while (p->nidle > 0) uv_sem_post(&p->idle[--p->nidle]->wake);
    uv_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++) uv_thread_join(&p->threads[i].id);
    uv_close((uv_handle_t *)&p->wake, on_closed);
}

/* on_wake reports the finished work, oldest first. A done callback may
 * submit more (it lands on the queue, not on this list) or close the
 * pool (it is closed once the last done has run). */
static void
on_wake(uv_poll_t *h, int status, int events) {
    struct cpu_pool *p = h->data;
    (void)events;
    uint64_t n;
    /* Read before taking the list: work finished after the take finds
     * the list empty and writes again. */
    if (status == 0) (void)!read(p->wake_fd, &n, sizeof n);
    uv_mutex_lock(&p->lock);
    struct cpu_work *w = p->finished;
    p->finished = p->finished_tail = NULL;
    uv_mutex_unlock(&p->lock);
    while (w) {
        struct cpu_work *next = w->next;
        p->outstanding--;
        w->done(w->arg); /* may free w */
        w = next;
    }
    if (p->closing && p->outstanding == 0 && !uv_is_closing((uv_handle_t *)&p->wake))
        finish_close(p);
}

cpu_pool_t *
cpu_pool_new(uv_loop_t *loop, int threads) {
    if (threads <= 0) threads = cpu_pool_threads();
    if (threads > CPU_POOL_MAX_THREADS) threads = CPU_POOL_MAX_THREADS;
    struct cpu_pool *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake_fd < 0) goto fail_fd;
    if (uv_mutex_init(&p->lock) < 0) goto fail_mutex;
    if (uv_poll_init(loop, &p->wake, p->wake_fd) < 0) goto fail_poll;
    p->wake.data = p;
    uv_poll_start(&p->wake, UV_READABLE, on_wake);
    for (; p->nthreads < threads; p->nthreads++) {
        struct pool_thread *t = &p->threads[p->nthreads];
        t->pool = p;
        if (uv_sem_init(&t->wake, 0) < 0) break;
        /* The counting recurses little; libuv's default stack is plenty. */
        if (uv_thread_create(&t->id, run_thread, t) < 0) {
            uv_sem_destroy(&t->wake);
            break;
        }
    }
    if (p->nthreads == 0) {
        uv_close((uv_handle_t *)&p->wake, on_closed);
        return NULL; /* freed by on_closed on the next turn */
    }
    return p;
fail_poll:
    uv_mutex_destroy(&p->lock);
fail_mutex:
    close(p->wake_fd);
fail_fd:
    free(p);
    return NULL;
}

void
cpu_pool_submit(cpu_pool_t *p, struct cpu_work *w, cpu_pool_work_cb work, cpu_pool_done_cb done,
                void *arg) {
    assert(!uv_is_closing((uv_handle_t *)&p->wake)); /* closing waits for it, closed not */
    w->work = work;
    w->done = done;
    w->arg = arg;
    p->outstanding++;
    uv_mutex_lock(&p->lock);
    push(&p->queued, &p->queued_tail, w);
    struct pool_thread *t = p->nidle > 0 ? p->idle[--p->nidle] : NULL;
    uv_mutex_unlock(&p->lock);
    if (t) uv_sem_post(&t->wake); /* outside the lock: it wants the lock at once */
}

int
cpu_pool_size(const cpu_pool_t *p) {
    return p->nthreads;
}

void
cpu_pool_close(cpu_pool_t *p, cpu_pool_close_cb close_cb, void *arg) {
    p->closing = true;
    p->close_cb = close_cb;
    p->close_arg = arg;
    if (p->outstanding == 0) finish_close(p);
    /* else on_wake closes it after the last done */
}
