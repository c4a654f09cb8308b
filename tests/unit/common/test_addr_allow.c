/* FETCH_ALLOW_ADDRESSES: parsing the list and matching addresses. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "common/addr_allow.h"

/* sa builds a socket address from "a.b.c.d" or an IPv6 text and a port. */
static const struct sockaddr *
sa(const char *addr, int port) {
    static struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        cr_assert_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1, "%s", addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        cr_assert_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1, "%s", addr);
    }
    return (const struct sockaddr *)&ss;
}

Test(addr_allow, parses_every_form) {
    struct addr_allow_list l;
    char err[256] = "";
    cr_assert_eq(addr_allow_parse(" 127.0.0.1:8080 ,10.0.0.0/8, 192.168.1.5/32:80,::1,[fd00::]/8,"
                                  "[fe80::1]:443,[2001:db8::/32]:8443,,",
                                  &l, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(l.n, 7);
    cr_expect(l.v[0].family == AF_INET && l.v[0].port == 8080 && l.v[0].prefix == 32);
    cr_expect(l.v[1].family == AF_INET && l.v[1].port == 0 && l.v[1].prefix == 8);
    cr_expect(l.v[2].prefix == 32 && l.v[2].port == 80);
    cr_expect(l.v[3].family == AF_INET6 && l.v[3].prefix == 128 && l.v[3].port == 0);
    cr_expect(l.v[4].family == AF_INET6 && l.v[4].prefix == 8);
    cr_expect(l.v[5].port == 443);
    cr_expect(l.v[6].prefix == 32 && l.v[6].port == 8443);
    cr_assert_eq(addr_allow_parse(NULL, &l, err, sizeof err), 0);
    cr_expect_eq(l.n, 0);
    cr_assert_eq(addr_allow_parse("", &l, err, sizeof err), 0);
    cr_expect_eq(l.n, 0);
}

Test(addr_allow, refuses_what_is_not_an_address) {
    const char *bad[] = {
        "localhost",  "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "10.0.0.0/33", "10.0.0.0/",
        "10.0.0.0/x", "[::1",        "[::1]x",          "::1:80:x",   "1.2.3",       "[127.0.0.1]",
        "2130706433", "0x7f.1",      "[::1]/129"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct addr_allow_list l;
        char err[256] = "";
        cr_expect_lt(addr_allow_parse(bad[i], &l, err, sizeof err), 0, "%s accepted", bad[i]);
        cr_expect_gt(strlen(err), 0, "%s: no reason", bad[i]);
    }
    /* too many entries */
    char many[1024] = "";
    for (int i = 0; i <= ADDR_ALLOW_MAX; i++) strcat(many, "10.0.0.1,");
    struct addr_allow_list l;
    char err[256];
    cr_expect_lt(addr_allow_parse(many, &l, err, sizeof err), 0);
}

Test(addr_allow, matches_address_network_port_and_family) {
    struct addr_allow_list l;
    char err[256];
    cr_assert_eq(
        addr_allow_parse("127.0.0.1:8080,10.1.0.0/16,[fd00::/8]:443,::1", &l, err, sizeof err), 0);
    cr_expect(addr_allow_match(&l, sa("127.0.0.1", 8080)));
    cr_expect_not(addr_allow_match(&l, sa("127.0.0.1", 8081)), "another port");
    cr_expect_not(addr_allow_match(&l, sa("127.0.0.2", 8080)), "another address");
    cr_expect_not(addr_allow_match(&l, sa("::ffff:127.0.0.1", 8080)), "another family");
    cr_expect(addr_allow_match(&l, sa("10.1.255.255", 1)));
    cr_expect(addr_allow_match(&l, sa("10.1.0.0", 80)));
    cr_expect_not(addr_allow_match(&l, sa("10.2.0.0", 80)));
    cr_expect(addr_allow_match(&l, sa("fdff::1", 443)));
    cr_expect_not(addr_allow_match(&l, sa("fdff::1", 80)));
    cr_expect_not(addr_allow_match(&l, sa("fe00::1", 443)));
    cr_expect(addr_allow_match(&l, sa("::1", 9)));
    cr_assert_eq(addr_allow_parse("10.0.0.0/7,172.16.0.0/12", &l, err, sizeof err), 0);
    cr_expect(addr_allow_match(&l, sa("11.255.0.1", 1)), "/7 covers 10 and 11");
    cr_expect_not(addr_allow_match(&l, sa("12.0.0.1", 1)));
    cr_expect(addr_allow_match(&l, sa("172.31.0.1", 1)));
    cr_expect_not(addr_allow_match(&l, sa("172.32.0.1", 1)));
}
