/* membudget — how much memory one worker process's jobs may hold.
 *
 * A page of 10 MB with a million distinct words takes a job past 300 MB
 * (the page's bytes as they go through the parser, the word tables, the
 * result's JSON); a worker runs WORKER_CONCURRENCY of them at once. So
 * jobs are admitted against a budget (WORKER_MEMORY_MB shared by the
 * worker processes), and a job that grows asks before it grows:
 *   - a job is taken only while the budget has MEMBUDGET_JOB_MIN free
 *     (membudget_room), and holds that much from its start;
 *   - before each piece of the page is counted, the job's estimate after
 *     it (membudget_estimate: bytes downloaded and distinct words so far,
 *     plus the piece's worst case) must fit (membudget_grow); when it does
 *     not, the download pauses until another job ends and gives its share
 *     back (membudget_release wakes the paused ones, oldest first). The
 *     oldest job never waits, so the jobs always move on; the budget is
 *     exceeded by at most what that one job takes beyond it.
 * So a burst of worst-case pages slows down instead of running the
 * process out of memory.
 *
 * Owns: the counters and the list of accounts (embedded by their users,
 * which must release them before they go). No I/O; a wake callback tells
 * the owner (the runner: take more jobs) and each paused account (resume
 * the download) when memory was given back. */
#ifndef WC_MEMBUDGET_H
#define WC_MEMBUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* What a job holds from its start (curl, parser and table set-up). */
#define MEMBUDGET_JOB_MIN ((size_t)1 << 20)

/* What one downloaded byte and one distinct word cost at the job's peak
 * (measured on pages of random words: the parser's and decoder's buffers
 * per byte; per word both tables, its bytes twice and its JSON twice). */
#define MEMBUDGET_PER_BYTE 2
#define MEMBUDGET_PER_WORD 360
/* Bytes of page per distinct word when every word is new (random words
 * of seven letters), for bytes not yet counted. */
#define MEMBUDGET_WORD_BYTES 8

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
    size_t used;
    struct membudget_acct *head, *tail;
    unsigned round;               /* releases so far */
    membudget_wake_cb on_release; /* the owner's: memory was given back */
    void *release_arg;
};

void membudget_init(struct membudget *b, size_t limit, membudget_wake_cb on_release, void *arg);
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
/* membudget_grow lets a grow to need bytes: 0 when it may (it then holds
 * at least need), or -1 when it must wait for a release (it is woken). */
int membudget_grow(struct membudget *b, struct membudget_acct *a, size_t need);
/* membudget_release closes the account and gives its memory back; the
 * paused accounts and the owner are told. */
void membudget_release(struct membudget *b, struct membudget_acct *a);

#endif
