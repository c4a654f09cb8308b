/* The address check run at socket open. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "worker/fetch.h"

static bool
blocked(const char *addr) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        cr_assert_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1, "%s", addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        cr_assert_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1, "%s", addr);
    }
    return fetch_addr_blocked((struct sockaddr *)&ss);
}

Test(fetch, blocks_internal_addresses) {
    const char *bad[] = {"127.0.0.1",
                         "127.255.255.254",
                         "10.1.2.3",
                         "172.16.0.1",
                         "172.31.255.255",
                         "192.168.1.1",
                         "169.254.169.254",
                         "100.64.0.1",
                         "100.127.255.255",
                         "0.0.0.0",
                         "224.0.0.1",
                         "255.255.255.255",
                         "240.0.0.1",
                         "192.0.0.1",
                         "198.18.0.1",
                         "::1",
                         "::",
                         "fe80::1",
                         "fc00::1",
                         "fd12:3456::1",
                         "ff02::1",
                         "::ffff:127.0.0.1",
                         "::ffff:10.0.0.1",
                         "::127.0.0.1",
                         "64:ff9b::a9fe:a9fe",
                         "64:ff9b:1::8.8.8.8",
                         "2002:7f00:1::",
                         "2002:c0a8:101::1",
                         "2001::1",
                         "2001:0:4136:e378::1",
                         "2001:db8::1",
                         "3fff::1",
                         "fec0::1",
                         "100::1",
                         "::ffff:0.0.0.0",
                         "::ffff:255.255.255.255",
                         "::ffff:100.64.0.1",
                         "192.88.99.1",
                         "198.51.100.7",
                         "203.0.113.9",
                         "192.0.2.1",
                         "100.100.100.100",
                         "169.254.0.1",
                         "127.1.2.3",
                         "0.1.2.3",
                         "239.255.255.250"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(blocked(bad[i]), "%s should be blocked", bad[i]);
}

Test(fetch, allows_public_addresses) {
    const char *good[] = {
        "93.184.216.34",    "8.8.8.8",         "172.32.0.1",           "100.128.0.1",
        "1.1.1.1",          "2606:4700::1",    "2001:4860:4860::8888", "::ffff:93.184.216.34",
        "64:ff9b::808:808", "2002:808:808::1", "2a00:1450:4001::1",    "172.15.255.255",
        "192.169.0.1",      "11.0.0.1",        "223.255.255.255",      "169.253.0.1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_not(blocked(good[i]), "%s should be allowed", good[i]);
}

Test(fetch, configuration_decides) {
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[256];
    cr_assert_eq(addr_allow_parse("127.0.0.1:8080", &cfg.fetch_allow_addresses, err, sizeof err),
                 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    cr_expect(fetch_addr_allowed(&cfg, (struct sockaddr *)&in), "listed");
    in.sin_port = htons(8081);
    cr_expect_not(fetch_addr_allowed(&cfg, (struct sockaddr *)&in), "another port");
    inet_pton(AF_INET, "8.8.8.8", &in.sin_addr);
    cr_expect(fetch_addr_allowed(&cfg, (struct sockaddr *)&in), "public");
    inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
    cr_expect_not(fetch_addr_allowed(&cfg, (struct sockaddr *)&in));
    cfg.fetch_allow_private = true;
    cr_expect(fetch_addr_allowed(&cfg, (struct sockaddr *)&in), "FETCH_ALLOW_PRIVATE");
    struct sockaddr un = {.sa_family = AF_UNIX};
    cr_expect_not(fetch_addr_allowed(&cfg, &un), "never another family");
}
