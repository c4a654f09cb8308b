-- queue_failed_delete: forgets a failed job.
-- KEYS: failed, job
-- ARGV: id
-- Returns 1, or 0 when the job is not in the failed state.
if redis.call('HGET', KEYS[2], 'status') ~= 'failed' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
