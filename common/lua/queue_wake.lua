-- queue_wake: waiting -> queued at once (a slot of its host was
-- released), ahead of its due time.
-- KEYS: job, retry, stream, events
-- ARGV: id, now, events channel
-- Returns 1 when woken, 0 when the job was not waiting (canceled, or
-- woken by its due time already).
--!include lib/event.lua
if redis.call('HGET', KEYS[1], 'status') ~= 'waiting' then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
local e = redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', e)
redis.call('HDEL', KEYS[1], 'next_attempt_at', 'waiting')
job_event(KEYS[1], KEYS[4], ARGV[3], 'queued', ARGV[2])
return 1
