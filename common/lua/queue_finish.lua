-- queue_finish: started -> finished, and the delivery acknowledged.
-- KEYS: job, stream, stats, ts (the minute of now), events, hook, hooks
--       [, page (the page's note: its newest finished job, when, and
--       whether that result has validators), page job (a copy of the job
--       hash as it finished, for max_age answers; it expires with ttl)]
-- ARGV: entry, now, ttl, group, consumer, summary (JSON kept as the job's
--       result field; "" for none), ts ttl, latency bounds, events channel
--       [, validators ("1" or "0"), page ttl, job id]
-- Returns 1, or 0 when the lease was lost.
--!include lib/ack.lua
--!include lib/owns.lua
--!include lib/stats_record.lua
--!include lib/event.lua
--!include lib/hook.lua
if not owns(KEYS[1], ARGV[1], ARGV[5]) then return 0 end
ack(KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'finished', 'finished_at', ARGV[2])
if ARGV[6] and ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[6]) end
redis.call('HDEL', KEYS[1], 'next_attempt_at', 'worker')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[3], 'finished', 1)
wc_stats_finished(KEYS[3], KEYS[4], KEYS[1], ARGV[2], ARGV[7], ARGV[8])
local eid = job_event(KEYS[1], KEYS[5], ARGV[9], 'finished', ARGV[2])
hook_enqueue(KEYS[1], KEYS[6], KEYS[7], 'finished', ARGV[2], eid)
if KEYS[8] then
  redis.call('HSET', KEYS[8], 'job', ARGV[12], 'at', ARGV[2], 'v', ARGV[10])
  redis.call('EXPIRE', KEYS[8], ARGV[11])
  -- COPY (Redis 6.2) copies the hash inside the server, with the ttl
  -- just set on it: no field passes through Lua, and the append-only
  -- file gets one short command.
  redis.call('COPY', KEYS[1], KEYS[9], 'REPLACE')
end
return 1
