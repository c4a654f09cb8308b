/* redis_url: REDIS_URL as redis_uv and config read it. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "common/redis_url.h"

struct good_url {
    char url[96];
    char host[48];
    int port;
    char user[16];     /* "" for none */
    char password[16]; /* "" for none */
    int db;
    bool tls;
};

ParameterizedTestParameters(redis_url, parses) {
    static struct good_url cases[] = {
        {"redis://127.0.0.1", "127.0.0.1", 6379, "", "", 0, false},
        {"redis://127.0.0.1:6380/3", "127.0.0.1", 6380, "", "", 3, false},
        {"redis://localhost/", "localhost", 6379, "", "", 0, false},
        /* Heroku's form: an empty user, the password only (legacy AUTH). */
        {"rediss://:p4ss@ec2-1-2-3-4.compute-1.amazonaws.com:24680",
         "ec2-1-2-3-4.compute-1.amazonaws.com", 24680, "", "p4ss", 0, true},
        /* Redis 6 ACLs: user and password, percent-decoded. */
        {"rediss://default:a%40b%3Ac@redis.example:6380/1", "redis.example", 6380, "default",
         "a@b:c", 1, true},
        {"REDISS://app:pw@[::1]:7000", "::1", 7000, "app", "pw", 0, true},
    };
    return cr_make_param_array(struct good_url, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct good_url *c, redis_url, parses) {
    struct redis_url u;
    char err[256] = "";
    cr_assert_eq(redis_url_parse(c->url, &u, err, sizeof err), 0, "%s: %s", c->url, err);
    cr_assert_str_eq(u.host, c->host);
    cr_assert_eq(u.port, c->port);
    if (c->user[0]) cr_assert_str_eq(u.user, c->user);
    else cr_assert_null(u.user);
    if (c->password[0]) cr_assert_str_eq(u.password, c->password);
    else cr_assert_null(u.password);
    cr_assert_eq(u.db, c->db);
    cr_assert_eq(u.tls, c->tls);
    redis_url_free(&u);
}

struct bad_url {
    char url[96];
    char msg[40];
};

ParameterizedTestParameters(redis_url, rejects) {
    static struct bad_url cases[] = {
        {"http://127.0.0.1:6379", "scheme"},
        {"rediss//127.0.0.1:6379", "invalid Redis URL"},
        {"redis://", "invalid Redis URL"},
        {"", "invalid Redis URL"},
        {"redis://127.0.0.1:99999", "invalid Redis URL"},
        {"rediss://127.0.0.1:0", "1 to 65535"},
        {"rediss://127.0.0.1:6379/one", "database number"},
        {"rediss://127.0.0.1:6379/1/2", "database number"},
        {"rediss://user@127.0.0.1:6379", "password"},
        {"rediss://127.0.0.1:6379/0?ssl_cert_reqs=none", "REDIS_TLS_VERIFY"},
        {"rediss://127.0.0.1:6379/0#x", "fragment"},
    };
    return cr_make_param_array(struct bad_url, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct bad_url *c, redis_url, rejects) {
    struct redis_url u;
    char err[256] = "";
    cr_assert_eq(redis_url_parse(c->url, &u, err, sizeof err), -1, "%s accepted", c->url);
    cr_assert(strstr(err, c->msg), "%s: %s", c->url, err);
    cr_assert_null(u.host, "nothing to free after a failure");
}

Test(redis_url, messages_never_repeat_the_password) {
    struct redis_url u;
    char err[256] = "";
    cr_assert_eq(redis_url_parse("rediss://u:topsecret@h:6379/x", &u, err, sizeof err), -1);
    cr_assert_null(strstr(err, "topsecret"), "%s", err);
}
