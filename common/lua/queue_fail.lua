-- queue_fail: started -> failed for good, into the failed set, and the
-- delivery acknowledged.
-- KEYS: job, stream, stats, failed, ts (the minute of now), events, hook, hooks,
--       the search index of the error code (lib/ix.lua)
-- ARGV: entry, now, ttl, group, consumer, code, message, id, ts ttl, events channel,
--       index floor, index ttl ms
-- The job's error is the message, then the attempts of this run by kind
-- when there were two or more (lib/attempts_summary.lua).
-- Returns 1, or 0 when the lease was lost.
--!include lib/ack.lua
--!include lib/owns.lua
--!include lib/history.lua
--!include lib/attempts_summary.lua
--!include lib/stats_record.lua
--!include lib/event.lua
--!include lib/hook.lua
--!include lib/ix.lua
if not owns(KEYS[1], ARGV[1], ARGV[5]) then return 0 end
ack(KEYS[2], ARGV[4], ARGV[1])
push_history(KEYS[1], ARGV[6], ARGV[7], ARGV[2])
local sum = attempts_summary(KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[2],
           'error_code', ARGV[6], 'error', ARGV[7] .. (sum and ('; after ' .. sum) or ''))
redis.call('HDEL', KEYS[1], 'next_attempt_at', 'worker')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[8])
ix_add(KEYS[9], ARGV[8], ARGV[11], ARGV[12])
redis.call('HINCRBY', KEYS[3], 'failed', 1)
redis.call('HINCRBY', KEYS[3], 'failed:' .. ARGV[6], 1)
wc_stats_second(KEYS[5], ARGV[2], 'x', ARGV[9])
local eid = job_event(KEYS[1], KEYS[6], ARGV[10], 'failed', ARGV[2])
hook_enqueue(KEYS[1], KEYS[7], KEYS[8], 'failed', ARGV[2], eid)
return 1
