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

Test(membudget, growth_waits_and_the_oldest_never_does) {
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
    /* Past the budget: the younger ones wait, the oldest goes on. */
    cr_assert_eq(membudget_grow(&b, &third, 50 * MB), -1);
    cr_assert(third.waiting);
    cr_assert_eq(membudget_grow(&b, &old, 80 * MB), 0, "the oldest never waits");
    cr_assert_eq(b.used, 141 * MB);
    /* The oldest ends: the waiting one is woken once, asks again, fits. */
    wt.ask = 30 * MB;
    membudget_release(&b, &old);
    cr_assert_eq(wt.woken, 1);
    cr_assert_eq(wt.granted, 1);
    cr_assert_eq(wy.woken, 0, "only the waiting are woken");
    cr_assert_eq(b.used, 90 * MB, "60 + 30: %zu", b.used);
    membudget_release(&b, &young);
    membudget_release(&b, &third);
    cr_assert_eq(b.used, 0);
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
    membudget_release(&b, &a); /* now c is the oldest: it goes on */
    cr_assert_eq(wc.woken, 2);
    cr_assert_eq(wc.granted, 1);
    membudget_release(&b, &c);
}

Test(membudget, estimate_grows_with_bytes_and_words) {
    size_t small = membudget_estimate(1000, 100);
    cr_assert_geq(small, MEMBUDGET_JOB_MIN);
    cr_assert_gt(membudget_estimate(2000, 100), small);
    cr_assert_gt(membudget_estimate(1000, 200), small);
    /* The page: 3.2 MB, 350,000 distinct words, about 119 MB. */
    size_t page = membudget_estimate(3200000, 350000);
    cr_assert(page > 100 * MB && page < 160 * MB, "%zu", page);
}
