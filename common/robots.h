/* robots — robots.txt as RFC 9309 reads it: parsing and matching, no I/O.
 *
 * Owns: struct robots, the rules of the one group that applies to our
 * product token (groups naming it, merged; else the "*" groups, merged;
 * else none: everything allowed), and its Crawl-delay (not in the RFC,
 * but what site owners write to slow crawlers down; Heritrix, Nutch and
 * Scrapy honour it). robots_parse allocates, robots_free releases.
 *
 * The rules of RFC 9309 this follows:
 *   - lines end at CR, LF or CRLF; "#" starts a comment; a UTF-8 BOM is
 *     skipped; keys are case-insensitive; lines that are not
 *     "key: value" are ignored;
 *   - a group is one or more user-agent lines and the rules after them;
 *     a user-agent line matches when its product token (the leading
 *     letters, "_" and "-") equals ours, case-insensitively;
 *   - Allow and Disallow patterns match the path and query from their
 *     start; "*" matches any sequence, "$" at the end anchors the end;
 *     the longest pattern (in octets) wins, and Allow wins a tie; an
 *     empty pattern is no rule;
 *   - percent-encoding is compared normalised: unreserved characters
 *     decoded, other escapes upper-case, bytes outside ASCII escaped;
 *   - /robots.txt itself is always allowed.
 * The caller parses at most ROBOTS_MAX_BYTES (the RFC's 500 KiB). */
#ifndef WC_ROBOTS_H
#define WC_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>

#define ROBOTS_MAX_BYTES (500 * 1024)

struct robots;

/* The answer for one path: allowed or not, and the rule that decided
 * ("Disallow: /private/"), empty when no rule matched. */
struct robots_verdict {
    bool allowed;
    char rule[160];
};

/* robots_agent_token writes the product token of a User-Agent
 * ("wordcount/1.0 (+https://…)" -> "wordcount"), at most n - 1 bytes. */
void robots_agent_token(const char *user_agent, char *out, size_t n);
/* robots_parse reads text (len bytes, not NUL-terminated) for the
 * product token agent. Never fails: garbage gives no rules. */
struct robots *robots_parse(const char *text, size_t len, const char *agent);
void robots_free(struct robots *r);
/* robots_check judges path (the URL's path and query, "/" when empty). */
void robots_check(const struct robots *r, const char *path, struct robots_verdict *v);
/* robots_crawl_delay_ms is the group's Crawl-delay in ms, -1 when none. */
long robots_crawl_delay_ms(const struct robots *r);
/* robots_nrules counts the rules of the group that applies (for logs). */
size_t robots_nrules(const struct robots *r);

#endif
