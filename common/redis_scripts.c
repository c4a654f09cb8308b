/* redis_scripts.c — a connection's Lua scripts; see redis_scripts.h. */
#include "common/redis_scripts.h"

#include <string.h>

#include "common/digest.h"

int
redis_scripts_sha1(const char *text, size_t len, char out[REDIS_SCRIPTS_SHA_LEN + 1]) {
    return sha1_hex(text, len, out);
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
