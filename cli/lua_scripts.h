/* lua_scripts — the Lua scripts of cli/, embedded at build time from
 * cli/lua/ as common/lua_scripts.h explains: lua_NAME is NAME.lua. */
#ifndef WC_CLI_LUA_SCRIPTS_H
#define WC_CLI_LUA_SCRIPTS_H

#include "common/lua_scripts.h"

extern const char lua_purge_finished[];

/* Every script of cli/lua/, for tests. */
extern const struct lua_script cli_lua_scripts[];
extern const size_t cli_lua_scripts_n;

#endif
