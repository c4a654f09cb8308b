#include "worker/html_style.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool
css_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* word_is compares s[0..n) with a lower-case keyword, ignoring case. */
static bool
word_is(const char *s, size_t n, const char *kw) {
    return strlen(kw) == n && !strncasecmp(s, kw, n);
}

struct style_says
html_style_read(const char *s, size_t n) {
    struct style_says says = {SHOWN_UNSAID, SHOWN_UNSAID};
    bool display_important = false, visibility_important = false;
    if (n == 0) return says; /* <div style>: s may be NULL */
    const char *stop = s + n;
    while (s < stop) {
        const char *semi = memchr(s, ';', (size_t)(stop - s));
        const char *end = semi ? semi : stop;
        const char *colon = memchr(s, ':', (size_t)(end - s));
        if (colon) {
            const char *name = s, *value = colon + 1;
            while (name < colon && css_space(*name)) name++;
            const char *name_end = colon;
            while (name_end > name && css_space(name_end[-1])) name_end--;
            while (value < end && css_space(*value)) value++;
            while (end > value && css_space(end[-1])) end--;
            bool important = false;
            const char *bang = memchr(value, '!', (size_t)(end - value));
            if (bang) {
                const char *kw = bang + 1;
                while (kw < end && css_space(*kw)) kw++;
                important = word_is(kw, (size_t)(end - kw), "important");
                end = bang;
                while (end > value && css_space(end[-1])) end--;
            }
            size_t nlen = (size_t)(name_end - name), vlen = (size_t)(end - value);
            if (vlen && word_is(name, nlen, "display") && (important || !display_important)) {
                says.display = word_is(value, vlen, "none") ? SHOWN_NO : SHOWN_YES;
                display_important = important;
            } else if (vlen && word_is(name, nlen, "visibility") &&
                       (important || !visibility_important)) {
                if (word_is(value, vlen, "hidden") || word_is(value, vlen, "collapse"))
                    says.visibility = SHOWN_NO, visibility_important = important;
                else if (word_is(value, vlen, "visible") || word_is(value, vlen, "initial"))
                    says.visibility = SHOWN_YES, visibility_important = important;
            }
        }
        s = semi ? semi + 1 : stop;
    }
    return says;
}
