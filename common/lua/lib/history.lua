-- push_history appends {attempt, code, message, at, worker} to the JSON
-- error history of job hash `key`, keeping the last 50 entries.
local function push_history(key, code, msg, now, worker)
  local h = redis.call('HGET', key, 'history')
  local arr = {}
  if h then arr = cjson.decode(h) end
  if #arr >= 50 then table.remove(arr, 1) end
  local att = tonumber(redis.call('HGET', key, 'attempts') or '0')
  table.insert(arr, {attempt = att, code = code, message = msg, at = tonumber(now),
                     worker = worker})
  redis.call('HSET', key, 'history', cjson.encode(arr))
end
