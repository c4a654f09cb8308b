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

const char *
fmt_ms(double ms, char *out, size_t n) {
    if (ms < 0) snprintf(out, n, "-");
    else if (ms < 999.5) snprintf(out, n, "%.0f ms", ms);
    else if (ms < 9995) snprintf(out, n, "%.2f s", ms / 1000);
    else if (ms < 59950) snprintf(out, n, "%.1f s", ms / 1000);
    else fmt_age((int64_t)(ms / 1000 + 0.5) * 1000, out, n); /* whole seconds */
    return out;
}

const char *
fmt_bytes(double bytes, char *out, size_t n) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 0) {
        snprintf(out, n, "-");
        return out;
    }
    if (bytes < 1023.5) {
        snprintf(out, n, "%.0f B", bytes);
        return out;
    }
    int u = 0;
    for (bytes /= 1024; bytes >= 1023.95 && u < 3; u++) bytes /= 1024;
    snprintf(out, n, "%.1f %s", bytes, units[u]);
    return out;
}
