-- stats_read: every figure of GET /api/v1/stats and /metrics in one
-- atomic read (common/stats.h).
-- KEYS: stats, stream, retry, failed, workers, http, failing webhook
--       endpoints, then the per-minute hash of each minute from the first
--       to the last
-- ARGV: first minute, prune-before (ms), group
-- Returns {stats hash, XLEN, pending, ZCARD retry, ZCARD failed, workers
-- hash (after pruning), {{minute, hash}, ...}, http hash, failing
-- endpoints hash}. Every part is bounded: the hashes hold fixed sets of
-- fields, the minutes are at most 61, the workers are the live processes,
-- the failing endpoints at most 100 (worker/lua/hooks_done.lua).
local out = {}
out[1] = redis.call('HGETALL', KEYS[1])
out[2] = redis.call('XLEN', KEYS[2])
local pending = 0
local g = redis.pcall('XINFO', 'GROUPS', KEYS[2])
if type(g) == 'table' and not g.err then
  for _, grp in ipairs(g) do
    local name, p = nil, 0
    for i = 1, #grp - 1, 2 do
      if grp[i] == 'name' then name = grp[i + 1]
      elseif grp[i] == 'pending' then p = grp[i + 1] end
    end
    if name == ARGV[3] then pending = p end
  end
end
out[3] = pending
out[4] = redis.call('ZCARD', KEYS[3])
out[5] = redis.call('ZCARD', KEYS[4])
local w = redis.call('HGETALL', KEYS[5])
local keep = {}
local cut = tonumber(ARGV[2])
for i = 1, #w - 1, 2 do
  local ok, v = pcall(cjson.decode, w[i + 1])
  local at = ok and type(v) == 'table' and tonumber(v.at) or nil
  if at and at < cut then redis.call('HDEL', KEYS[5], w[i])
  else keep[#keep + 1] = w[i]; keep[#keep + 1] = w[i + 1] end
end
out[6] = keep
local ts = {}
local first = tonumber(ARGV[1])
for i = 8, #KEYS do
  ts[#ts + 1] = {string.format('%d', first + i - 8), redis.call('HGETALL', KEYS[i])}
end
out[7] = ts
out[8] = redis.call('HGETALL', KEYS[6])
out[9] = redis.call('HGETALL', KEYS[7])
return out
