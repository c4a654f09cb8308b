/* The Lua scripts behind common/queue.c and common/queue_work.c.
 *
 * Each state change of a job is one script, so the job hash, the stream,
 * its pending entries list (PEL), the retry and failed sets and the
 * counters never disagree, even when a process dies between two commands.
 * Scripts that touch a job other than KEYS[1] build its key from the
 * prefix in ARGV (fine on a single Redis; documented in README).
 *
 * Ownership rule: a delivery belongs to the worker named in the job's
 * `worker` field while the job is `started` and its `entry` is that
 * delivery. A worker that lost its lease (the job was rescued by another)
 * neither acknowledges nor changes the job. */
#include "common/queue_lua.h"

#include "common/stats.h"

/* Appends {attempt, code, message, at} to the job's JSON error history. */
#define LUA_HISTORY_PUSH                                                                           \
    "local function push_history(key, code, msg, now, worker)\n"                                   \
    "  local h = redis.call('HGET', key, 'history')\n"                                             \
    "  local arr = {}\n"                                                                           \
    "  if h then arr = cjson.decode(h) end\n"                                                      \
    "  if #arr >= 50 then table.remove(arr, 1) end\n"                                              \
    "  local att = tonumber(redis.call('HGET', key, 'attempts') or '0')\n"                         \
    "  table.insert(arr, {attempt = att, code = code, message = msg, at = tonumber(now),"          \
    " worker = worker})\n"                                                                         \
    "  redis.call('HSET', key, 'history', cjson.encode(arr))\n"                                    \
    "end\n"

/* Counts the job's failed attempts of this run by kind: "5 attempts: 3
 * timeout, 2 worker_lost" (kinds in the order they first happened), or
 * nil for fewer than two. The run is the newest history entries whose
 * attempt numbers fall going back (an admin requeue starts again at 1). */
#define LUA_ATTEMPTS_SUMMARY                                                                       \
    "local function attempts_summary(key)\n"                                                       \
    "  local h = redis.call('HGET', key, 'history')\n"                                             \
    "  local arr = h and cjson.decode(h) or {}\n"                                                  \
    "  local first, last = #arr + 1, nil\n"                                                        \
    "  for i = #arr, 1, -1 do\n"                                                                   \
    "    local a = tonumber(arr[i].attempt) or 0\n"                                                \
    "    if a < 1 or (last and a >= last) then break end\n"                                        \
    "    first, last = i, a\n"                                                                     \
    "  end\n"                                                                                      \
    "  if #arr - first < 1 then return nil end\n"                                                  \
    "  local kinds, count = {}, {}\n"                                                              \
    "  for i = first, #arr do\n"                                                                   \
    "    local c = tostring(arr[i].code)\n"                                                        \
    "    if not count[c] then count[c] = 0; table.insert(kinds, c) end\n"                          \
    "    count[c] = count[c] + 1\n"                                                                \
    "  end\n"                                                                                      \
    "  for i, c in ipairs(kinds) do kinds[i] = count[c] .. ' ' .. c end\n"                         \
    "  return (#arr - first + 1) .. ' attempts: ' .. table.concat(kinds, ', ')\n"                  \
    "end\n"

/* True when ARGV-named consumer still holds delivery `entry` of the job. */
#define LUA_OWNS                                                                                   \
    "local function owns(key, entry, consumer)\n"                                                  \
    "  local f = redis.call('HMGET', key, 'status', 'entry', 'worker')\n"                          \
    "  return f[1] == 'started' and f[2] == entry and f[3] == consumer\n"                          \
    "end\n"

/* KEYS: job, stream, stats[, idem]. ARGV: id, url, now[, body hash, idem
 * ttl s]. Returns the entry id; with an idempotency key already used,
 * {"replay", id} when the body hash matches and {"conflict", id} when not
 * (nothing is created then). */
const char QUEUE_LUA_SUBMIT[] =
    "if KEYS[4] then\n"
    "  local v = redis.call('GET', KEYS[4])\n"
    "  if v then\n"
    "    local sep = string.find(v, ' ', 1, true)\n"
    "    local h, id = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)\n"
    "    if h == ARGV[4] then return {'replay', id} end\n"
    "    return {'conflict', id}\n"
    "  end\n"
    "  redis.call('SET', KEYS[4], ARGV[4] .. ' ' .. ARGV[1], 'EX', ARGV[5])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[2], 'status', 'queued',"
    " 'attempts', 0, 'created_at', ARGV[3])\n"
    "local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'entry', e)\n"
    "redis.call('HINCRBY', KEYS[3], 'submitted', 1)\n"
    "return e\n";

/* KEYS: job, stream, stats, failed. ARGV: entry, consumer, now, group,
 * max_attempts, ttl, id. Returns the job hash, or false when there is
 * nothing to run: the job is gone, ended, re-enqueued under another
 * entry, or has used up its attempts (a job whose workers keep dying ends
 * failed with worker_lost). */
