/* cpu_pool: work runs on the pool's threads, done callbacks on the loop,
 * in order with one thread; closing waits for the work still queued. */
#include <criterion/criterion.h>
#include <uv.h>

#include "tests/lib/testenv.h"
#include "worker/cpu_pool.h"

static void setup(void);
static void teardown(void);
TestSuite(cpu_pool, .init = setup, .fini = teardown, .timeout = 60);

static uv_loop_t loop;
static uv_thread_t loop_thread;

static void
setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
    loop_thread = uv_thread_self();
}

static void
teardown(void) {
    cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

#define NWORK 50

struct item {
    struct cpu_work work;
    int index;
    bool worked_on_loop; /* set by work */
    bool done_on_loop;   /* set by done */
    bool done;
};

static int done_order[NWORK], ndone;

static void
on_work(void *arg) {
    struct item *it = arg;
    uv_thread_t self = uv_thread_self();
    it->worked_on_loop = uv_thread_equal(&self, &loop_thread);
}

static void
on_done(void *arg) {
    struct item *it = arg;
    uv_thread_t self = uv_thread_self();
    it->done_on_loop = uv_thread_equal(&self, &loop_thread);
    cr_assert_not(it->done, "done twice");
    it->done = true;
    done_order[ndone++] = it->index;
}

static void
on_closed(void *arg) {
    *(bool *)arg = true;
}

/* With one thread the work is done first in, first out; closing at once
 * still runs every done callback, then close_cb. */
Test(cpu_pool, work_off_the_loop_done_on_it_in_order) {
    cpu_pool_t *p = cpu_pool_new(&loop, 1);
    cr_assert_not_null(p);
    cr_expect_eq(cpu_pool_size(p), 1);
    static struct item items[NWORK];
    ndone = 0;
    for (int i = 0; i < NWORK; i++) {
        items[i] = (struct item){.index = i};
        cpu_pool_submit(p, &items[i].work, on_work, on_done, &items[i]);
    }
    bool closed = false;
    cpu_pool_close(p, on_closed, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(ndone, NWORK, "every done ran before close_cb");
    for (int i = 0; i < NWORK; i++) {
        cr_expect_eq(done_order[i], i, "done %d came %d-th", i, done_order[i]);
        cr_expect_not(items[i].worked_on_loop, "work %d ran on the loop", i);
        cr_expect(items[i].done_on_loop, "done %d ran off the loop", i);
    }
}

/* A done callback may submit more while the pool closes: that is waited
 * for too. */
static cpu_pool_t *chain_pool;
static struct item chain[3];
static int chained;

static void
on_chain_done(void *arg) {
    on_done(arg);
    if (++chained < 3)
        cpu_pool_submit(chain_pool, &chain[chained].work, on_work, on_chain_done, &chain[chained]);
}

Test(cpu_pool, closing_waits_for_work_submitted_meanwhile) {
    chain_pool = cpu_pool_new(&loop, 0);
    cr_assert_not_null(chain_pool);
    cr_expect_eq(cpu_pool_size(chain_pool), cpu_pool_threads());
    ndone = 0;
    chained = 0;
    for (int i = 0; i < 3; i++) chain[i] = (struct item){.index = i};
    cpu_pool_submit(chain_pool, &chain[0].work, on_work, on_chain_done, &chain[0]);
    bool closed = false;
    cpu_pool_close(chain_pool, on_closed, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    cr_expect_eq(ndone, 3);
}

Test(cpu_pool, closing_an_idle_pool) {
    cpu_pool_t *p = cpu_pool_new(&loop, 3);
    cr_assert_not_null(p);
    cr_expect_eq(cpu_pool_size(p), 3);
    bool closed = false;
    cpu_pool_close(p, on_closed, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
}
