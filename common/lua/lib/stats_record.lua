-- Recording a job's end in the statistics (common/stats.h). Both
-- functions use redis.pcall and never raise, so a statistics problem
-- cannot stop a job from ending.
--
-- tk is the per-minute hash of `now` (keys_ts), ttl its lifetime in
-- seconds; bounds the latency histogram's bucket bounds in ms, as one
-- string "10, 25, ..." (STATS_MS_BOUNDS).

-- wc_stats_second counts one job ended in its second of the minute:
-- kind 'f' finished, 'x' failed.
local function wc_stats_second(tk, now, kind, ttl)
  local sec = math.floor((tonumber(now) or 0) / 1000)
  redis.pcall('HINCRBY', tk, kind .. ':' .. string.format('%d', sec % 60), 1)
  redis.pcall('EXPIRE', tk, ttl)
end

local function wc_bucket(bounds, v)
  local i = 0
  for b in string.gmatch(bounds, '%d+') do
    if v <= tonumber(b) then return i end
    i = i + 1
  end
  return i
end

-- wc_stats_finished records a finished job: its second, and its latency
-- (submit -> now) and duration (started -> now) in the histograms of
-- stats hash sk and of the minute's ten-second slot.
local function wc_stats_finished(sk, tk, jk, now, ttl, bounds)
  local t = tonumber(now) or 0
  wc_stats_second(tk, now, 'f', ttl)
  local f = redis.pcall('HMGET', jk, 'created_at', 'started_at')
  local c = tonumber(f[1]) or t
  local st = tonumber(f[2]) or t
  local lat = math.max(0, t - c)
  local dur = math.max(0, t - st)
  local lb = string.format('%d', wc_bucket(bounds, lat))
  local slot = math.floor((math.floor(t / 1000) % 60) / 10)
  redis.pcall('HINCRBY', tk, 'l:' .. string.format('%d', slot) .. ':' .. lb, 1)
  redis.pcall('HINCRBY', sk, 'lat:' .. lb, 1)
  redis.pcall('HINCRBY', sk, 'lat_sum', string.format('%d', lat))
  redis.pcall('HINCRBY', sk, 'dur:' .. string.format('%d', wc_bucket(bounds, dur)), 1)
  redis.pcall('HINCRBY', sk, 'dur_sum', string.format('%d', dur))
end
