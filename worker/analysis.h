/* analysis — one page from URL to word counts, through four named
 * stages:
 *   fetch    (fetch.h)    the GET under the fetch policy, on curl_uv;
 *   decode   (decode.h)   the page's charset to UTF-8;
 *   extract  (extract.h)  the text a reader sees, by the content type's
 *                         row in the extract table (HTML, plain text);
 *   count    (tally.h)    words, counted with and without stop words.
 * Bytes flow through them as they arrive: nothing holds a whole page.
 *
 * Where the counting runs: extract and count are CPU work (a 10 MB page
 * of random words takes seconds), so with a pool (worker/cpu_pool.h)
 * they run on its threads, one piece at a time per analysis, while the
 * loop goes on with everything else; the download takes pieces into a
 * backlog and pauses while the backlog holds ANALYSIS_BACKLOG_MAX, so
 * the counting never falls far behind. A piece goes to the pool once
 * ANALYSIS_PIECE_MIN has gathered or the page has ended, so a small page
 * takes one trip to the pool (its bytes and the end of the counting
 * together): each trip wakes a pool thread and then the loop, and on a
 * busy machine those wake-ups cost as much as counting a small page.
 * Without a pool (NULL), they run on the loop as the pieces arrive
 * (tests, tools).
 *
 * Owns: the fetch, the extraction and the counts, and the result it hands
 * to done_cb. analysis_start returns 0 and later calls done_cb exactly
 * once (success, failure or analysis_cancel), or returns a negative error
 * and never calls it. The result and everything it points to are valid
 * only during done_cb; the analysis frees itself after done_cb returns.
 * A cancel while a piece is being counted in the pool takes effect when
 * that piece comes back (done_cb runs then, from the loop); until then
 * the analysis and its memory account stay the caller's. */
#ifndef WC_ANALYSIS_H
#define WC_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "worker/count.h"
#include "worker/cpu_pool.h"
#include "worker/curl_uv.h"
#include "worker/fetch.h"
#include "worker/membudget.h"
#include "worker/stopwords.h"

typedef struct analysis analysis_t;

/* How much of the page may wait for the counting (bytes taken, not yet
 * counted) before the download pauses. */
#define ANALYSIS_BACKLOG_MAX ((size_t)1 << 20)
/* How much of a page that is still arriving gathers before it is
 * counted, with a pool. */
#define ANALYSIS_PIECE_MIN ((size_t)64 << 10)

struct analysis_result {
    int status;             /* 0 = counted; < 0 = failed */
    const char *error_code; /* stable code when failed: "http_404", "timeout", "dns",
                               "connect", "too_large", "unsupported_type",
                               "blocked_address", "invalid_url", "canceled", ... */
    const char *error;      /* human message when failed */
    bool transient;         /* failed, but worth retrying (timeouts, 5xx, 429, connect) */
    bool wait_for_memory;   /* failed before the first byte was taken: the budget said
                               wait, and a download is not held open for that; the
                               account waits (membudget.h), and the job starts over
                               when it is woken */

    /* fetch metadata (also set on HTTP failures when known) */
    long http_status;
    const char *final_url;    /* after redirects */
    const char *content_type; /* without parameters, lower case */
    const char *charset;      /* the charset used to decode */
    size_t bytes;             /* body bytes received (decoded) */
    int fetch_ms;
    int64_t retry_after_ms;    /* the answer's Retry-After in ms, -1 when none */
    const char *etag;          /* the answer's ETag, or NULL */
    const char *last_modified; /* the answer's Last-Modified, or NULL */
    bool not_modified;         /* a 304 to the conditional GET: no counts (all, no_stop NULL) */
    /* A redirect, not followed: the next hop's absolute URL (status < 0,
     * error_code "redirect"); the caller follows it (fetch.h). */
    const char *redirect_url;

    /* counts (valid when status == 0) */
    const struct count_table *all;     /* every word */
    const struct count_table *no_stop; /* every word that is not a stop word */
};

typedef void (*analysis_done_cb)(analysis_t *a, const struct analysis_result *r, void *arg);
/* analysis_build_cb runs once with a page's counts (status 0, not a 304)
 * where the counting runs (a pool thread, or the loop without a pool),
 * before done_cb and before a cancel can take effect: CPU work on the
 * counts the caller wants off the loop (task.c builds the stored row's
 * JSON there). It may touch only what the caller set aside for it. */
typedef void (*analysis_build_cb)(const struct analysis_result *r, void *arg);

/* analysis_start fetches url under cfg's fetch policy on cu's loop,
 * one hop: a redirect ends the analysis with redirect_url, for the
 * caller to follow through its own gate (worker/task.c);
 * counting on pool's threads (NULL: on the loop);
 * conditionally when v (may be NULL) has a validator (fetch.h). With
 * mem and acct (an account the caller opened there and keeps after the
 * analysis), the account grows before each piece of the page to the
 * job's estimate (membudget.h: at once to the worst case when the head
 * gives the size; then by bytes downloaded and distinct words), and the
 * download pauses while the budget says wait; the caller's wake callback
 * calls analysis_resume. When the budget says wait before the first byte
 * is taken (a head that gave the size), the analysis ends instead, with
 * wait_for_memory (error_code "memory_wait"): a server may drop a client
 * that stops reading for long (nginx after 60 s), so nothing is held open
 * while waiting. */
int analysis_start(curl_uv_t *cu, cpu_pool_t *pool, const struct config *cfg,
                   const struct stopwords *sw, struct membudget *mem, struct membudget_acct *acct,
                   const char *url, const struct fetch_validators *v, analysis_build_cb build,
                   analysis_done_cb cb, void *arg, analysis_t **out);
/* analysis_resume goes on with a download the budget paused (nothing
 * when it is not paused). */
void analysis_resume(analysis_t *a);
/* analysis_waited_ms: how long the download has been paused for memory
 * so far, the current pause included. */
uint64_t analysis_waited_ms(const analysis_t *a);
/* analysis_cancel stops a running analysis; done_cb runs (error_code
 * "canceled"): at once, or when the piece being counted comes back. It
 * may be called again meanwhile (nothing more happens). */
void analysis_cancel(analysis_t *a);

#endif
