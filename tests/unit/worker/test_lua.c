/* The Lua scripts of worker/lua/ are all embedded and all compile. */
#include <criterion/criterion.h>

#include "tests/lib/luacheck.h"
#include "worker/lua_scripts.h"

Test(lua, every_script_is_embedded_and_loads, .timeout = 30) {
    luacheck_scripts(worker_lua_scripts, worker_lua_scripts_n, "worker/lua");
}
