-- cancel_job cancels a job that has not started (queued, retrying or
-- waiting), shared by queue_cancel.lua and batch_cancel.lua. Needs
-- lib/ack.lua, lib/event.lua and lib/hook.lua.
-- k: job, stream, retry, stats, events, hook, hooks
-- Returns the job's status after the call ("canceled" when it worked),
-- or false when the job is unknown.
local function cancel_job(k, now, ttl, group, id, channel)
  local f = redis.call('HMGET', k.job, 'status', 'entry')
  local st, e = f[1], f[2]
  if not st then return false end
  if st ~= 'queued' and st ~= 'retrying' and st ~= 'waiting' then return st end
  if e then ack(k.stream, group, e) end
  redis.call('ZREM', k.retry, id)
  redis.call('HSET', k.job, 'status', 'canceled', 'finished_at', now)
  redis.call('HDEL', k.job, 'next_attempt_at', 'entry', 'waiting')
  redis.call('EXPIRE', k.job, ttl)
  redis.call('HINCRBY', k.stats, 'canceled', 1)
  local eid = job_event(k.job, k.events, channel, 'canceled', now)
  hook_enqueue(k.job, k.hook, k.hooks, 'canceled', now, eid)
  return 'canceled'
end
