-- queue_retry: started -> retrying until a due time, in the retry set,
-- and this delivery acknowledged.
-- KEYS: job, stream, stats, retry, events, the search index of the error code
--       (lib/ix.lua)
-- ARGV: entry, now, due, group, consumer, code, message, id, events channel,
--       index floor, index ttl ms
-- Returns 1, or 0 when the lease was lost.
--!include lib/ack.lua
--!include lib/owns.lua
--!include lib/history.lua
--!include lib/event.lua
--!include lib/ix.lua
if not owns(KEYS[1], ARGV[1], ARGV[5]) then return 0 end
ack(KEYS[2], ARGV[4], ARGV[1])
push_history(KEYS[1], ARGV[6], ARGV[7], ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'retrying', 'next_attempt_at', ARGV[3],
           'error_code', ARGV[6], 'error', ARGV[7])
redis.call('HDEL', KEYS[1], 'worker', 'entry')
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[8])
ix_add(KEYS[6], ARGV[8], ARGV[10], ARGV[11])
redis.call('HINCRBY', KEYS[3], 'retried', 1)
job_event(KEYS[1], KEYS[5], ARGV[9], 'retrying', ARGV[2])
return 1
