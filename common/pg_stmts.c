/* pg_stmts.c — a connection's prepared statements; see pg_stmts.h. */
#include "common/pg_stmts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* hash is FNV-1a: a quick first test before strcmp. */
static uint64_t
hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int
pg_stmts_find(const struct pg_stmts *c, const char *sql) {
    uint64_t h = hash(sql);
    for (int i = 0; i < PG_STMTS_MAX; i++)
        if (c->s[i].sql && c->s[i].hash == h && strcmp(c->s[i].sql, sql) == 0) return i;
    return -1;
}

int
pg_stmts_add(struct pg_stmts *c, const char *sql) {
    for (int i = 0; i < PG_STMTS_MAX; i++) {
        if (c->s[i].sql) continue;
        c->s[i] = (struct pg_stmt){.sql = xstrdup(sql), .hash = hash(sql), .id = c->next_id++};
        return i;
    }
    return -1;
}

void
pg_stmts_ready(struct pg_stmts *c, int i) {
    c->s[i].ready = true;
}

bool
pg_stmts_is_ready(const struct pg_stmts *c, int i) {
    return i >= 0 && i < PG_STMTS_MAX && c->s[i].sql && c->s[i].ready;
}

void
pg_stmts_forget(struct pg_stmts *c, int i) {
    free(c->s[i].sql);
    c->s[i] = (struct pg_stmt){0};
}

void
pg_stmts_clear(struct pg_stmts *c) {
    for (int i = 0; i < PG_STMTS_MAX; i++)
        if (c->s[i].sql) pg_stmts_forget(c, i);
}

void
pg_stmts_name(const struct pg_stmts *c, int i, char out[PG_STMTS_NAME_MAX]) {
    snprintf(out, PG_STMTS_NAME_MAX, "wc%u", c->s[i].id);
}
