-- queue_cancel: queued, retrying or waiting -> canceled.
-- KEYS: job, stream, retry, stats, events, hook, hooks
-- ARGV: now, ttl, group, id, events channel
-- Returns the job's status after the call ("canceled" on success), or
-- false when the job is unknown.
--!include lib/ack.lua
--!include lib/event.lua
--!include lib/hook.lua
local f = redis.call('HMGET', KEYS[1], 'status', 'entry')
local st, e = f[1], f[2]
if not st then return false end
if st ~= 'queued' and st ~= 'retrying' and st ~= 'waiting' then return st end
if e then ack(KEYS[2], ARGV[3], e) end
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'next_attempt_at', 'entry', 'waiting')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'canceled', 1)
local eid = job_event(KEYS[1], KEYS[5], ARGV[5], 'canceled', ARGV[1])
hook_enqueue(KEYS[1], KEYS[6], KEYS[7], 'canceled', ARGV[1], eid)
return 'canceled'
