#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "common/clock.h"
#include "common/job.h"

static int64_t fake_now;
static int64_t
fake_clock(void) {
    return fake_now;
}

Test(job, id_is_canonical_uuidv7) {
    char id[JOB_ID_LEN + 1];
    job_id_new(id);
    cr_assert(job_id_valid(id), "id %s", id);
    cr_assert_eq(id[14], '7', "version nibble in %s", id);
    cr_assert(strchr("89ab", id[19]) != NULL, "variant nibble in %s", id);
    for (const char *p = id; *p; p++)
        cr_assert(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

Test(job, id_embeds_creation_time) {
    int64_t (*saved)(void) = clock_now_ms_fn;
    clock_now_ms_fn = fake_clock;
    fake_now = 1764014260123; /* 2025-11-24T19:57:40.123Z */
    char id[JOB_ID_LEN + 1];
    job_id_new(id);
    clock_now_ms_fn = saved;
    cr_assert_eq(job_id_timestamp_ms(id), 1764014260123);
}

Test(job, ids_sort_in_creation_order_within_one_millisecond) {
    int64_t (*saved)(void) = clock_now_ms_fn;
    clock_now_ms_fn = fake_clock;
    fake_now = 1764014260000;
    char prev[JOB_ID_LEN + 1], cur[JOB_ID_LEN + 1];
    job_id_new(prev);
    for (int i = 0; i < 5000; i++) {
        if (i == 2500) fake_now -= 10; /* the clock stepping back must not break the order */
        job_id_new(cur);
        cr_assert(strcmp(prev, cur) < 0, "%s !< %s at %d", prev, cur, i);
        memcpy(prev, cur, sizeof cur);
    }
    clock_now_ms_fn = saved;
}

Test(job, ids_are_unique) {
    enum { N = 20000 };
    static char ids[N][JOB_ID_LEN + 1];
    for (int i = 0; i < N; i++) job_id_new(ids[i]);
    qsort(ids, N, sizeof ids[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 1; i < N; i++) cr_assert_str_neq(ids[i - 1], ids[i]);
}

/* Parameters are copied into each test process (Criterion re-executes the
 * binary), so they hold arrays, not pointers. */
struct id_case {
    char s[48];
    bool valid;
};

ParameterizedTestParameters(job, id_validation) {
    static struct id_case cases[] = {
        {"0192f3a1-7c2e-7abc-8def-0123456789ab", true},
        {"0192F3A1-7C2E-7ABC-8DEF-0123456789AB", true},
        {"0192f3a1-7c2e-7abc-8def-0123456789a", false},
        {"0192f3a1-7c2e-7abc-8def-0123456789abc", false},
        {"0192f3a17c2e-7abc-8def-0123456789ab-", false},
        {"0192f3a1-7c2e-7abc-8def-0123456789ag", false},
        {"", false},
        {"../../etc/passwd", false},
        {"0192f3a1-7c2e-7abc-8def-0123456789a\n", false},
    };
    return cr_make_param_array(struct id_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct id_case *c, job, id_validation) {
    cr_assert_eq(job_id_valid(c->s), c->valid, "%s", c->s);
}

Test(job, state_names_round_trip) {
    for (int s = JOB_QUEUED; s <= JOB_WAITING; s++) {
        enum job_state back;
        cr_assert_eq(job_state_parse(job_state_name(s), &back), 0);
        cr_assert_eq(back, s);
    }
    enum job_state out;
    cr_assert_eq(job_state_parse("done", &out), -1);
    cr_assert_eq(job_state_parse(NULL, &out), -1);
}

/* The transitions themselves are the queue's scripts; test_queue.c drives
 * each operation from each state (queue, every_transition). */
Test(job, terminal_states) {
    cr_assert(job_state_terminal(JOB_FINISHED) && job_state_terminal(JOB_FAILED) &&
              job_state_terminal(JOB_CANCELED));
    cr_assert_not(job_state_terminal(JOB_QUEUED));
    cr_assert_not(job_state_terminal(JOB_STARTED));
    cr_assert_not(job_state_terminal(JOB_RETRYING));
}
