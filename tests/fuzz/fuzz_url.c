/* fuzz_url — libFuzzer target for what decides where the worker may
 * connect: the URL check (common/url_check, curl's URL API), the address
 * classes the fetch policy judges by (common/addr_class) and the
 * FETCH_ALLOW_ADDRESSES parser (common/addr_allow). `make fuzz` runs it.
 *
 * The input is read three ways, and these must hold:
 *   - as a URL: url_check never crashes; when it accepts, curl parses the
 *     URL again, and a host that is an IP address (curl writes decimal,
 *     octal, hex and short IPv4 forms as a.b.c.d) is public or not
 *     whatever IPv6 form carries it (IPv4-mapped, NAT64, 6to4), and
 *     IPv4-mapped has the IPv4 address's very class;
 *   - as raw address bytes: the same for the first 4 bytes as IPv4, and
 *     the first 16 as IPv6 never crash;
 *   - as an allow-list: every entry the parser accepts matches its own
 *     address and port, and only its own family. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_allow.h"
#include "common/addr_class.h"
#include "common/url_check.h"

static enum addr_class
class4(const uint8_t a[4]) {
    struct sockaddr_in in = {.sin_family = AF_INET};
    memcpy(&in.sin_addr, a, 4);
    return addr_class((struct sockaddr *)&in);
}

static enum addr_class
class6(const uint8_t a[16]) {
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    memcpy(in6.sin6_addr.s6_addr, a, 16);
    return addr_class((struct sockaddr *)&in6);
}

static bool
blocked4(const uint8_t a[4]) {
    return class4(a) != ADDR_PUBLIC;
}

static bool
blocked6(const uint8_t a[16]) {
    return class6(a) != ADDR_PUBLIC;
}

/* check_v4_forms: an IPv4 address is judged alike in every IPv6 dress. */
static void
check_v4_forms(const uint8_t a[4]) {
    bool b = blocked4(a);
    uint8_t six[16] = {0};
    six[10] = six[11] = 0xff; /* ::ffff:a.b.c.d */
    memcpy(six + 12, a, 4);
    if (class6(six) != class4(a)) abort();
    memset(six, 0, 16); /* 64:ff9b::a.b.c.d */
    six[1] = 0x64, six[2] = 0xff, six[3] = 0x9b;
    memcpy(six + 12, a, 4);
    if (blocked6(six) != b) abort();
    memset(six, 0, 16); /* 2002:a.b.c.d:: */
    six[0] = 0x20, six[1] = 0x02;
    memcpy(six + 2, a, 4);
    if (blocked6(six) != b) abort();
    memset(six, 0, 16); /* ::a.b.c.d, deprecated: always refused */
    memcpy(six + 12, a, 4);
    if (!blocked6(six)) abort();
}

static void
check_url(const char *url) {
    char err[256];
    if (url_check(url, err, sizeof err) < 0) {
        if (!err[0]) abort(); /* a refusal always says why */
        return;
    }
    CURLU *u = curl_url();
    if (!u) return;
    char *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) abort(); /* url_check said yes */
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        uint8_t a[16];
        size_t n = strlen(host);
        if (inet_pton(AF_INET, host, a) == 1) {
            check_v4_forms(a);
            if (a[0] == 127 && !blocked4(a)) abort();
        } else if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
            host[n - 1] = '\0';
            char *zone = strchr(host + 1, '%');
            if (zone) *zone = '\0';
            if (inet_pton(AF_INET6, host + 1, a) == 1) (void)blocked6(a);
        }
    }
    curl_free(host);
    curl_url_cleanup(u);
}

static void
check_allow_list(const char *s) {
    struct addr_allow_list l;
    char err[256];
    if (addr_allow_parse(s, &l, err, sizeof err) < 0) {
        if (!err[0]) abort();
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        struct addr_allow_list one = {.n = 1, .v = {l.v[i]}};
        const struct addr_allow *e = &l.v[i];
        uint16_t port = e->port ? e->port : 80;
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        memcpy(&in.sin_addr, e->addr, 4);
        memcpy(in6.sin6_addr.s6_addr, e->addr, 16);
        const struct sockaddr *own =
            e->family == AF_INET ? (struct sockaddr *)&in : (struct sockaddr *)&in6;
        const struct sockaddr *other =
            e->family == AF_INET ? (struct sockaddr *)&in6 : (struct sockaddr *)&in;
        if (e->prefix < 0 || e->prefix > (e->family == AF_INET ? 32 : 128)) abort();
        if (!addr_allow_match(&one, own) || addr_allow_match(&one, other)) abort();
        if (e->port) { /* another port does not match */
            in.sin_port = in6.sin6_port = htons((uint16_t)(port == 1 ? 2 : port - 1));
            if (addr_allow_match(&one, own)) abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    check_url(s);
    check_allow_list(s);
    free(s);
    if (size >= 4) check_v4_forms(data);
    if (size >= 16) (void)blocked6(data);
    return 0;
}
