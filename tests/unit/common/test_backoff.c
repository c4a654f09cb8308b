/* backoff: the step doubles from base up to the cap, the wait lies in
 * the upper half of the step, the failure count is kept and reset, and
 * the random numbers are spread and reproducible by seed. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/backoff.h"

struct delay_case {
    int64_t base, cap;
    unsigned n;
    uint32_t rnd;
    int64_t want;
};

ParameterizedTestParameters(backoff, delay_table) {
    static struct delay_case cases[] = {
        /* The redis_uv/pg_uv policy: 100 ms doubling to 5 s. */
        {100, 5000, 1, 0, 50},             /* half the first step at the least */
        {100, 5000, 1, 50, 100},           /* the whole step at the most */
        {100, 5000, 1, 51, 50},            /* rnd wraps inside the half */
        {100, 5000, 1, 25, 75},            /* and in between */
        {100, 5000, 0, 0, 50},             /* no failure counts as one */
        {100, 5000, 2, 0, 100},            /* 200 ms */
        {100, 5000, 2, 100, 200},          /* */
        {100, 5000, 6, 1600, 3200},        /* 3.2 s */
        {100, 5000, 7, 0, 2500},           /* 6.4 s is capped at 5 s */
        {100, 5000, 7, 2500, 5000},        /* */
        {100, 5000, 4000000000u, 0, 2500}, /* no overflow however many */
        {100, 5000, 4000000000u, UINT32_MAX, 2500 + UINT32_MAX % 2501},
        /* Odd steps: the upper half includes the middle. */
        {5, 5, 1, 0, 3},
        {5, 5, 1, 2, 5},
        {1, 1, 3, 7, 1}, /* a step of 1 has no room for jitter */
        /* A cap below base is base. */
        {1000, 10, 3, 0, 500},
        /* A cap that is not a power of two times base. */
        {1000, 30000, 5, 8000, 16000},
        {1000, 30000, 6, 0, 15000},
        {1000, 30000, 6, 15000, 30000},
        /* Steps near the top of int64_t do not overflow either. */
        {INT64_MAX / 2 + 1, INT64_MAX, 3, 0, INT64_MAX - INT64_MAX / 2},
    };
    return cr_make_param_array(struct delay_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct delay_case *c, backoff, delay_table) {
    int64_t got = backoff_delay_ms(c->base, c->cap, c->n, c->rnd);
    cr_assert_eq(got, c->want, "base %lld cap %lld n %u rnd %u: %lld, not %lld", (long long)c->base,
                 (long long)c->cap, c->n, c->rnd, (long long)got, (long long)c->want);
}

Test(backoff, every_wait_lies_in_the_upper_half_of_its_step) {
    struct backoff b;
    backoff_init(&b, 200, 5000, 42);
    int64_t step = 200;
    for (unsigned n = 1; n <= 12; n++) {
        int64_t d = backoff_next(&b);
        cr_assert_eq(b.failures, n);
        cr_assert(d >= step / 2 && d <= step, "failure %u: %lld not in [%lld, %lld]", n,
                  (long long)d, (long long)step / 2, (long long)step);
        step = step * 2 > 5000 ? 5000 : step * 2;
    }
}

Test(backoff, reset_starts_from_base_again) {
    struct backoff b;
    backoff_init(&b, 1000, 30000, 7);
    for (int i = 0; i < 8; i++) backoff_next(&b);
    cr_assert_geq(backoff_next(&b), 15000, "capped steps wait at least half the cap");
    backoff_reset(&b);
    cr_assert_eq(b.failures, 0);
    int64_t d = backoff_next(&b);
    cr_assert(d >= 500 && d <= 1000, "after a reset: %lld", (long long)d);
}

Test(backoff, the_same_seed_gives_the_same_waits) {
    struct backoff a, b;
    backoff_init(&a, 100, 5000, 12345);
    backoff_init(&b, 100, 5000, 12345);
    for (int i = 0; i < 20; i++) cr_assert_eq(backoff_next(&a), backoff_next(&b));
}

Test(backoff, waits_are_spread) {
    /* Ten clients that failed together, seeded apart, do not all come
     * back at the same moment; and one client's draws vary too. */
    int64_t first[10];
    for (int i = 0; i < 10; i++) {
        struct backoff b;
        backoff_init(&b, 1000, 30000, 0x1000 + (uint64_t)i * 0x9e3779b9ULL);
        first[i] = backoff_next(&b);
        cr_assert(first[i] >= 500 && first[i] <= 1000);
    }
    int distinct = 0;
    for (int i = 0; i < 10; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++) seen = seen || first[j] == first[i];
        distinct += !seen;
    }
    cr_assert_geq(distinct, 5, "only %d distinct first waits out of 10", distinct);

    struct backoff b;
    backoff_init(&b, 0x7fffffff, 0x7fffffff, 99);
    uint32_t r0 = backoff_rand(&b);
    bool varied = false;
    for (int i = 0; i < 10; i++) varied = varied || backoff_rand(&b) != r0;
    cr_assert(varied);
}

Test(backoff, a_zero_seed_still_draws) {
    struct backoff b;
    backoff_init(&b, 100, 100, 0);
    cr_assert_neq(b.rnd, 0);
    uint32_t r0 = backoff_rand(&b), r1 = backoff_rand(&b);
    cr_assert(r0 != r1 || r0 != 0, "stuck at zero");
}
