/* The Lua scripts of cli/lua/ are all embedded and all compile. */
#include <criterion/criterion.h>

#include "cli/lua_scripts.h"
#include "tests/lib/luacheck.h"

Test(lua, every_script_is_embedded_and_loads, .timeout = 30) {
    luacheck_scripts(cli_lua_scripts, cli_lua_scripts_n, "cli/lua");
}
