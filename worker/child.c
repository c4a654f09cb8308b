#include "worker/child.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <uv.h>

#include "common/exits.h"
#include "common/log.h"
#include "common/signals.h"
#include "worker/hooks.h"
#include "worker/membudget.h"
#include "worker/runner.h"
#include "worker/stopwords.h"
#include "worker/tokenize.h"

struct child {
    uv_loop_t loop;
    const struct config *cfg;
    runner_t *runner;
    hooks_t *hooks[CONFIG_REDIS_SHARDS_MAX]; /* webhook deliveries, one per shard */
    int nhooks;
    int hooks_open; /* not yet closed */
    struct signals signals;
    bool stopping;
};

static void
on_hooks_closed(void *arg) {
    struct child *c = arg;
    if (--c->hooks_open == 0) signals_close(&c->signals);
}

static void
on_runner_closed(runner_t *r, void *arg) {
    (void)r;
    struct child *c = arg;
    c->runner = NULL;
    if (c->nhooks == 0) {
        signals_close(&c->signals);
        return;
    }
    c->hooks_open = c->nhooks;
    for (int i = 0; i < c->nhooks; i++) hooks_close(c->hooks[i], on_hooks_closed, c);
}

/* open_hooks starts one hooks_t per shard; -1 (none left open) when one
 * cannot start. */
static int
open_hooks(struct child *c, char *err, size_t errlen) {
    int n = c->cfg->redis_shards > 0 ? c->cfg->redis_shards : 1;
    for (c->nhooks = 0; c->nhooks < n; c->nhooks++) {
        c->hooks[c->nhooks] = hooks_new(&c->loop, c->cfg, c->nhooks, err, errlen);
        if (!c->hooks[c->nhooks]) break;
    }
    if (c->nhooks == n) return 0;
    for (int i = 0; i < c->nhooks; i++) hooks_close(c->hooks[i], NULL, NULL);
    c->nhooks = 0;
    return -1;
}

static void
on_drained(runner_t *r, void *arg) {
    struct child *c = arg;
    log_info("msg=\"drained\"");
    runner_close(r, on_runner_closed, c);
}

static void
on_signal(int signum, void *arg) {
    struct child *c = arg;
    if (!c->runner) return;
    if (c->stopping) {
        /* A second signal hands back at once, a third stops now (what is
         * in flight then is abandoned and delivered again elsewhere). */
        log_info("msg=\"another stop signal\" signal=%d", signum);
        runner_drain(c->runner, 0, NULL, NULL);
        return;
    }
    c->stopping = true;
    for (int i = 0; i < c->nhooks; i++) hooks_stop(c->hooks[i]); /* deliveries in flight go on */
    runner_drain(c->runner, c->cfg->worker_grace_ms, on_drained, c);
}

int
child_run(const struct config *cfg, int index) {
    char role[32];
    snprintf(role, sizeof role, "worker-%d", index);
    log_set_role(role);
    /* A worker process does not outlive its supervisor: if the supervisor
     * is killed (even with SIGKILL), the kernel sends this process SIGTERM
     * and it drains as usual; its leases lapse otherwise. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        log_warn("msg=\"cannot ask for the parent-death signal\" error=%s", log_q(strerror(errno)));
    if (getppid() == 1) {
        log_error("msg=\"supervisor already gone\"");
        return EX_SOFTWARE;
    }

    struct stopwords sw;
    char err[512];
    if (stopwords_load(&sw, cfg->stopwords_file, err, sizeof err) < 0) {
        log_error("msg=\"cannot load stop words\" file=%s error=%s", log_q(cfg->stopwords_file),
                  log_q(err));
        return EX_CONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        log_error("msg=\"curl_global_init failed\"");
        stopwords_free(&sw);
        return EX_SOFTWARE;
    }
    membudget_malloc_setup();

    struct child c = {.cfg = cfg};
    int rc = uv_loop_init(&c.loop);
    if (rc < 0) {
        log_error("msg=\"cannot create loop\" error=%s", log_q(uv_strerror(rc)));
        return EX_SOFTWARE;
    }
    char host[200] = "", consumer[256];
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%ld", host, (long)getpid());
    c.runner = runner_new(&c.loop, cfg, &sw, consumer, err, sizeof err);
    bool hooks_ok = c.runner && open_hooks(&c, err, sizeof err) == 0;
    int status = 0;
    if (c.runner && !hooks_ok) {
        log_error("msg=\"cannot start webhook deliveries\" error=%s", log_q(err));
        runner_close(c.runner, NULL, NULL);
        status = EX_CONFIG;
    } else if (!c.runner) {
        log_error("msg=\"cannot start worker\" error=%s", log_q(err));
        status = EX_CONFIG;
    } else if ((rc = signals_start(&c.signals, &c.loop, on_signal, &c)) < 0) {
        log_error("msg=\"cannot watch signals\" error=%s", log_q(uv_strerror(rc)));
        runner_close(c.runner, NULL, NULL);
        for (int i = 0; i < c.nhooks; i++) hooks_close(c.hooks[i], NULL, NULL);
        status = EX_SOFTWARE;
    } else {
        log_info("msg=\"worker ready\" consumer=%s concurrency=%d", consumer,
                 cfg->worker_concurrency);
    }
    uv_run(&c.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&c.loop);
    if (rc < 0) {
        log_error("msg=\"loop not closed cleanly\" error=%s", log_q(uv_strerror(rc)));
        if (!status) status = EX_SOFTWARE;
    }
    tokenizer_cleanup();
    curl_global_cleanup();
    stopwords_free(&sw);
    if (!status) log_info("msg=\"worker stopped\"");
    return status;
}
