#include "common/robots.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* Longer lines are cut here: no real rule is this long, and it bounds
 * the matcher's work per rule. */
#define LINE_MAX_BYTES 4096

struct rule {
    char *pattern; /* normalised */
    size_t len;
    bool allow;
};

struct rules {
    struct rule *v;
    size_t n, cap;
    long crawl_delay_ms; /* -1: none */
};

struct robots {
    struct rules group;
};

void
robots_agent_token(const char *user_agent, char *out, size_t n) {
    size_t i = 0;
    while (
        user_agent && i + 1 < n &&
        (isalpha((unsigned char)user_agent[i]) || user_agent[i] == '_' || user_agent[i] == '-')) {
        out[i] = user_agent[i];
        i++;
    }
    if (n) out[i] = '\0';
}

static int
hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool
unreserved(int c) {
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* normalise writes s (n bytes) with percent-encoding in one form:
 * escapes of unreserved characters decoded, other escapes upper-case,
 * bytes outside printable ASCII escaped. */
static void
normalise(const char *s, size_t n, struct buf *out) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            int v = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            if (unreserved(v)) {
                buf_append_char(out, (char)v);
            } else {
                char e[3] = {'%', hex[v >> 4], hex[v & 15]};
                buf_append(out, e, 3);
            }
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(out, e, 3);
        } else {
            buf_append_char(out, (char)c);
        }
    }
}

static void
rules_add(struct rules *rs, const char *pattern, size_t n, bool allow) {
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 8;
        rs->v = xrealloc(rs->v, rs->cap * sizeof *rs->v);
    }
    struct buf b;
    buf_init(&b);
    normalise(pattern, n, &b);
    /* buf keeps data NUL-terminated; an empty buf has no data yet. */
    rs->v[rs->n].len = b.len;
    rs->v[rs->n].pattern = b.data ? buf_steal(&b) : xstrdup("");
    rs->v[rs->n].allow = allow;
    rs->n++;
}

