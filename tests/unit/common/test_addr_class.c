/* The address classes (common/addr_class): every special-purpose range,
 * and the IPv6 forms that carry an IPv4 address. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/in.h>
#include <string.h>

#include "common/addr_class.h"

static enum addr_class
class_of(const char *addr) {
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
    return addr_class((struct sockaddr *)&ss);
}

struct class_case {
    char addr[48];
    enum addr_class want;
};

ParameterizedTestParameters(addr_class, every_range) {
    static struct class_case cases[] = {
        {"93.184.216.34", ADDR_PUBLIC},
        {"8.8.8.8", ADDR_PUBLIC},
        {"1.1.1.1", ADDR_PUBLIC},
        {"11.0.0.1", ADDR_PUBLIC},
        {"172.15.255.255", ADDR_PUBLIC},
        {"172.32.0.1", ADDR_PUBLIC},
        {"192.169.0.1", ADDR_PUBLIC},
        {"100.63.255.255", ADDR_PUBLIC},
        {"100.128.0.1", ADDR_PUBLIC},
        {"169.253.0.1", ADDR_PUBLIC},
        {"169.255.0.1", ADDR_PUBLIC},
        {"223.255.255.255", ADDR_PUBLIC},
        {"2606:4700::1", ADDR_PUBLIC},
        {"2001:4860:4860::8888", ADDR_PUBLIC},
        {"2a00:1450:4001::1", ADDR_PUBLIC},
        {"::ffff:93.184.216.34", ADDR_PUBLIC},
        {"64:ff9b::808:808", ADDR_PUBLIC},
        {"2002:808:808::1", ADDR_PUBLIC},

        {"127.0.0.1", ADDR_LOOPBACK},
        {"127.1.2.3", ADDR_LOOPBACK},
        {"127.255.255.254", ADDR_LOOPBACK},
        {"::1", ADDR_LOOPBACK},
        {"::ffff:127.0.0.1", ADDR_LOOPBACK},

        {"10.1.2.3", ADDR_PRIVATE},
        {"172.16.0.1", ADDR_PRIVATE},
        {"172.31.255.255", ADDR_PRIVATE},
        {"192.168.1.1", ADDR_PRIVATE},
        {"fc00::1", ADDR_PRIVATE},
        {"fd12:3456::1", ADDR_PRIVATE},
        {"::ffff:10.0.0.1", ADDR_PRIVATE},

        {"169.254.169.254", ADDR_LINK_LOCAL},
        {"169.254.0.1", ADDR_LINK_LOCAL},
        {"fe80::1", ADDR_LINK_LOCAL},
        {"febf::1", ADDR_LINK_LOCAL},
        {"::ffff:169.254.169.254", ADDR_LINK_LOCAL},

        {"0.0.0.0", ADDR_RESERVED},
        {"0.1.2.3", ADDR_RESERVED},
        {"100.64.0.1", ADDR_RESERVED},
        {"100.100.100.100", ADDR_RESERVED},
        {"100.127.255.255", ADDR_RESERVED},
        {"192.0.0.1", ADDR_RESERVED},
        {"192.0.2.1", ADDR_RESERVED},
        {"192.88.99.1", ADDR_RESERVED},
        {"198.18.0.1", ADDR_RESERVED},
        {"198.51.100.7", ADDR_RESERVED},
        {"203.0.113.9", ADDR_RESERVED},
        {"224.0.0.1", ADDR_RESERVED},
        {"239.255.255.250", ADDR_RESERVED},
        {"240.0.0.1", ADDR_RESERVED},
        {"255.255.255.255", ADDR_RESERVED},
        {"::", ADDR_RESERVED},
        {"::127.0.0.1", ADDR_RESERVED},
        {"::ffff:0.0.0.0", ADDR_RESERVED},
        {"::ffff:255.255.255.255", ADDR_RESERVED},
        {"::ffff:100.64.0.1", ADDR_RESERVED},
        {"ff02::1", ADDR_RESERVED},
        {"fec0::1", ADDR_RESERVED},
        {"100::1", ADDR_RESERVED},
        {"2001::1", ADDR_RESERVED},
        {"2001:0:4136:e378::1", ADDR_RESERVED},
        {"2001:db8::1", ADDR_RESERVED},
        {"3fff::1", ADDR_RESERVED},
        /* an address behind a translator is public or nothing */
        {"64:ff9b::a9fe:a9fe", ADDR_RESERVED},
        {"64:ff9b::7f00:1", ADDR_RESERVED},
        {"64:ff9b:1::8.8.8.8", ADDR_RESERVED},
        {"2002:7f00:1::", ADDR_RESERVED},
        {"2002:c0a8:101::1", ADDR_RESERVED},
    };
    return cr_make_param_array(struct class_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct class_case *c, addr_class, every_range) {
    enum addr_class got = class_of(c->addr);
    cr_expect_eq(got, c->want, "%s: %s, want %s", c->addr, addr_class_name(got),
                 addr_class_name(c->want));
}

Test(addr_class, other_families_are_reserved) {
    struct sockaddr un = {.sa_family = AF_UNIX};
    cr_expect_eq(addr_class(&un), ADDR_RESERVED);
    cr_expect_str_eq(addr_class_name(ADDR_LINK_LOCAL), "link-local");
}
