#include "common/keys.h"

#include <stdio.h>
#include <string.h>

int
keys_init(struct keys *k, const char *prefix) {
    if (!prefix || strlen(prefix) > KEYS_PREFIX_MAX) return -1;
    snprintf(k->prefix, sizeof k->prefix, "%s", prefix);
    return 0;
}

static const char *
fmt(const struct keys *k, const char *name, const char *arg, struct keybuf *out) {
    int n = snprintf(out->s, sizeof out->s, "%s%s%s", k->prefix, name, arg ? arg : "");
    if (n < 0 || (size_t)n >= sizeof out->s) return NULL;
    return out->s;
}

const char *
keys_job(const struct keys *k, const char *id, struct keybuf *out) {
    return fmt(k, "job:", id, out);
}

const char *
keys_queue(const struct keys *k, struct keybuf *out) {
    return fmt(k, "queue", NULL, out);
}

const char *
keys_retry(const struct keys *k, struct keybuf *out) {
    return fmt(k, "retry", NULL, out);
}

const char *
keys_failed(const struct keys *k, struct keybuf *out) {
    return fmt(k, "failed", NULL, out);
}

const char *
keys_workers(const struct keys *k, struct keybuf *out) {
    return fmt(k, "workers", NULL, out);
}

const char *
keys_stats(const struct keys *k, struct keybuf *out) {
    return fmt(k, "stats", NULL, out);
}

const char *
keys_idem(const struct keys *k, const char *idem, struct keybuf *out) {
    if (!idem || strlen(idem) > 256) return NULL;
    return fmt(k, "idem:", idem, out);
}
