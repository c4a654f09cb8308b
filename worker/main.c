/* wordcount-worker: without arguments, the supervisor that keeps
 * WORKER_PROCESSES children running; with `--child N`, one worker process
 * (one libuv loop, up to WORKER_CONCURRENCY jobs in flight). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/config.h"
#include "common/log.h"
#include "common/signals.h"
#include "worker/child.h"
#include "worker/supervisor.h"

int
main(int argc, char **argv) {
    /* A stop signal during start-up waits for the loop: it means "drain". */
    signals_block();
    log_init("supervisor", LOG_INFO);
    struct config cfg;
    char err[512];
    if (config_load(&cfg, NULL, err, sizeof err) < 0) {
        log_error("msg=\"bad configuration\" error=%s", log_q(err));
        return EX_CONFIG_CODE;
    }
    log_threshold = (enum log_level)cfg.log_level;
    int status;
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        status = child_run(&cfg, atoi(argv[2]));
    } else if (argc == 1) {
        char exe[PATH_MAX];
        size_t len = sizeof exe;
        int rc = uv_exepath(exe, &len);
        if (rc < 0) {
            log_error("msg=\"cannot find own executable\" error=%s", log_q(uv_strerror(rc)));
            status = 70;
        } else {
            status = supervisor_run(&cfg, exe) < 0 ? 70 : 0;
        }
    } else {
        fprintf(stderr,
                "usage: %s            run the supervisor (WORKER_PROCESSES children)\n"
                "       %s --child N  run one worker process\n",
                argv[0], argv[0]);
        status = 2;
    }
    config_free(&cfg);
    return status;
}