const char QUEUE_LUA_START[] = LUA_HISTORY_PUSH LUA_ATTEMPTS_SUMMARY STATS_LUA_RECORD
    "local function drop()\n"
    "  redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "  redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "end\n"
    "local f = redis.call('HMGET', KEYS[1], 'status', 'entry', 'attempts')\n"
    "local st, cur, att = f[1], f[2], tonumber(f[3] or '0')\n"
    "if (not st) or st == 'finished' or st == 'failed' or st == 'canceled' or st == 'retrying'"
    " or (cur and cur ~= ARGV[1]) then\n"
    "  drop()\n"
    "  return false\n"
    "end\n"
    "if att >= tonumber(ARGV[5]) then\n"
    "  local msg = 'the worker running this job was lost (killed, crashed or cut off)'\n"
    "  push_history(KEYS[1], 'worker_lost', msg .. '; giving up', ARGV[3],"
    " redis.call('HGET', KEYS[1], 'worker') or nil)\n"
    "  local sum = attempts_summary(KEYS[1])\n"
    "  msg = msg .. '; giving up' .. (sum and (' after ' .. sum) or '')\n"
    "  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[3],"
    " 'error_code', 'worker_lost', 'error', msg)\n"
    "  redis.call('HDEL', KEYS[1], 'worker', 'next_attempt_at')\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[7])\n"
    "  redis.call('HINCRBY', KEYS[3], 'failed', 1)\n"
    "  redis.call('HINCRBY', KEYS[3], 'failed:worker_lost', 1)\n"
    "  wc_stats_record(KEYS[3], KEYS[1], ARGV[3], 'x')\n"
    "  drop()\n"
    "  return false\n"
    "end\n"
    "if st == 'started' then\n"
    "  redis.call('HINCRBY', KEYS[3], 'rescued', 1)\n"
    "  push_history(KEYS[1], 'worker_lost', 'the worker running this job was lost; running it"
    " again', ARGV[3], redis.call('HGET', KEYS[1], 'worker'))\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'started', 'started_at', ARGV[3],"
    " 'worker', ARGV[2], 'entry', ARGV[1])\n"
    "redis.call('HDEL', KEYS[1], 'next_attempt_at')\n"
    "redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "redis.call('HINCRBY', KEYS[3], 'started', 1)\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS: job, stream, stats. ARGV: entry, now, ttl, group, consumer,
 * summary (JSON kept as the job's result field; "" for none). Returns 1,
 * or 0 when the lease was lost. */
const char QUEUE_LUA_FINISH[] = LUA_OWNS STATS_LUA_RECORD
    "if not owns(KEYS[1], ARGV[1], ARGV[5]) then return 0 end\n"
    "redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'status', 'finished', 'finished_at', ARGV[2])\n"
    "if ARGV[6] and ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[6]) end\n"
    "redis.call('HDEL', KEYS[1], 'next_attempt_at', 'worker')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[3], 'finished', 1)\n"
    "wc_stats_record(KEYS[3], KEYS[1], ARGV[2], 'f')\n"
    "return 1\n";

/* KEYS: job, stream, stats, failed. ARGV: entry, now, ttl, group,
 * consumer, code, message, id. Returns 1, or 0 when the lease was lost. */
const char QUEUE_LUA_FAIL[] = LUA_OWNS LUA_HISTORY_PUSH LUA_ATTEMPTS_SUMMARY STATS_LUA_RECORD
    "if not owns(KEYS[1], ARGV[1], ARGV[5]) then return 0 end\n"
    "redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "push_history(KEYS[1], ARGV[6], ARGV[7], ARGV[2])\n"
    "local sum = attempts_summary(KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[2],"
    " 'error_code', ARGV[6], 'error', ARGV[7] .. (sum and ('; after ' .. sum) or ''))\n"
    "redis.call('HDEL', KEYS[1], 'next_attempt_at', 'worker')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('ZADD', KEYS[4], ARGV[2], ARGV[8])\n"
    "redis.call('HINCRBY', KEYS[3], 'failed', 1)\n"
    "redis.call('HINCRBY', KEYS[3], 'failed:' .. ARGV[6], 1)\n"
    "wc_stats_record(KEYS[3], KEYS[1], ARGV[2], 'x')\n"
    "return 1\n";

/* KEYS: job, stream, stats, retry. ARGV: entry, now, due, group, consumer,
 * code, message, id. Returns 1, or 0 when the lease was lost. */
const char QUEUE_LUA_RETRY[] = LUA_OWNS LUA_HISTORY_PUSH
    "if not owns(KEYS[1], ARGV[1], ARGV[5]) then return 0 end\n"
    "redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "push_history(KEYS[1], ARGV[6], ARGV[7], ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'status', 'retrying', 'next_attempt_at', ARGV[3],"
    " 'error_code', ARGV[6], 'error', ARGV[7])\n"
    "redis.call('HDEL', KEYS[1], 'worker', 'entry')\n"
    "redis.call('ZADD', KEYS[4], ARGV[3], ARGV[8])\n"
    "redis.call('HINCRBY', KEYS[3], 'retried', 1)\n"
    "return 1\n";

/* KEYS: job, stream. ARGV: entry, group, consumer, id. Hands a started
 * job back to the queue at once (a drain that ran out of time): the
 * unfinished attempt is not counted. Returns 1, or 0 when not ours. */
const char QUEUE_LUA_RELEASE[] =
    LUA_OWNS "if not owns(KEYS[1], ARGV[1], ARGV[3]) then return 0 end\n"
             "redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])\n"
             "redis.call('XDEL', KEYS[2], ARGV[1])\n"
             "local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[4])\n"
             "redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', e)\n"
             "redis.call('HDEL', KEYS[1], 'worker', 'started_at')\n"
             "redis.call('HINCRBY', KEYS[1], 'attempts', -1)\n"
             "return 1\n";

/* KEYS: retry, stream. ARGV: now, prefix, limit. Moves due retries back
 * to the stream. Returns how many moved. */
const char QUEUE_LUA_PROMOTE[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,"
    " tonumber(ARGV[3]))\n"
    "local moved = 0\n"
    "for _, id in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  local jk = ARGV[2] .. 'job:' .. id\n"
    "  if redis.call('HGET', jk, 'status') == 'retrying' then\n"
    "    local e = redis.call('XADD', KEYS[2], '*', 'id', id)\n"
    "    redis.call('HSET', jk, 'status', 'queued', 'entry', e)\n"
    "    moved = moved + 1\n"
    "  end\n"
    "end\n"
    "return moved\n";

/* KEYS: stream. ARGV: group, consumer, entry ids... Renews the lease on
 * each delivery this consumer still owns in the PEL (XCLAIM to itself
 * resets the idle time) and returns the ids it no longer owns. */
const char QUEUE_LUA_RENEW[] =
    "local lost = {}\n"
    "for i = 3, #ARGV do\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)\n"
    "  if #p == 1 and p[1][2] == ARGV[2] then\n"
    "    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')\n"
    "  else\n"
    "    table.insert(lost, ARGV[i])\n"
    "  end\n"
    "end\n"
    "return lost\n";

/* KEYS: job, stream, retry, stats. ARGV: now, ttl, group, id. Cancels a
 * job that has not started. Returns the job's status after the call
 * ("canceled" on success), or false when the job is unknown. */
const char QUEUE_LUA_CANCEL[] =
    "local f = redis.call('HMGET', KEYS[1], 'status', 'entry')\n"
    "local st, e = f[1], f[2]\n"
    "if not st then return false end\n"
    "if st ~= 'queued' and st ~= 'retrying' then return st end\n"
    "if e then\n"
    "  redis.call('XACK', KEYS[2], ARGV[3], e)\n"
    "  redis.call('XDEL', KEYS[2], e)\n"
    "end\n"
    "redis.call('ZREM', KEYS[3], ARGV[4])\n"
    "redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1])\n"
    "redis.call('HDEL', KEYS[1], 'next_attempt_at', 'entry')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[4], 'canceled', 1)\n"
    "return 'canceled'\n";

/* KEYS: failed. ARGV: start, stop, prefix. Returns {total, {hash, ...}}
 * newest first; ids whose hash has expired are dropped from the set. */
const char QUEUE_LUA_FAILED_LIST[] =
    "local ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local h = redis.call('HGETALL', ARGV[3] .. 'job:' .. id)\n"
    "  if #h == 0 then redis.call('ZREM', KEYS[1], id) else table.insert(out, h) end\n"
    "end\n"
    "return {redis.call('ZCARD', KEYS[1]), out}\n";

/* KEYS: failed, stream, stats. ARGV: prefix, ids... (or none with
 * ARGV[2] = '*all*' and ARGV[3] = limit). Puts failed jobs back in the
 * queue with a fresh attempt count. Returns how many were requeued. */
const char QUEUE_LUA_FAILED_RETRY[] =
    "local ids\n"
    "if ARGV[2] == '*all*' then\n"
    "  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)\n"
    "else\n"
    "  ids = {}\n"
    "  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end\n"
    "end\n"
    "local n = 0\n"
    "for _, id in ipairs(ids) do\n"
    "  local jk = ARGV[1] .. 'job:' .. id\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  if redis.call('HGET', jk, 'status') == 'failed' then\n"
    "    redis.call('PERSIST', jk)\n"
    "    local e = redis.call('XADD', KEYS[2], '*', 'id', id)\n"
    "    redis.call('HSET', jk, 'status', 'queued', 'entry', e, 'attempts', 0)\n"
    "    redis.call('HDEL', jk, 'started_at', 'finished_at', 'error', 'error_code', 'worker')\n"
    "    redis.call('HINCRBY', KEYS[3], 'requeued', 1)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* KEYS: failed, job. ARGV: id. Deletes a failed job. Returns 1, or 0 when
 * the job is not in the failed state. */
const char QUEUE_LUA_FAILED_DELETE[] = "if redis.call('HGET', KEYS[2], 'status') ~= 'failed' then\n"
                                       "  redis.call('ZREM', KEYS[1], ARGV[1])\n"
                                       "  return 0\n"
                                       "end\n"
                                       "redis.call('DEL', KEYS[2])\n"
                                       "redis.call('ZREM', KEYS[1], ARGV[1])\n"
                                       "return 1\n";
