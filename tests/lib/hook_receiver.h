/* hook_receiver — a webhook receiver for tests: a blocking HTTP server in
 * its own thread on 127.0.0.1 (an ephemeral port) that records every
 * request (path, the Standard Webhooks headers, the body) and answers by
 * path:
 *   /ok/<key>             204
 *   /fail/<n>/<key>       500 for the first <n> requests naming <key>, then 204
 *   /hang/<key>           reads the request and never answers (until stop)
 *   /hang-once/<key>      the first request naming <key> hangs, later ones 204
 * Owns its thread, sockets and records; hook_receiver_stop frees them. */
#ifndef WC_TEST_HOOK_RECEIVER_H
#define WC_TEST_HOOK_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

#define HOOK_RECEIVER_MAX 64

struct hook_request {
    char path[128];
    char id[160];
    char timestamp[32];
    char signature[1024];
    char user_agent[128];
    char content_type[64];
    char *body; /* NUL-terminated */
    size_t len;
};

typedef struct hook_receiver hook_receiver_t;

hook_receiver_t *hook_receiver_start(void);
int hook_receiver_port(const hook_receiver_t *hr);
/* hook_receiver_wait waits up to timeout_ms for n requests whose path
 * starts with prefix; returns how many there are then. */
int hook_receiver_wait(hook_receiver_t *hr, const char *prefix, int n, int timeout_ms);
/* hook_receiver_nth copies the nth (from 0) request whose path starts
 * with prefix into out (out->body is a copy: free it); false if none. */
bool hook_receiver_nth(hook_receiver_t *hr, const char *prefix, int nth, struct hook_request *out);
void hook_receiver_stop(hook_receiver_t *hr);

#endif
