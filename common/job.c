#include "common/job.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/xalloc.h"

static const char *state_names[] = {"queued", "started",  "retrying", "finished",
                                    "failed", "canceled", "waiting"};

static char *
dup_or_null(const char *s) {
    return s ? xstrdup(s) : NULL;
}

void
job_copy(struct job *dst, const struct job *src) {
    *dst = *src;
    dst->url = dup_or_null(src->url);
    dst->url_key = dup_or_null(src->url_key);
    dst->error = dup_or_null(src->error);
    dst->error_code = dup_or_null(src->error_code);
    dst->history = dup_or_null(src->history);
    dst->worker = dup_or_null(src->worker);
    dst->result = dup_or_null(src->result);
    dst->waiting = dup_or_null(src->waiting);
    dst->batch = dup_or_null(src->batch);
}

void
job_free(struct job *j) {
    free(j->url);
    free(j->url_key);
    free(j->error);
    free(j->error_code);
    free(j->history);
    free(j->worker);
    free(j->result);
    free(j->waiting);
    free(j->batch);
    j->url = j->url_key = j->error = j->error_code = j->history = j->worker = j->result =
        j->waiting = j->batch = NULL;
}

const char *
job_state_name(enum job_state s) {
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "unknown";
}

int
job_state_parse(const char *name, enum job_state *out) {
    for (size_t i = 0; i < sizeof state_names / sizeof *state_names; i++) {
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (enum job_state)i;
            return 0;
        }
    }
    return -1;
}

bool
job_state_terminal(enum job_state s) {
    return s == JOB_FINISHED || s == JOB_FAILED || s == JOB_CANCELED;
}

void
job_id_new(char out[JOB_ID_LEN + 1]) {
    job_id_new_on(out, 0);
}

void
job_id_new_on(char out[JOB_ID_LEN + 1], int shard) {
    /* Monotonic within the process: when the clock has not moved (or went
     * back), bump the 12-bit rand_a counter so ids still sort in order. */
    static int64_t last_ms;
    static unsigned counter;
    int64_t ms = clock_now_ms();
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* getrandom on Linux does not fail for 16 bytes once the pool is
         * initialised; fall back to a weaker source rather than abort. */
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)random();
    }
    if (ms <= last_ms) {
        ms = last_ms;
        counter++;
        if (counter > 0xfff) {
            ms++;
            counter = 0;
        }
    } else {
        counter = ((unsigned)b[6] << 8 | b[7]) & 0x7ff; /* random start, room to count */
    }
    last_ms = ms;
    for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)((shard > 0 ? 0x80 : 0x70) | ((counter >> 8) & 0x0f));
    b[7] = (unsigned char)(counter & 0xff);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    if (shard > 0) b[9] = (unsigned char)shard;
    snprintf(out, JOB_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

bool
job_id_valid(const char *s) {
    if (!s || strlen(s) != JOB_ID_LEN) return false;
    for (int i = 0; i < JOB_ID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return false;
    }
    return true;
}

int
job_id_shard(const char *id) {
    if (!job_id_valid(id)) return -1;
    if (id[14] == '7') return 0;
    if (id[14] != '8') return -1;
    char hex[3] = {id[21], id[22], '\0'};
    return (int)strtol(hex, NULL, 16);
}

int64_t
job_id_timestamp_ms(const char *id) {
    if (!job_id_valid(id)) return -1;
    char hex[13];
    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    hex[12] = '\0';
    return (int64_t)strtoll(hex, NULL, 16);
}
