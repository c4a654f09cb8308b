/* cpu_pool — a few threads that do a worker process's CPU-heavy work
 * (turning a page into text and counting its words) off its libuv loop,
 * so heartbeats, leases, Redis, Postgres and curl keep running while a
 * large page is counted.
 *
 * Why not libuv's own thread pool (uv_queue_work): that pool is shared
 * with uv_getaddrinfo (common/transport resolves Redis and Postgres host
 * names there), and seconds of counting queued ahead of a resolve would
 * hold back a reconnect; its size is a process-wide environment variable
 * read once (UV_THREADPOOL_SIZE). This pool is the worker's own, sized
 * to the CPUs the process may use (CPU-bound work gains nothing from
 * more threads than cores), its threads run a little nicer than the
 * loop's (CPU_POOL_NICE), and its queue is first in, first out, so the
 * pages being counted take turns piece by piece.
 *
 * Owns: the threads, the queue of work not yet started, the list of work
 * done but not yet reported, and the eventfd and its uv_poll_t that
 * report it on the loop. A struct cpu_work is the caller's (embedded in its owner); it
 * must stay alive until its done callback has run. work runs on a pool
 * thread and may touch only what the caller gave it; done runs on the
 * loop, exactly once per submitted work, in a later turn of the loop.
 *
 * Life cycle: cpu_pool_new starts the threads; cpu_pool_close waits for
 * the work still queued or running, reports it (done runs as usual),
 * joins the threads, closes the poll handle and calls close_cb once the
 * memory is gone. Work submitted by a done callback while it closes is
 * waited for too; nothing may be submitted once close_cb has run. */
#ifndef WC_CPU_POOL_H
#define WC_CPU_POOL_H

#include <uv.h>

/* At most this many threads, whatever the CPU count. */
#define CPU_POOL_MAX_THREADS 16
/* The threads' niceness above the process's own (setpriority). */
#define CPU_POOL_NICE 5

typedef struct cpu_pool cpu_pool_t;
typedef void (*cpu_pool_work_cb)(void *arg);
typedef void (*cpu_pool_done_cb)(void *arg);
typedef void (*cpu_pool_close_cb)(void *arg);

struct cpu_work {
    struct cpu_work *next;
    cpu_pool_work_cb work;
    cpu_pool_done_cb done;
    void *arg;
};

/* cpu_pool_threads: how many threads a pool gets when asked for 0: the
 * CPUs this process may run on (uv_available_parallelism), at most
 * CPU_POOL_MAX_THREADS. */
int cpu_pool_threads(void);
/* cpu_pool_new starts threads (1..CPU_POOL_MAX_THREADS; 0: cpu_pool_threads())
 * on loop; NULL when a thread, the eventfd or its poll handle cannot
 * start. */
cpu_pool_t *cpu_pool_new(uv_loop_t *loop, int threads);
/* cpu_pool_submit queues w: work(arg) on a pool thread, then done(arg)
 * on the loop. */
void cpu_pool_submit(cpu_pool_t *p, struct cpu_work *w, cpu_pool_work_cb work,
                     cpu_pool_done_cb done, void *arg);
/* cpu_pool_size: the pool's thread count. */
int cpu_pool_size(const cpu_pool_t *p);
/* cpu_pool_close: see the life cycle above. close_cb may be NULL. */
void cpu_pool_close(cpu_pool_t *p, cpu_pool_close_cb close_cb, void *arg);

#endif
