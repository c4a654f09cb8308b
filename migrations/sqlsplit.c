#include "migrations/sqlsplit.h"

#include <ctype.h>
#include <string.h>

static bool
ident_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* dollar_tag_len returns the length of a dollar-quote opener at s ("$$",
 * "$body$"), or 0 when s does not start one. */
static size_t
dollar_tag_len(const char *s) {
    if (s[0] != '$') return 0;
    size_t i = 1;
    if (s[1] != '$') {
        if (!isalpha((unsigned char)s[1]) && s[1] != '_' && (unsigned char)s[1] < 0x80) return 0;
        while (ident_char(s[i]) && s[i] != '$') i++;
        if (s[i] != '$') return 0;
    }
    return i + 1;
}

/* skip_token returns the index just past the lexical element at i when it
 * is a string, quoted identifier, comment or dollar quote, else i. Sets
 * *code when the element is not a comment. */
static size_t
skip_token(const char *s, size_t i, bool *code) {
    char c = s[i];
    if (c == '-' && s[i + 1] == '-') {
        while (s[i] && s[i] != '\n') i++;
        return i;
    }
    if (c == '/' && s[i + 1] == '*') {
        int depth = 1;
        i += 2;
        while (s[i] && depth > 0) {
            if (s[i] == '/' && s[i + 1] == '*') depth++, i += 2;
            else if (s[i] == '*' && s[i + 1] == '/') depth--, i += 2;
            else i++;
        }
        return i;
    }
    if (c == '\'' || c == '"') {
        *code = true;
        bool backslash = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                         (i < 2 || !ident_char(s[i - 2]));
        i++;
        while (s[i]) {
            if (backslash && s[i] == '\\' && s[i + 1]) i += 2;
            else if (s[i] == c && s[i + 1] == c) i += 2;
            else if (s[i] == c) return i + 1;
            else i++;
        }
        return i;
    }
    size_t tag = (c == '$' && (i == 0 || !ident_char(s[i - 1]))) ? dollar_tag_len(s + i) : 0;
    if (tag) {
        *code = true;
        const char *end;
        for (end = s + i + tag; *end; end++)
            if (*end == '$' && strncmp(end, s + i, tag) == 0) return (size_t)(end - s) + tag;
        return (size_t)(end - s);
    }
    return i;
}

bool
sqlsplit_next(const char *sql, size_t *pos, size_t *start, size_t *len) {
    size_t i = *pos;
    while (sql[i]) {
        size_t begin = i;
        bool code = false;
        while (sql[i] && sql[i] != ';') {
            size_t next = skip_token(sql, i, &code);
            if (next == i) {
                if (!isspace((unsigned char)sql[i])) code = true;
                next = i + 1;
            }
            i = next;
        }
        size_t end = i;
        if (sql[i] == ';') i++;
        if (code) {
            *start = begin;
            *len = end - begin;
            *pos = i;
            return true;
        }
    }
    *pos = i;
    return false;
}
