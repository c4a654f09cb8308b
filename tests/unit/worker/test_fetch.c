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
    const char *bad[] = {"127.0.0.1",     "127.255.255.254", "10.1.2.3",      "172.16.0.1",
                         "172.31.255.255", "192.168.1.1",    "169.254.169.254", "100.64.0.1",
                         "100.127.255.255", "0.0.0.0",        "224.0.0.1",     "255.255.255.255",
                         "240.0.0.1",     "192.0.0.1",       "198.18.0.1",    "::1",
                         "::",            "fe80::1",         "fc00::1",       "fd12:3456::1",
                         "ff02::1",       "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1",
                         "64:ff9b::a9fe:a9fe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(blocked(bad[i]), "%s should be blocked", bad[i]);
}

Test(fetch, allows_public_addresses) {
    const char *good[] = {"93.184.216.34", "8.8.8.8",      "172.32.0.1", "100.128.0.1",
                          "1.1.1.1",       "2606:4700::1", "2001:4860:4860::8888",
                          "::ffff:93.184.216.34"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_not(blocked(good[i]), "%s should be allowed", good[i]);
}
