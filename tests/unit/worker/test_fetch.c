/* The fetch policy: which addresses a worker may connect to, for each
 * APP_ENV, from the configuration as config_load builds it. Nothing here
 * opens a socket (tests/unit/worker/test_analysis.c fetches, from
 * loopback only). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "worker/fetch.h"

/* sa builds a socket address from an IPv4 or IPv6 text and a port. */
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

static const char *const envs[] = {"development", "testing", "staging", "production"};

/* load fills c as a program started with APP_ENV=env and the other
 * variables given ("K=V", NULL-terminated) would see it. */
static void
load(struct config *c, const char *env, const char *const *vars) {
    unsetenv("FETCH_ALLOW_PRIVATE");
    unsetenv("FETCH_ALLOW_ADDRESSES");
    setenv("APP_ENV", env, 1);
    setenv("DATABASE_URL", "postgresql://127.0.0.1:1/x", 1); /* required outside dev/test */
    for (const char *const *v = vars; v && *v; v++) putenv((char *)*v);
    char err[512];
    cr_assert_eq(config_load(c, "/dev/null", err, sizeof err), 0, "%s: %s", env, err);
}

/* The policy table: each address, and whether it may be fetched in
 * development and in the other three environments, with no fetch
 * variable set. */
static const struct {
    const char *addr;
    bool dev, others;
} table[] = {
    {"93.184.216.34", true, true}, /* public */
    {"2606:4700::1", true, true},
    {"::ffff:8.8.8.8", true, true},
    {"127.0.0.1", true, false}, /* loopback */
    {"127.3.2.1", true, false},
    {"::1", true, false},
    {"::ffff:127.0.0.1", true, false},
    {"10.1.2.3", true, false}, /* private */
    {"172.16.5.4", true, false},
    {"192.168.1.1", true, false},
    {"fd00::1", true, false},
    {"169.254.169.254", false, false}, /* link-local: cloud metadata */
    {"169.254.0.1", false, false},
    {"::ffff:169.254.169.254", false, false},
    {"fe80::1", false, false},
    {"0.0.0.0", false, false}, /* reserved */
    {"100.64.0.1", false, false},
    {"192.0.2.1", false, false},
    {"198.18.0.1", false, false},
    {"224.0.0.1", false, false},
    {"255.255.255.255", false, false},
    {"::", false, false},
    {"ff02::1", false, false},
    {"2001:db8::1", false, false},
    {"64:ff9b::7f00:1", false, false},
    {"64:ff9b::a9fe:a9fe", false, false},
    {"2002:a00:1::", false, false},
};

Test(fetch, policy_table_for_each_app_env) {
    for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++) {
        struct config c;
        load(&c, envs[e], NULL);
        bool dev = !strcmp(envs[e], "development");
        cr_expect_eq(c.fetch_allow_private, dev, "%s: FETCH_ALLOW_PRIVATE default", envs[e]);
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            bool want = dev ? table[i].dev : table[i].others;
            cr_expect_eq(fetch_addr_allowed(&c, sa(table[i].addr, 80)), want, "%s: %s %s", envs[e],
                         table[i].addr, want ? "refused" : "allowed");
        }
        config_free(&c);
    }
}

Test(fetch, listed_addresses_pass_in_every_env) {
    static const char *const vars[] = {
        "FETCH_ALLOW_ADDRESSES=169.254.169.254, [fe80::1], 100.64.0.0/10, 127.0.0.1:8080", NULL};
    for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++) {
        struct config c;
        load(&c, envs[e], vars);
        bool dev = !strcmp(envs[e], "development");
        cr_expect(fetch_addr_allowed(&c, sa("169.254.169.254", 80)), "%s: listed", envs[e]);
        cr_expect_not(fetch_addr_allowed(&c, sa("169.254.169.253", 80)), "%s: its neighbour",
                      envs[e]);
        cr_expect(fetch_addr_allowed(&c, sa("fe80::1", 443)), "%s: listed v6", envs[e]);
        cr_expect_not(fetch_addr_allowed(&c, sa("fe80::2", 443)), "%s", envs[e]);
        cr_expect(fetch_addr_allowed(&c, sa("100.100.1.1", 80)), "%s: listed network", envs[e]);
        cr_expect(fetch_addr_allowed(&c, sa("127.0.0.1", 8080)), "%s: listed port", envs[e]);
        cr_expect_eq(fetch_addr_allowed(&c, sa("127.0.0.1", 8081)), dev, "%s: another port",
                     envs[e]);
        config_free(&c);
    }
}

Test(fetch, allow_private_lets_loopback_and_private_through_only) {
    static const char *const on[] = {"FETCH_ALLOW_PRIVATE=true", NULL};
    static const char *const off[] = {"FETCH_ALLOW_PRIVATE=false", NULL};
    struct config c;
    load(&c, "production", on);
    cr_expect(fetch_addr_allowed(&c, sa("127.0.0.1", 80)));
    cr_expect(fetch_addr_allowed(&c, sa("10.0.0.1", 80)));
    cr_expect(fetch_addr_allowed(&c, sa("fd00::1", 80)));
    cr_expect_not(fetch_addr_allowed(&c, sa("169.254.169.254", 80)), "link-local stays blocked");
    cr_expect_not(fetch_addr_allowed(&c, sa("fe80::1", 80)));
    cr_expect_not(fetch_addr_allowed(&c, sa("0.0.0.0", 80)), "reserved stays blocked");
    cr_expect_not(fetch_addr_allowed(&c, sa("100.64.0.1", 80)));
    config_free(&c);
    load(&c, "development", off);
    cr_expect_not(fetch_addr_allowed(&c, sa("127.0.0.1", 80)), "development can turn it off");
    cr_expect_not(fetch_addr_allowed(&c, sa("192.168.0.1", 80)));
    cr_expect(fetch_addr_allowed(&c, sa("8.8.8.8", 80)));
    config_free(&c);
}

Test(fetch, never_another_family) {
    struct config c;
    load(&c, "development", NULL);
    struct sockaddr un = {.sa_family = AF_UNIX};
    cr_expect_not(fetch_addr_allowed(&c, &un));
    config_free(&c);
}
