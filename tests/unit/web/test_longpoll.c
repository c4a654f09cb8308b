/* The pieces of long-polls that need no server: reading Prefer: wait=N
 * (RFC 7240), and the job events hub calling the right watches, including
 * a watch that takes itself out (and frees itself) from its callback. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "web/job_events.h"
#include "web/longpoll.h"

struct prefer_case {
    char header[40]; /* inline: cases are copied into the test's process */
    long want;
};

ParameterizedTestParameters(longpoll, prefer_wait) {
    static struct prefer_case cases[] = {
        {"wait=10", 10},
        {"Wait=10", 10},
        {"respond-async, wait=5", 5},
        {"wait=5, respond-async", 5},
        {"wait = 7", 7},
        {"wait=\"8\"", 8},
        {"wait=9;foo=bar", 9},
        {"return=minimal; wait=4", 0}, /* a parameter of another preference */
        {"handling=lenient,wait=3", 3},
        {"wait=120", 120}, /* cut to 60 by the handler */
        {"wait=0", 0},
        {"wait=-1", 0},
        {"wait=abc", 0},
        {"wait=", 0},
        {"wait", 0},
        {"waited=5", 0},
        {"nowait=5", 0},
        {"wait=5x", 0},
        {"wait=\"5", 0},
        {"", 0},
    };
    return cr_make_param_array(struct prefer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct prefer_case *c, longpoll, prefer_wait) {
    cr_assert_eq(longpoll_prefer_wait(c->header), c->want, "Prefer: %s", c->header);
}

Test(longpoll, no_prefer_header) {
    cr_assert_eq(longpoll_prefer_wait(NULL), 0);
}

/* --- the hub's watches --- */

struct seen {
    int calls;
    char state[16];
    bool unwatch; /* take itself out, as a waiter that answers does */
    struct job_events *h;
    struct job_watch *self;
};

static void
on_event(struct job_watch *w, const char *state, const char *event_id, void *arg) {
    struct seen *s = arg;
    (void)event_id;
    s->calls++;
    snprintf(s->state, sizeof s->state, "%s", state ? state : "(resync)");
    if (s->unwatch) {
        job_events_unwatch(s->h, w);
        free(w);
    }
}

#define ID_A "0192f3a1-7c2e-7abc-8def-0123456789ab"
#define ID_B "0192f3a1-7c2e-7abc-8def-0123456789ac"

Test(longpoll, hub_calls_the_watches_of_the_job) {
    struct job_events *h = calloc(1, sizeof *h);
    struct seen a1 = {0}, a2 = {.unwatch = true, .h = h}, b = {0};
    struct job_watch wa1, wb, *wa2 = calloc(1, sizeof *wa2);
    job_events_watch(h, &wa1, ID_A, on_event, &a1);
    job_events_watch(h, wa2, ID_A, on_event, &a2);
    job_events_watch(h, &wb, ID_B, on_event, &b);
    cr_assert_eq(h->nwatches, 3);
    job_events_dispatch(h, ID_A, "finished", "1-0");
    cr_assert_eq(a1.calls, 1);
    cr_assert_str_eq(a1.state, "finished");
    cr_assert_eq(a2.calls, 1, "the watch that left itself was called once");
    cr_assert_eq(b.calls, 0, "another job's watch is not called");
    cr_assert_eq(h->nwatches, 2);
    job_events_dispatch(h, ID_A, "failed", "2-0");
    cr_assert_eq(a1.calls, 2);
    cr_assert_eq(a2.calls, 1, "gone");
    job_events_unwatch(h, &wa1);
    job_events_unwatch(h, &wa1); /* twice is nothing */
    job_events_dispatch(h, ID_A, "failed", "3-0");
    cr_assert_eq(a1.calls, 2);
    job_events_unwatch(h, &wb);
    cr_assert_eq(h->nwatches, 0);
    free(h);
}
