-- queue_failed_retry: failed -> queued with a fresh attempt count (the
-- error history stays).
-- KEYS: failed, stream, stats, then the job hash and event stream of each
--       id (in ARGV order)
-- ARGV: now, events channel, ids...
-- Every id leaves the failed set; those still failed are requeued.
-- Returns how many were requeued.
--!include lib/event.lua
local n = 0
for i = 3, #ARGV do
  local id, jk, ek = ARGV[i], KEYS[2 * i - 2], KEYS[2 * i - 1]
  redis.call('ZREM', KEYS[1], id)
  if redis.call('HGET', jk, 'status') == 'failed' then
    redis.call('PERSIST', jk)
    local e = redis.call('XADD', KEYS[2], '*', 'id', id)
    redis.call('HSET', jk, 'status', 'queued', 'entry', e, 'attempts', 0)
    redis.call('HDEL', jk, 'started_at', 'finished_at', 'error', 'error_code', 'worker')
    redis.call('HINCRBY', KEYS[3], 'requeued', 1)
    job_event(jk, ek, ARGV[2], 'queued', ARGV[1])
    n = n + 1
  end
end
return n
