/* membudget — how much memory one worker process's jobs may hold.
 *
 * A page of 10 MB with a million distinct words takes a job past 200 MB
 * (the parser's buffers, the word tables, the result's JSON, then the
 * INSERT's copies of it); a worker runs WORKER_CONCURRENCY of them at
 * once. So jobs hold accounts in a budget (WORKER_MEMORY_MB shared by the
 * worker processes) and ask before they grow:
 *   - a job is taken only while the budget has MEMBUDGET_JOB_MIN free and
 *     no job waits for memory (membudget_room); its account opens with
 *     that much when its analysis starts;
 *   - when a page's head gives its size (Content-Length, not encoded), the
 *     job asks at once for its worst case at that size (every word a new
 *     one), so a job that must wait waits before it holds anything, and
 *     without its download open (analysis.h: wait_for_memory);
 *   - before each piece of the page is counted, the job's estimate after
 *     it (membudget_job_estimate: bytes downloaded, distinct words so far,
 *     and the bytes not yet counted as if every word were new) must fit
 *     (membudget_grow); when it does not, the download pauses until memory
 *     is given back (membudget_release and a shrinking membudget_set wake
 *     the waiting, oldest first);
 *   - once counted, the account is set to what the stored row costs
 *     (membudget_row_estimate) until the job ends;
 *   - a job that does not fit waits while any other job of the process is
 *     still moving (that one will give memory back); only when every
 *     other job waits does it go on regardless, so the budget is exceeded
 *     only by a single job larger than what the waiting leave free.
 * Memory that outlives jobs is held for good (membudget_retain): libpq
 * keeps a connection's send buffer at its largest message.
 *
 * A waiting job is not a failing one: time spent waiting counts against
 * neither FETCH_TIMEOUT nor JOB_TIMEOUT (fetch.h, task.h). It is bounded
 * all the same: no job is taken while one waits, and each job that goes
 * on is bounded by its own timeouts, so a job waits at most for the jobs
 * open before it to end.
 *
 * Owns: the counters and the list of accounts (embedded by their users,
 * which must release them before they go). No I/O; a wake callback tells
 * the owner (the runner: take more jobs) and each waiting account (resume
 * the download) when memory was given back. */
#ifndef WC_MEMBUDGET_H
#define WC_MEMBUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* What a job holds from its start (curl, parser and table set-up). */
#define MEMBUDGET_JOB_MIN ((size_t)1 << 20)

/* What one downloaded byte and one distinct word cost at the job's peak
 * (when the row is built, both tables still there), measured with
 * tests/bench/jobmem on pages of random words (tests/bench/README.md),
 * on top of the slots of both word tables (count_slots_bytes): per byte
 * the extract stage's buffers (the decoded page and the text the HTML
 * scanner gathers, both grown by doubling), the words' bytes in both
 * tables' arenas and in the row's two JSON objects (buffers grown by
 * doubling too); per word the JSON's quotes, colon, count and comma,
 * twice, with room. */
#define MEMBUDGET_PER_BYTE 8
#define MEMBUDGET_PER_WORD 40
/* Bytes of page per distinct word when every word is new (random words
 * of seven letters), for bytes not yet counted. */
#define MEMBUDGET_WORD_BYTES 8
/* A stored row costs its values, pg_uv's copy of them and libpq's
 * message (in a buffer grown by doubling): four times its bytes. */
#define MEMBUDGET_ROW_COPIES 4

struct membudget_acct;
typedef void (*membudget_wake_cb)(void *arg);

struct membudget_acct {
    struct membudget_acct *prev, *next; /* accounts in order of opening, oldest first */
    size_t held;
    bool waiting;   /* paused in membudget_grow; woken by a release */
    unsigned woken; /* the release round that last woke it */
    membudget_wake_cb wake;
    void *wake_arg;
};

struct membudget {
    size_t limit;
    size_t used;     /* held by accounts, and retained */
    size_t retained; /* held for good (membudget_retain) */
    struct membudget_acct *head, *tail;
    unsigned round;               /* releases so far */
    membudget_wake_cb on_release; /* the owner's: memory was given back */
    void *release_arg;
};

void membudget_init(struct membudget *b, size_t limit, membudget_wake_cb on_release, void *arg);
/* membudget_malloc_setup makes glibc map large blocks (128 KiB and up)
 * on their own and unmap them when freed, so a job's tables go back to
 * the system when it ends instead of staying in the heap; once per
 * process, before its jobs run. */
void membudget_malloc_setup(void);
/* membudget_room returns how many more jobs may start now: none while a
 * job waits for memory, at least 1 when none is open (one job always
 * runs). */
int membudget_room(const struct membudget *b);
/* membudget_open starts an account holding MEMBUDGET_JOB_MIN; wake runs
 * when it waits and memory comes back. */
void membudget_open(struct membudget *b, struct membudget_acct *a, membudget_wake_cb wake,
                    void *arg);
/* membudget_estimate is a job's peak after bytes downloaded and words
 * distinct words. */
size_t membudget_estimate(size_t bytes, size_t words);
/* membudget_job_estimate is membudget_estimate with unread bytes (taken
 * but not counted yet) counted as new words, one per
 * MEMBUDGET_WORD_BYTES. */
size_t membudget_job_estimate(size_t bytes, size_t words, size_t unread);
/* membudget_row_estimate is what a stored row of row_bytes costs. */
size_t membudget_row_estimate(size_t row_bytes);
/* membudget_grow lets a grow to need bytes: 0 when it may (it then holds
 * at least need), or -1 when it must wait (it is woken when memory comes
 * back, and asks again). */
int membudget_grow(struct membudget *b, struct membudget_acct *a, size_t need);
/* membudget_set makes a hold exactly bytes, as membudget_grow does when
 * that is more; when it is less, the waiting are woken. */
int membudget_set(struct membudget *b, struct membudget_acct *a, size_t bytes);
/* membudget_retain holds at least bytes for good, outside any account
 * (the largest so far counts, not the sum). */
void membudget_retain(struct membudget *b, size_t bytes);
/* membudget_release closes the account and gives its memory back; the
 * waiting accounts and the owner are told. */
void membudget_release(struct membudget *b, struct membudget_acct *a);

#endif
