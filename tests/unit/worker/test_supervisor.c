/* Which child deaths count towards the supervisor's restart backoff. */
#include <criterion/criterion.h>
#include <signal.h>

#include "worker/supervisor.h"

Test(supervisor, kills_from_outside_are_not_crashes) {
    int sigs[] = {SIGKILL, SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        cr_assert_not(supervisor_death_is_crash(0, sigs[i]), "signal %d", sigs[i]);
    cr_assert_not(supervisor_death_is_crash(0, 0), "a clean exit (a drain)");
}

Test(supervisor, crashes_and_error_exits_count) {
    int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGUSR1, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        cr_assert(supervisor_death_is_crash(0, sigs[i]), "signal %d", sigs[i]);
    cr_assert(supervisor_death_is_crash(78, 0), "a bad configuration");
    cr_assert(supervisor_death_is_crash(70, 0), "an internal error");
}
