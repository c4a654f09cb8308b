-- queue_defer: started -> waiting until a due time, for politeness (the
-- job's host is busy, paused or paced, or its robots.txt is being
-- fetched): the delivery is acknowledged and the attempt is not counted.
-- A job waiting for a busy host is also put on that host's wait list,
-- so that the next slot released wakes it (host_release, queue_wake);
-- the due time is only the fallback. A slot released between the
-- worker's acquire and this script is seen here: the job goes back to
-- the queue at once instead of waiting. A host limit below 0 says the
-- host's slots live on another shard (common/shards.h): no wait list
-- here, the due time alone.
-- KEYS: job, stream, retry, host wait list, host slots, stats, events
-- ARGV: entry, group, consumer, id, now, due, reason, host limit, events
--       channel
-- Returns 1 (waiting), 2 (queued again at once), or 0 when the lease
-- was lost.
--!include lib/ack.lua
--!include lib/owns.lua
--!include lib/event.lua
if not owns(KEYS[1], ARGV[1], ARGV[3]) then return 0 end
ack(KEYS[2], ARGV[2], ARGV[1])
redis.call('HDEL', KEYS[1], 'worker', 'entry', 'started_at')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
-- Not an attempt: the start it counted is taken back.
redis.call('HINCRBY', KEYS[6], 'started', -1)
redis.call('HINCRBY', KEYS[6], 'host_waits:' .. ARGV[7], 1)
if ARGV[7] == 'host_busy' and tonumber(ARGV[8]) >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[5])
  if redis.call('ZCARD', KEYS[5]) < tonumber(ARGV[8]) then
    local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[4])
    redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', e)
    job_event(KEYS[1], KEYS[7], ARGV[9], 'queued', ARGV[5])
    return 2
  end
  redis.call('ZADD', KEYS[4], 'NX', ARGV[5], ARGV[4])
end
redis.call('HSET', KEYS[1], 'status', 'waiting', 'waiting', ARGV[7], 'next_attempt_at', ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
job_event(KEYS[1], KEYS[7], ARGV[9], 'waiting', ARGV[5])
return 1
