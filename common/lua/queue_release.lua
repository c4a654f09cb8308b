-- queue_release: started -> queued at once, under a new delivery (a drain
-- that ran out of time); the unfinished attempt is not counted.
-- KEYS: job, stream, events
-- ARGV: entry, group, consumer, id, now, events channel
-- Returns 1, or 0 when the delivery is not ours.
--!include lib/ack.lua
--!include lib/owns.lua
--!include lib/event.lua
if not owns(KEYS[1], ARGV[1], ARGV[3]) then return 0 end
ack(KEYS[2], ARGV[2], ARGV[1])
local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', e)
redis.call('HDEL', KEYS[1], 'worker', 'started_at')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
job_event(KEYS[1], KEYS[3], ARGV[6], 'queued', ARGV[5])
return 1
