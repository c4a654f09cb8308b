/* queue_lua — the Lua scripts that make each job state change atomic.
 * Used only by queue.c and queue_work.c; see queue_lua.c for each
 * script's KEYS and ARGV. */
#ifndef WC_QUEUE_LUA_H
#define WC_QUEUE_LUA_H

extern const char QUEUE_LUA_SUBMIT[];
extern const char QUEUE_LUA_START[];
extern const char QUEUE_LUA_FINISH[];
extern const char QUEUE_LUA_FAIL[];
extern const char QUEUE_LUA_RETRY[];
extern const char QUEUE_LUA_RELEASE[];
extern const char QUEUE_LUA_PROMOTE[];
extern const char QUEUE_LUA_RENEW[];
extern const char QUEUE_LUA_CANCEL[];
extern const char QUEUE_LUA_FAILED_LIST[];
extern const char QUEUE_LUA_FAILED_RETRY[];
extern const char QUEUE_LUA_FAILED_DELETE[];

#endif
