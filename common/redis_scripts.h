/* redis_scripts — the Lua scripts one Redis connection has sent, so a
 * script goes whole (EVAL) once per connection and by its SHA-1 (EVALSHA)
 * after that (common/redis_uv.c). A script is several KB; sent with every
 * call it was most of the 14 KB a job sent to Redis, and Redis hashed it
 * again at every call.
 *
 * A script is known by the SHA-1 of its text. redis_scripts_name keeps
 * each text's SHA-1 with a copy of the text: a later call with the same
 * buffer and the same bytes (a memcmp, about 30 times cheaper than
 * hashing a few KB) reuses it, so it is never wrong whatever buffer the
 * text is in, and a script is hashed once per connection, not per call.
 * "Sent" means an EVAL of it went on the current connection, which is in
 * order before any later EVALSHA of it; redis_scripts_forget_sent clears
 * that for a new connection, or when Redis answers NOSCRIPT (its script
 * cache was flushed). At most REDIS_SCRIPTS_MAX scripts; beyond that,
 * calls go as EVAL. Bookkeeping, no I/O; the caller frees the kept
 * texts with redis_scripts_free. */
#ifndef WC_REDIS_SCRIPTS_H
#define WC_REDIS_SCRIPTS_H

#include <stdbool.h>
#include <stddef.h>

#define REDIS_SCRIPTS_MAX 64
#define REDIS_SCRIPTS_SHA_LEN 40

struct redis_scripts {
    struct redis_script {
        char sha[REDIS_SCRIPTS_SHA_LEN + 1]; /* "" for a free entry */
        bool sent;
        const char *src; /* the buffer the text was last named from */
        char *text;      /* owned copy of the text (NULL: none kept) */
        size_t len;
    } s[REDIS_SCRIPTS_MAX];
};

/* redis_scripts_sha1 writes the lower-case hex SHA-1 of text (what Redis
 * names a script by); returns 0, or -1 when OpenSSL fails. */
int redis_scripts_sha1(const char *text, size_t len, char out[REDIS_SCRIPTS_SHA_LEN + 1]);
/* redis_scripts_name writes text's SHA-1 like redis_scripts_sha1, from
 * the entry that kept it when text is the same buffer with the same
 * bytes; otherwise it hashes and keeps the text in the script's entry
 * (a new one, not sent, while there is room). Returns 0, or -1. */
int redis_scripts_name(struct redis_scripts *c, const char *text, size_t len,
                       char out[REDIS_SCRIPTS_SHA_LEN + 1]);
/* redis_scripts_use tells how to send the script named sha: true when an
 * EVAL of it went on this connection already (send EVALSHA); false when
 * not (send EVAL; it is counted as sent from now on, or, with the table
 * full, never). */
bool redis_scripts_use(struct redis_scripts *c, const char *sha);
/* redis_scripts_forget_sent: nothing counts as sent any more. */
void redis_scripts_forget_sent(struct redis_scripts *c);
/* redis_scripts_free frees the kept texts (c itself is the caller's). */
void redis_scripts_free(struct redis_scripts *c);

#endif
