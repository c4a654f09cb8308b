/* stream_pool: result streams get a connection while one has room, wait
 * in line first come first, and are turned away only when the line is
 * full; closing calls back those in line. No server is needed: the
 * connections try to connect in the background and may fail. */
#include <criterion/criterion.h>
#include <uv.h>

#include "web/stream_pool.h"

static void setup(void);
static void teardown(void);
TestSuite(stream_pool, .init = setup, .fini = teardown, .timeout = 60);

static uv_loop_t loop;
static struct stream_pool pool;

/* Nothing listens on port 1 of loopback. */
#define NOWHERE "postgresql://wordcount@127.0.0.1:1/none?connect_timeout=1"
#define HELD (STREAM_POOL_CONNS * STREAM_POOL_PER_CONN)

static void
setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void
on_closed(void *arg) {
    *(bool *)arg = true;
}

static void
teardown(void) {
    cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

static void
close_pool(void) {
    bool closed = false;
    stream_pool_close(&pool, on_closed, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
}

struct reader {
    struct stream_slot slot;
    int status; /* 1: not called back yet */
    int order;  /* when it was called back */
};

static int granted;

static void
on_slot(struct stream_slot *slot, int status, void *arg) {
    struct reader *r = arg;
    (void)slot;
    cr_assert_eq(r->status, 1, "called back twice");
    r->status = status;
    r->order = granted++;
}

static struct reader readers[HELD + STREAM_POOL_WAITING + 1];

Test(stream_pool, a_full_line_turns_away_and_the_first_in_line_goes_first) {
    stream_pool_init(&pool, &loop, NOWHERE, NULL);
    granted = 0;
    int n = (int)(sizeof readers / sizeof *readers);
    for (int i = 0; i < n; i++) readers[i].status = 1;
    for (int i = 0; i < HELD; i++) {
        cr_assert_eq(stream_pool_acquire(&pool, 0, &readers[i].slot, on_slot, &readers[i]), 0);
        cr_assert_eq(readers[i].status, 0, "a free connection is given at once");
    }
    for (int i = HELD; i < n - 1; i++)
        cr_assert_eq(stream_pool_acquire(&pool, 0, &readers[i].slot, on_slot, &readers[i]), 1,
                     "in line");
    cr_expect_eq(stream_pool_waiting(&pool), STREAM_POOL_WAITING);
    cr_expect_eq(readers[HELD].status, 1, "waits while every connection is full");
    cr_expect_eq(stream_pool_acquire(&pool, 0, &readers[n - 1].slot, on_slot, &readers[n - 1]),
                 UV_EBUSY, "the line is full");
    /* A stream ends: the first in line gets its place. */
    stream_pool_release(&pool, &readers[3].slot);
    cr_expect_eq(readers[HELD].status, 0);
    cr_expect_eq(readers[HELD + 1].status, 1);
    cr_expect_eq(stream_pool_waiting(&pool), STREAM_POOL_WAITING - 1);
    /* Released twice, or never granted: nothing happens. */
    stream_pool_release(&pool, &readers[3].slot);
    cr_expect_eq(readers[HELD + 1].status, 1);
    /* A slot that holds a connection can query (it fails: no server). */
    cr_expect_eq(stream_pool_query(&pool, &readers[3].slot, "SELECT 1", 0, NULL, NULL, NULL),
                 UV_ECANCELED, "a released slot has no connection");
    /* Closing: the rest of the line is called back, in order. */
    close_pool();
    for (int i = HELD + 1; i < n - 1; i++) {
        cr_expect_eq(readers[i].status, UV_ECANCELED, "reader %d", i);
        cr_expect_eq(readers[i].order, readers[i - 1].order + 1, "reader %d out of order", i);
    }
    cr_expect_eq(stream_pool_acquire(&pool, 0, &readers[0].slot, on_slot, &readers[0]),
                 UV_ECANCELED);
}

/* A replica's streams and the primary's have connections of their own:
 * a full primary does not hold up a replica's reader. */
Test(stream_pool, each_server_has_its_own_connections) {
    stream_pool_init(&pool, &loop, NOWHERE, NOWHERE);
    granted = 0;
    for (int i = 0; i < HELD + 2; i++) readers[i].status = 1;
    for (int i = 0; i < HELD + 1; i++)
        cr_assert_eq(stream_pool_acquire(&pool, 0, &readers[i].slot, on_slot, &readers[i]),
                     i < HELD ? 0 : 1);
    cr_expect_eq(readers[HELD].status, 1);
    cr_assert_eq(
        stream_pool_acquire(&pool, 1, &readers[HELD + 1].slot, on_slot, &readers[HELD + 1]), 0);
    cr_expect_eq(readers[HELD + 1].status, 0, "the replica had room");
    for (int i = 0; i < HELD; i++) stream_pool_release(&pool, &readers[i].slot);
    cr_expect_eq(readers[HELD].status, 0);
    stream_pool_release(&pool, &readers[HELD].slot);
    stream_pool_release(&pool, &readers[HELD + 1].slot);
    close_pool();
}
