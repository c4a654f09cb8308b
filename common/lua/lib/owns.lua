-- owns tells whether `consumer` still holds delivery `entry` of job hash
-- `key`: the job is started, under that entry, by that worker.
local function owns(key, entry, consumer)
  local f = redis.call('HMGET', key, 'status', 'entry', 'worker')
  return f[1] == 'started' and f[2] == entry and f[3] == consumer
end
