/* The worker's memory budget with the real programs: pages whose counts
 * do not fit the budget together run one after the other (the later
 * downloads pause until an earlier job gives its memory back) and are
 * all counted right. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "common/buf.h"
#include "tests/lib/wcsys.h"

/* Distinct words per page: about 45 MB of estimate each (membudget.h),
 * so two do not fit in a 64 MB budget. */
#define NWORDS 120000
#define NPAGES 4

static struct wcsys sys;

static void
start(void) {
    wcsys_init(&sys, NULL);
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(memory, .init = start, .fini = stop, .timeout = 180);

Test(memory, pages_over_the_budget_wait_their_turn) {
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "8");
    wcsys_env(&sys, "WORKER_MEMORY_MB", "64");
    wcsys_env(&sys, "JOB_TIMEOUT", "120s");
    wcsys_env(&sys, "FETCH_TIMEOUT", "120s");
    for (int p = 0; p < NPAGES; p++) {
        struct buf b;
        buf_init(&b);
        buf_append_str(&b, "<html><body><p>");
        for (int i = 0; i < NWORDS; i++) buf_printf(&b, "p%dw%06d ", p, i);
        buf_append_str(&b, "</p></body></html>");
        char name[32];
        snprintf(name, sizeof name, "big-%d.html", p);
        wcsys_write_page(&sys, name, b.data);
        buf_free(&b);
    }
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char *ids[NPAGES], url[160], path[32];
    for (int p = 0; p < NPAGES; p++) {
        snprintf(path, sizeof path, "/big-%d.html", p);
        ids[p] = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, path, url, sizeof url)));
    }
    for (int p = 0; p < NPAGES; p++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[p], "finished,failed", 150000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1,
                     "waiting for memory is not a failed attempt");
        json_t *res = json_object_get(job, "result");
        cr_assert_eq(json_integer_value(json_object_get(res, "unique_words")), NWORDS);
    }
    cr_assert_gt(wcsys_log_count(sys.worker_logs[0], "msg=\"memory budget full", NULL), 0,
                 "no download waited: the budget was not applied");
}
