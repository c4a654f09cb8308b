/* servers — a private redis-server and a private Postgres for tests that
 * stop, crash and restart them (outages, chaos, scale-out).
 *
 * Owns: each server's folder (made under /tmp, removed by _free), its
 * port (chosen free once, kept across restarts so clients reconnect to
 * the same address) and its process. Both run as direct children of the
 * test process (Postgres as user postgres when we are root), so the test
 * reaps them and nothing outlives it. They listen on the address given
 * (127.0.0.1, or an address inside the caller's network namespace) and
 * keep their data across restarts: Redis with its append-only file on,
 * Postgres in its cluster folder (fsync off: a crash of the server
 * process keeps what the kernel holds, which is all these tests need).
 *
 * TLS: a test that sets tls_cert and tls_key (and for Postgres tls_ca)
 * before the first start gets a server that speaks TLS only: Redis on its
 * --tls-port with --port 0 (the URL is rediss://), Postgres with ssl=on
 * and every TCP client refused without TLS (the URL asks for
 * sslmode=verify-full against tls_ca). The certificates come from
 * tests/lib/testca.
 *
 * The functions fail the current Criterion test when a server cannot
 * start; _stop and _free never fail. */
#ifndef WC_TEST_SERVERS_H
#define WC_TEST_SERVERS_H

#include <stdbool.h>
#include <sys/types.h>

struct redis_srv {
    char dir[64];
    char bind[64];
    int port;
    pid_t pid;
    char url[128]; /* redis://ADDR:PORT/0, or rediss:// */
    /* Optional, set before the first start: TLS with this certificate and
     * key, and more redis-server arguments (NULL-terminated; an ACL user:
     * "--user", "alice", "on", ">secret", "~*", "+@all"). */
    const char *tls_cert, *tls_key;
    const char *extra[16];
};

struct pg_srv {
    char dir[64];
    char bind[64];
    int port;
    pid_t pid;
    char url[256]; /* the superuser on database postgres */
    /* Optional, set before the first start: TLS with this certificate and
     * key, verified by clients against tls_ca. */
    const char *tls_cert, *tls_key, *tls_ca;
    /* Optional, set before the first start: the server is made a hot
     * standby streaming from this (running) primary, by pg_basebackup -R
     * instead of initdb. */
    const struct pg_srv *replica_of;
};

/* redis_srv_start starts (the first time: creates) the server on bind. */
void redis_srv_start(struct redis_srv *r, const char *bind);
/* redis_srv_stop stops it with sig (SIGTERM saves first; SIGKILL does not)
 * and waits. */
void redis_srv_stop(struct redis_srv *r, int sig);
/* redis_srv_free stops it if running and removes its folder. */
void redis_srv_free(struct redis_srv *r);

/* pg_srv_start starts (the first time: initdb's) the cluster on bind. */
void pg_srv_start(struct pg_srv *p, const char *bind);
/* pg_srv_stop stops the postmaster with sig (SIGINT fast, SIGQUIT
 * immediate, as a crash) and waits. */
void pg_srv_stop(struct pg_srv *p, int sig);
void pg_srv_free(struct pg_srv *p);

/* servers_free_port returns a TCP port nothing listens on at addr. */
int servers_free_port(const char *addr);

#endif
