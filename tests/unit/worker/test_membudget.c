/* The worker's memory budget: admission, growth, pauses and wake-ups. */
#include <criterion/criterion.h>

#include "worker/membudget.h"

#define MB ((size_t)1 << 20)

struct waker {
    int woken;
    struct membudget *b;
    struct membudget_acct *a;
    size_t ask; /* asked again when woken (as curl hands the held bytes back) */
    int granted;
};

static void
on_wake(void *arg) {
    struct waker *w = arg;
    w->woken++;
    if (w->ask && membudget_grow(w->b, w->a, w->ask) == 0) w->granted++;
}

static int releases;
static void
on_release(void *arg) {
    (void)arg;
    releases++;
}

Test(membudget, admission_counts_each_job_at_its_start) {
    struct membudget b;
    membudget_init(&b, 10 * MB, on_release, NULL);
    cr_assert_eq(membudget_room(&b), 10);
    struct membudget_acct a[10];
    struct waker w = {0};
    for (int i = 0; i < 10; i++) membudget_open(&b, &a[i], on_wake, &w);
    cr_assert_eq(membudget_room(&b), 0);
    cr_assert_eq(b.used, 10 * MEMBUDGET_JOB_MIN);
    releases = 0;
    membudget_release(&b, &a[3]);
    cr_assert_eq(membudget_room(&b), 1);
    cr_assert_eq(releases, 1, "the owner is told");
    for (int i = 0; i < 10; i++)
        if (i != 3) membudget_release(&b, &a[i]);
    cr_assert_eq(b.used, 0);
    cr_assert_null(b.head);
}

Test(membudget, a_tiny_budget_still_runs_one_job) {
    struct membudget b;
    membudget_init(&b, MB / 2, NULL, NULL);
    cr_assert_eq(membudget_room(&b), 1);
}

Test(membudget, growth_waits_while_another_job_moves) {
    struct membudget b;
    membudget_init(&b, 100 * MB, on_release, NULL);
    struct membudget_acct old, young, third;
    struct waker wo = {.b = &b, .a = &old}, wy = {.b = &b, .a = &young},
                 wt = {.b = &b, .a = &third};
    membudget_open(&b, &old, on_wake, &wo);
    membudget_open(&b, &young, on_wake, &wy);
    membudget_open(&b, &third, on_wake, &wt);
    cr_assert_eq(membudget_grow(&b, &young, 60 * MB), 0);
    cr_assert_eq(membudget_grow(&b, &young, 50 * MB), 0, "less than held: nothing to do");
    cr_assert_eq(b.used, 62 * MB);
    /* Past the budget: whoever asks waits, the oldest too, while another
     * job moves (it will give memory back). */
    cr_assert_eq(membudget_grow(&b, &third, 50 * MB), -1);
    cr_assert(third.waiting);
    cr_assert_eq(membudget_grow(&b, &old, 80 * MB), -1, "the oldest waits too");
    cr_assert_eq(b.used, 62 * MB, "nothing held beyond the budget");
    /* The young one is counted: its hold shrinks to its row's, and the
     * waiting are woken oldest first; the oldest fits now. */
    wo.ask = 80 * MB;
    wt.ask = 50 * MB;
    releases = 0;
    cr_assert_eq(membudget_set(&b, &young, 10 * MB), 0);
    cr_assert_eq(wo.woken, 1);
    cr_assert_eq(wo.granted, 1);
    cr_assert_eq(wt.woken, 1);
    cr_assert_eq(wt.granted, 0, "10 + 80 + 1 leaves no room for 50");
    cr_assert(third.waiting);
    cr_assert_eq(releases, 1, "the owner is told");
    cr_assert_eq(b.used, 91 * MB, "%zu", b.used);
    /* The others end: the third fits. */
    membudget_release(&b, &old);
    cr_assert_eq(wt.granted, 1);
    membudget_release(&b, &young);
    membudget_release(&b, &third);
    cr_assert_eq(b.used, 0);
}

Test(membudget, a_job_goes_over_only_when_every_other_one_waits) {
    struct membudget b;
    membudget_init(&b, 10 * MB, NULL, NULL);
    struct membudget_acct a, c;
    struct waker wa = {.b = &b, .a = &a}, wc = {.b = &b, .a = &c};
    membudget_open(&b, &a, on_wake, &wa);
    membudget_open(&b, &c, on_wake, &wc);
    cr_assert_eq(membudget_grow(&b, &a, 30 * MB), -1, "c still moves: wait for it");
    cr_assert_eq(membudget_grow(&b, &c, 30 * MB), 0, "a waits: nobody else will free memory");
    cr_assert_eq(b.used, 31 * MB);
    membudget_release(&b, &c);
    membudget_release(&b, &a);
}

Test(membudget, retained_memory_stays_counted) {
    struct membudget b;
    membudget_init(&b, 100 * MB, NULL, NULL);
    membudget_retain(&b, 20 * MB);
    membudget_retain(&b, 10 * MB);
    cr_assert_eq(b.used, 20 * MB, "the largest counts, not the sum");
    membudget_retain(&b, 30 * MB);
    cr_assert_eq(b.used, 30 * MB);
    struct membudget_acct a;
    struct waker w = {0};
    membudget_open(&b, &a, on_wake, &w);
    membudget_release(&b, &a);
    cr_assert_eq(b.used, 30 * MB);
}

Test(membudget, a_woken_job_that_waits_again_is_woken_once_per_release) {
    struct membudget b;
    membudget_init(&b, 10 * MB, NULL, NULL);
    struct membudget_acct a, c;
    struct waker wa = {.b = &b, .a = &a}, wc = {.b = &b, .a = &c};
    membudget_open(&b, &a, on_wake, &wa);
    membudget_open(&b, &c, on_wake, &wc);
    cr_assert_eq(membudget_grow(&b, &a, 9 * MB), 0);
    cr_assert_eq(membudget_grow(&b, &c, 5 * MB), -1);
    cr_assert_eq(membudget_room(&b), 0, "no new job while one waits for memory");
    /* a gives nothing back yet: c asks for too much again when woken. */
    wc.ask = 50 * MB;
    struct membudget_acct d;
    struct waker wd = {0};
    membudget_open(&b, &d, on_wake, &wd);
    membudget_release(&b, &d);
    cr_assert_eq(wc.woken, 1, "woken once, not in a loop");
    cr_assert(c.waiting, "and waiting again");
    membudget_release(&b, &a); /* now nobody else moves: c goes on */
    cr_assert_eq(wc.woken, 2);
    cr_assert_eq(wc.granted, 1);
    membudget_release(&b, &c);
}

Test(membudget, estimate_grows_with_bytes_and_words) {
    size_t small = membudget_estimate(1000, 100);
    cr_assert_geq(small, MEMBUDGET_JOB_MIN);
    cr_assert_gt(membudget_estimate(2000, 100), small);
    cr_assert_gt(membudget_estimate(1000, 200), small);
    /* memory.py's page of 3.2 MB: 400,000 distinct words, measured at
     * 68 MB with tests/bench/jobmem (tests/bench/README.md). */
    size_t page = membudget_estimate(3200000, 400000);
    cr_assert(page > 68 * MB && page < 120 * MB, "%zu", page);
    /* A row costs four times its bytes (its copies on the way to libpq). */
    cr_assert_eq(membudget_row_estimate(10 * MB), MEMBUDGET_JOB_MIN + 40 * MB);
}
