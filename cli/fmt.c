#include "cli/fmt.h"

#include <stdio.h>

const char *
fmt_age(int64_t ms, char *out, size_t n) {
    if (ms < 0) ms = 0;
    int64_t s = ms / 1000;
    if (ms < 1000) snprintf(out, n, "%lldms", (long long)ms);
    else if (s < 60) snprintf(out, n, "%llds", (long long)s);
    else if (s < 3600) snprintf(out, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(out, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else snprintf(out, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    return out;
}
