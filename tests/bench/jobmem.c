/* jobmem — one worst-case job's memory, stage by stage, against the
 * budget's estimate (worker/membudget.h): what tests/bench/memory.py
 * measures for a whole worker, taken apart.
 *
 * Usage: jobmem [MB]   (the page's size, 9.9 by default)
 *
 * The page is memory.py's: random words of 5 to 9 letters in one <p>,
 * every word a new one. It goes through the worker's stages as a job's
 * does (worker/analysis.c, worker/store.c), fed in 16 KiB pieces, and
 * after each stage the process's peak RSS is read (VmHWM, reset between
 * stages through /proc/self/clear_refs) along with its live heap
 * (mallinfo2). Large blocks are mmapped as in the worker
 * (membudget_malloc_setup), so RSS follows what is live.
 *
 * Stages: parse + count (the estimate checked before each piece, as
 * analysis.c's may_take does), finish (the counts without stop words),
 * row (the INSERT's values as JSON, the tables still there), tables
 * freed, sending (pg_uv's copy of the values and libpq's message, made
 * here the way they make them, without a server). Nothing is asserted. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "worker/extract.h"
#include "worker/membudget.h"
#include "worker/stopwords.h"
#include "worker/store.h"
#include "worker/tally.h"

#define CHUNK 16384

static long
status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    if (f) fclose(f);
    return v;
}

static void
peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static double
heap_mb(void) {
    struct mallinfo2 m = mallinfo2();
    return (double)(m.uordblks + m.hblkhd) / 1048576.0;
}

static double
cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
report(const char *stage, long base_kb) {
    static double last;
    double now = cpu_s();
    printf("%-14s peak RSS %7.1f MB above start, live heap %7.1f MB, %5.2f s of CPU\n", stage,
           (double)(status_kb("VmHWM") - base_kb) / 1024.0, heap_mb(), now - last);
    last = cpu_s();
    peak_reset();
}

struct job {
    struct tally tally;
    size_t bytes, bytes_at_text, max_est;
};

static void
on_text(const char *text, size_t len, void *arg) {
    struct job *j = arg;
    j->bytes_at_text = j->bytes;
    tally_text(text, len, &j->tally);
}

int
main(int argc, char **argv) {
    double mb = argc > 1 ? atof(argv[1]) : 9.9;
    size_t size = (size_t)(mb * 1e6);
    membudget_malloc_setup();
    char err[256];
    static struct stopwords sws;
    struct stopwords *sw = &sws;
    if (stopwords_load(sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err) < 0) {
        fprintf(stderr, "jobmem: %s\n", err);
        return 1;
    }
    struct buf page;
    buf_init(&page);
    buf_append_str(&page, "<html><body><p>");
    srand(14);
    while (page.len < size - 32) {
        int n = 5 + rand() % 5;
        for (int i = 0; i < n; i++) buf_append_char(&page, (char)('a' + rand() % 26));
        buf_append_char(&page, ' ');
    }
    buf_append_str(&page, "</p></body></html>\n");
    long base = status_kb("VmRSS");
    report("page made", base);
    printf("page %zu bytes; start RSS %.1f MB (the page itself included)\n", page.len,
           base / 1024.0);

    struct job j = {0};
    tally_init(&j.tally, sw, err, sizeof err);
    extract_t *x = extract_open(extract_find("text/html"), "utf-8", on_text, &j);
    for (size_t off = 0; off < page.len; off += CHUNK) {
        size_t len = page.len - off < CHUNK ? page.len - off : CHUNK;
        size_t est = membudget_job_estimate(j.bytes + len, count_unique(&j.tally.all),
                                            j.bytes - j.bytes_at_text + len);
        if (est > j.max_est) j.max_est = est;
        j.bytes += len;
        extract_feed(x, page.data + off, len);
    }
    extract_finish(x);
    report("parse+count", base);
    size_t words = count_unique(&j.tally.all);
    extract_free(x);
    tally_finish(&j.tally);
    report("finish", base);
    struct analysis_result r = {.all = &j.tally.all,
                                .no_stop = &j.tally.no_stop,
                                .bytes = j.bytes,
                                .content_type = "text/html"};
    struct store_row row;
    store_row_init(&row, "0190f0e0-0000-7000-8000-000000000000", "http://x/", 0, &r);
    report("row", base);
    tally_free(&j.tally);
    size_t row_bytes = store_row_bytes(&row);
    report("tables freed", base);
    /* What pg_uv and libpq add while the row is sent: a copy, and the
     * message in a buffer grown by doubling (as pg_uv_query and
     * PQsendQueryParams do). */
    struct buf msg;
    buf_init(&msg);
    char *copy[RESULTS_NWRITTEN];
    for (int i = 0; i < RESULTS_NWRITTEN; i++) {
        copy[i] = row.value[i] ? xstrdup(row.value[i]) : NULL;
        if (copy[i]) buf_append(&msg, copy[i], strlen(copy[i]));
    }
    report("sending", base);
    for (int i = 0; i < RESULTS_NWRITTEN; i++) free(copy[i]);
    buf_free(&msg);
    printf("distinct words %zu; row %.1f MB; estimate: at the end of the parse %.1f MB, "
           "for the stored row %.1f MB\n",
           words, row_bytes / 1048576.0, j.max_est / 1048576.0,
           membudget_row_estimate(row_bytes) / 1048576.0);
    store_row_free(&row);
    buf_free(&page);
    stopwords_free(sw);
    return 0;
}
