/* lua_scripts — the Lua scripts of common/, embedded at build time.
 *
 * The scripts live in common/lua/, one NAME.lua file each, with their KEYS
 * and ARGV described at the top; shared functions are in common/lua/lib/ and
 * pulled in by "--!include" lines. The Makefile turns them into C strings
 * (common/lua/embed.awk), compiled into the common library: lua_NAME is
 * the text of NAME.lua. Every script gets each key it touches in KEYS[]
 * (common/keys.h builds them), as Redis Cluster requires.
 *
 * queue.c, queue_work.c and queue_wait.c use the queue_* scripts, hosts.c
 * the host_* and robots_* ones, stats.c the stats_* ones. The texts are static and never freed. */
#ifndef WC_LUA_SCRIPTS_H
#define WC_LUA_SCRIPTS_H

#include <stddef.h>

struct lua_script {
    const char *name; /* the file name without .lua */
    const char *text;
};

extern const char lua_queue_submit[];
extern const char lua_queue_start[];
extern const char lua_queue_finish[];
extern const char lua_queue_fail[];
extern const char lua_queue_retry[];
extern const char lua_queue_release[];
extern const char lua_queue_promote[];
extern const char lua_queue_renew[];
extern const char lua_queue_cancel[];
extern const char lua_queue_failed_list[];
extern const char lua_queue_failed_retry[];
extern const char lua_queue_failed_delete[];
extern const char lua_queue_defer[];
extern const char lua_queue_wake[];
extern const char lua_batch_submit[];
extern const char lua_batch_jobs[];
extern const char lua_batch_cancel[];
extern const char lua_host_acquire[];
extern const char lua_host_release[];
extern const char lua_host_view[];
extern const char lua_robots_put[];
extern const char lua_stats_read[];
extern const char lua_stats_incr[];
extern const char lua_job_search[];

/* Every script of common/lua/, for tests. */
extern const struct lua_script common_lua_scripts[];
extern const size_t common_lua_scripts_n;

#endif
