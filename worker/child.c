#include "worker/child.h"

#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <signal.h>
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

struct child {
    uv_loop_t loop;
    const struct config *cfg;
    runner_t *runner;
    hooks_t *hooks; /* webhook deliveries, beside the jobs */
    struct signals signals;
    bool stopping;
};

static void
on_hooks_closed(void *arg) {
    struct child *c = arg;
    c->hooks = NULL;
    signals_close(&c->signals);
}

static void
on_runner_closed(runner_t *r, void *arg) {
    (void)r;
    struct child *c = arg;
    c->runner = NULL;
    if (c->hooks) hooks_close(c->hooks, on_hooks_closed, c);
    else signals_close(&c->signals);
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
    if (c->hooks) hooks_stop(c->hooks); /* deliveries in flight go on */
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
    xmlInitParser();
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
    if (c.runner) c.hooks = hooks_new(&c.loop, cfg, err, sizeof err);
    int status = 0;
    if (c.runner && !c.hooks) {
        log_error("msg=\"cannot start webhook deliveries\" error=%s", log_q(err));
        runner_close(c.runner, NULL, NULL);
        status = EX_CONFIG;
    } else if (!c.runner) {
        log_error("msg=\"cannot start worker\" error=%s", log_q(err));
        status = EX_CONFIG;
    } else if ((rc = signals_start(&c.signals, &c.loop, on_signal, &c)) < 0) {
        log_error("msg=\"cannot watch signals\" error=%s", log_q(uv_strerror(rc)));
        runner_close(c.runner, NULL, NULL);
        hooks_close(c.hooks, NULL, NULL);
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
    xmlCleanupParser();
    curl_global_cleanup();
    stopwords_free(&sw);
    if (!status) log_info("msg=\"worker stopped\"");
    return status;
}