static void
rules_free(struct rules *rs) {
    for (size_t i = 0; i < rs->n; i++) free(rs->v[i].pattern);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

static const char *
trim(const char *s, const char *end, const char **out_end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *out_end = end;
    return s;
}

/* The parser's state across lines (RFC 9309 2.1: a group is user-agent
 * lines followed by rules; a user-agent line after a rule starts the
 * next group). */
struct parse {
    const char *agent;
    bool in_agents;    /* the last key line was a user-agent line */
    bool group_ours;   /* the current group names our token */
    bool group_star;   /* the current group names "*" */
    struct rules ours; /* rules of every group naming our token */
    struct rules star; /* rules of every "*" group */
    bool seen_ours;    /* some group names our token (even without rules) */
};

static bool
agent_matches(const char *v, const char *vend, const char *agent) {
    size_t n = 0;
    while (v + n < vend && (isalpha((unsigned char)v[n]) || v[n] == '_' || v[n] == '-')) n++;
    return n > 0 && n == strlen(agent) && strncasecmp(v, agent, n) == 0;
}

static long
parse_delay_ms(const char *v, const char *vend) {
    char tmp[32];
    size_t n = (size_t)(vend - v);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char *end;
    double s = strtod(tmp, &end);
    if (end == tmp || *end != '\0' || !(s >= 0) || s > 86400) return -1;
    return (long)(s * 1000);
}

static void
parse_line(struct parse *p, const char *line, const char *end) {
    const char *hash = memchr(line, '#', (size_t)(end - line));
    if (hash) end = hash;
    const char *colon = memchr(line, ':', (size_t)(end - line));
    if (!colon) return;
    const char *kend, *vend;
    const char *k = trim(line, colon, &kend);
    const char *v = trim(colon + 1, end, &vend);
    size_t klen = (size_t)(kend - k);
#define KEY(name) (klen == sizeof name - 1 && strncasecmp(k, name, klen) == 0)
    if (KEY("user-agent")) {
        if (!p->in_agents) p->group_ours = p->group_star = false;
        p->in_agents = true;
        if (agent_matches(v, vend, p->agent)) {
            p->group_ours = true;
            p->seen_ours = true;
        } else if (v < vend && *v == '*') {
            p->group_star = true;
        }
        return;
    }
    bool allow = KEY("allow"), disallow = KEY("disallow"), delay = KEY("crawl-delay");
    if (!allow && !disallow && !delay) return; /* sitemap and unknown keys: not group lines */
    p->in_agents = false;
    struct rules *targets[2] = {p->group_ours ? &p->ours : NULL, p->group_star ? &p->star : NULL};
    for (int i = 0; i < 2; i++) {
        if (!targets[i]) continue;
        if (delay) {
            long ms = parse_delay_ms(v, vend);
            if (ms >= 0 && targets[i]->crawl_delay_ms < 0) targets[i]->crawl_delay_ms = ms;
        } else if (v < vend) {
            rules_add(targets[i], v, (size_t)(vend - v), allow);
        }
    }
#undef KEY
}

struct robots *
robots_parse(const char *text, size_t len, const char *agent) {
    struct parse p = {.agent = agent ? agent : ""};
    p.ours.crawl_delay_ms = p.star.crawl_delay_ms = -1;
    if (len > ROBOTS_MAX_BYTES) len = ROBOTS_MAX_BYTES;
    const char *s = text, *end = text + len;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3;
    while (s < end) {
        const char *eol = s;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        const char *cut = eol - s > LINE_MAX_BYTES ? s + LINE_MAX_BYTES : eol;
        parse_line(&p, s, cut);
        s = eol;
        if (s < end && *s == '\r') {
            s++;
            if (s < end && *s == '\n') s++;
        } else if (s < end) {
            s++;
        }
    }
    struct robots *r = xcalloc(1, sizeof *r);
    if (p.seen_ours) {
        r->group = p.ours;
        rules_free(&p.star);
    } else {
        r->group = p.star;
        rules_free(&p.ours);
    }
    return r;
}

void
robots_free(struct robots *r) {
    if (!r) return;
    rules_free(&r->group);
    free(r);
}

/* match tells whether pattern (with "*" and a final "$") matches a
 * prefix of path, or all of it when anchored. Iterative, with one
 * backtrack point per star: O(len(pattern) * len(path)) at worst. */
static bool
match(const char *pat, size_t plen, const char *path) {
    bool anchored = plen > 0 && pat[plen - 1] == '$';
    if (anchored) plen--;
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    size_t slen = strlen(path);
    for (;;) {
        if (pi == plen) {
            if (!anchored || si == slen) return true;
        } else if (pat[pi] == '*') {
            star = pi++;
            mark = si;
            continue;
        } else if (si < slen && pat[pi] == path[si]) {
            pi++, si++;
            continue;
        }
        /* Mismatch (or anchored with path left): widen the last star. */
        if (star == (size_t)-1 || mark >= slen) return false;
        pi = star + 1;
        si = ++mark;
    }
}

void
robots_check(const struct robots *r, const char *path, struct robots_verdict *v) {
    v->allowed = true;
    v->rule[0] = '\0';
    if (!path || !*path) path = "/";
    struct buf norm;
    buf_init(&norm);
    normalise(path, strlen(path), &norm);
    const char *p = norm.data ? norm.data : "/";
    if (strcmp(p, "/robots.txt") == 0) {
        buf_free(&norm);
        return;
    }
    const struct rule *best = NULL;
    for (size_t i = 0; r && i < r->group.n; i++) {
        const struct rule *ru = &r->group.v[i];
        if (!match(ru->pattern, ru->len, p)) continue;
        if (!best || ru->len > best->len || (ru->len == best->len && ru->allow && !best->allow))
            best = ru;
    }
    if (best) {
        v->allowed = best->allow;
        snprintf(v->rule, sizeof v->rule, "%s: %.140s", best->allow ? "Allow" : "Disallow",
                 best->pattern);
    }
    buf_free(&norm);
}

long
robots_crawl_delay_ms(const struct robots *r) {
    return r ? r->group.crawl_delay_ms : -1;
}

size_t
robots_nrules(const struct robots *r) {
    return r ? r->group.n : 0;
}
