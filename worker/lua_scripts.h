/* lua_scripts — the Lua scripts of worker/, embedded at build time from
 * worker/lua/ as common/lua_scripts.h explains: lua_NAME is NAME.lua.
 * worker/hooks.c runs the hooks_* ones. */
#ifndef WC_WORKER_LUA_SCRIPTS_H
#define WC_WORKER_LUA_SCRIPTS_H

#include "common/lua_scripts.h"

extern const char lua_hooks_claim[];
extern const char lua_hooks_done[];

/* Every script of worker/lua/, for tests. */
extern const struct lua_script worker_lua_scripts[];
extern const size_t worker_lua_scripts_n;

#endif
