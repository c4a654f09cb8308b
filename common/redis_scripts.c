/* redis_scripts.c — a connection's Lua scripts; see redis_scripts.h. */
#include "common/redis_scripts.h"

#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/xalloc.h"

int
redis_scripts_sha1(const char *text, size_t len, char out[REDIS_SCRIPTS_SHA_LEN + 1]) {
    return sha1_hex(text, len, out);
}

int
redis_scripts_name(struct redis_scripts *c, const char *text, size_t len,
                   char out[REDIS_SCRIPTS_SHA_LEN + 1]) {
    for (int i = 0; i < REDIS_SCRIPTS_MAX; i++) {
        struct redis_script *e = &c->s[i];
        if (e->text && e->src == text && e->len == len && !memcmp(e->text, text, len)) {
            memcpy(out, e->sha, REDIS_SCRIPTS_SHA_LEN + 1);
            return 0;
        }
    }
    if (sha1_hex(text, len, out) < 0) return -1;
    struct redis_script *keep = NULL;
    for (int i = 0; i < REDIS_SCRIPTS_MAX && !keep; i++)
        if (!strcmp(c->s[i].sha, out)) keep = &c->s[i]; /* known, from another buffer */
    for (int i = 0; i < REDIS_SCRIPTS_MAX && !keep; i++)
        if (!c->s[i].sha[0]) {
            keep = &c->s[i];
            memcpy(keep->sha, out, REDIS_SCRIPTS_SHA_LEN + 1);
            keep->sent = false;
        }
    if (!keep) return 0; /* full: hashed at every call */
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, text, len);
    free(keep->text);
    keep->text = copy;
    keep->src = text;
    keep->len = len;
    return 0;
}

bool
redis_scripts_use(struct redis_scripts *c, const char *sha) {
    int free_slot = -1;
    for (int i = 0; i < REDIS_SCRIPTS_MAX; i++) {
        if (!c->s[i].sha[0]) {
            if (free_slot < 0) free_slot = i;
        } else if (strcmp(c->s[i].sha, sha) == 0) {
            if (c->s[i].sent) return true;
            c->s[i].sent = true;
            return false;
        }
    }
    if (free_slot >= 0) {
        memcpy(c->s[free_slot].sha, sha, REDIS_SCRIPTS_SHA_LEN + 1);
        c->s[free_slot].sent = true;
    }
    return false;
}

void
redis_scripts_forget_sent(struct redis_scripts *c) {
    for (int i = 0; i < REDIS_SCRIPTS_MAX; i++) c->s[i].sent = false;
}

void
redis_scripts_free(struct redis_scripts *c) {
    for (int i = 0; i < REDIS_SCRIPTS_MAX; i++) {
        free(c->s[i].text);
        c->s[i].text = NULL;
        c->s[i].src = NULL;
    }
}
