/* luacheck — checks a tree's embedded Lua scripts (common/lua_scripts.h)
 * against its lua/ folder and the test Redis: every NAME.lua file is in
 * the table and every table entry has its file; each text is whole (its
 * "--!include" lines were replaced) and Redis compiles it (SCRIPT LOAD).
 * Fails the current Criterion test otherwise. */
#ifndef WC_TEST_LUACHECK_H
#define WC_TEST_LUACHECK_H

#include <stddef.h>

#include "common/lua_scripts.h"

/* luacheck_scripts checks scripts[0..n) against the folder dir (relative
 * to the source tree, e.g. "common/lua"). */
void luacheck_scripts(const struct lua_script *scripts, size_t n, const char *dir);

#endif
