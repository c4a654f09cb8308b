-- hook_enqueue records the webhook delivery of a job's end, in the same
-- step as the end itself, when the job has a callback_url: the delivery
-- record `hook` (message id "msg_<job id>_<event id>", stable across the
-- delivery's attempts) and its place in the set of deliveries due,
-- `hooks`, now. An earlier delivery of the same job that is still
-- pending (a failed job requeued by an operator that ended again) is
-- replaced: the receiver gets the job's latest end. worker/hooks.c
-- delivers it.
local function hook_enqueue(job, hook, hooks, state, now, eid)
  local f = redis.call('HMGET', job, 'id', 'callback_url')
  if not f[2] or f[2] == '' then return end
  redis.call('HSET', hook, 'job', f[1], 'url', f[2], 'msg', 'msg_' .. f[1] .. '_' .. eid,
             'status', state, 'created_at', now, 'attempts', 0, 'state', 'pending')
  redis.call('HDEL', hook, 'body', 'done_at')
  redis.call('PERSIST', hook)
  redis.call('ZADD', hooks, now, f[1])
end
