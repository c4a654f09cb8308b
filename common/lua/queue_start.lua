-- queue_start: queued (or started, when rescued from a lost worker) ->
-- started, attempts + 1.
-- KEYS: job, stream, stats, failed, ts (the minute of now), events, hook, hooks,
--       the search index of error code worker_lost (lib/ix.lua)
-- ARGV: entry, consumer, now, group, max_attempts, ttl, id, ts ttl, events channel,
--       index floor, index ttl ms
-- Returns the job hash, or false when there is nothing to run: the job is
-- gone, ended, re-enqueued under another entry, or has used up its
-- attempts (a job whose workers keep dying ends failed with worker_lost).
--!include lib/ack.lua
--!include lib/history.lua
--!include lib/attempts_summary.lua
--!include lib/stats_record.lua
--!include lib/event.lua
--!include lib/hook.lua
--!include lib/ix.lua
local function drop() ack(KEYS[2], ARGV[4], ARGV[1]) end
local f = redis.call('HMGET', KEYS[1], 'status', 'entry', 'attempts')
local st, cur, att = f[1], f[2], tonumber(f[3] or '0')
if (not st) or st == 'finished' or st == 'failed' or st == 'canceled' or st == 'retrying'
    or st == 'waiting'
    or (cur and cur ~= ARGV[1]) then
  drop()
  return false
end
if att >= tonumber(ARGV[5]) then
  local msg = 'the worker running this job was lost (killed, crashed or cut off)'
  push_history(KEYS[1], 'worker_lost', msg .. '; giving up', ARGV[3],
               redis.call('HGET', KEYS[1], 'worker') or nil)
  local sum = attempts_summary(KEYS[1])
  msg = msg .. '; giving up' .. (sum and (' after ' .. sum) or '')
  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[3],
             'error_code', 'worker_lost', 'error', msg)
  redis.call('HDEL', KEYS[1], 'worker', 'next_attempt_at')
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[7])
  ix_add(KEYS[9], ARGV[7], ARGV[10], ARGV[11])
  redis.call('HINCRBY', KEYS[3], 'failed', 1)
  redis.call('HINCRBY', KEYS[3], 'failed:worker_lost', 1)
  wc_stats_second(KEYS[5], ARGV[3], 'x', ARGV[8])
  local eid = job_event(KEYS[1], KEYS[6], ARGV[9], 'failed', ARGV[3])
  hook_enqueue(KEYS[1], KEYS[7], KEYS[8], 'failed', ARGV[3], eid)
  drop()
  return false
end
if st == 'started' then
  redis.call('HINCRBY', KEYS[3], 'rescued', 1)
  push_history(KEYS[1], 'worker_lost', 'the worker running this job was lost; running it again',
               ARGV[3], redis.call('HGET', KEYS[1], 'worker'))
end
redis.call('HSET', KEYS[1], 'status', 'started', 'started_at', ARGV[3],
           'worker', ARGV[2], 'entry', ARGV[1])
redis.call('HDEL', KEYS[1], 'next_attempt_at', 'waiting')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HINCRBY', KEYS[3], 'started', 1)
job_event(KEYS[1], KEYS[6], ARGV[9], 'started', ARGV[3])
return redis.call('HGETALL', KEYS[1])
