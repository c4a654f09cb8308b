-- attempts_summary counts the failed attempts of this run of job hash
-- `key` by kind: "5 attempts: 3 timeout, 2 worker_lost" (kinds in the
-- order they first happened), or nil for fewer than two. The run is the
-- newest history entries whose attempt numbers fall going back (an admin
-- requeue starts again at 1).
local function attempts_summary(key)
  local h = redis.call('HGET', key, 'history')
  local arr = h and cjson.decode(h) or {}
  local first, last = #arr + 1, nil
  for i = #arr, 1, -1 do
    local a = tonumber(arr[i].attempt) or 0
    if a < 1 or (last and a >= last) then break end
    first, last = i, a
  end
  if #arr - first < 1 then return nil end
  local kinds, count = {}, {}
  for i = first, #arr do
    local c = tostring(arr[i].code)
    if not count[c] then count[c] = 0; table.insert(kinds, c) end
    count[c] = count[c] + 1
  end
  for i, c in ipairs(kinds) do kinds[i] = count[c] .. ' ' .. c end
  return (#arr - first + 1) .. ' attempts: ' .. table.concat(kinds, ', ')
end
