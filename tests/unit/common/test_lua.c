/* The Lua scripts of common/lua/ are all embedded and all compile. */
#include <criterion/criterion.h>

#include "common/lua_scripts.h"
#include "tests/lib/luacheck.h"

Test(lua, every_script_is_embedded_and_loads, .timeout = 30) {
    luacheck_scripts(common_lua_scripts, common_lua_scripts_n, "common/lua");
}
