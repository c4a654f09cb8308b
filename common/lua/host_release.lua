-- host_release: a fetch to a host is over; its slot is freed and the
-- host's pace follows the answer. A 429 or 503 with Retry-After pauses
-- the host for every job until then (capped); one without makes the
-- host's adaptive delay double (at least 1 s, capped); a success
-- (2xx, 3xx) shrinks it by a quarter; anything else (other errors,
-- timeouts: status 0) leaves it, so errors never speed a host up.
-- KEYS: host hash, host slots, host wait list, stats
-- ARGV: now, token, http status, retry-after ms (-1: none), max delay,
--       max pause
-- Returns the id of one job waiting for this host (to be woken), or
-- false.
local now = tonumber(ARGV[1])
local st, ra = tonumber(ARGV[3]), tonumber(ARGV[4])
local freed = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'fetches', 1)
if st == 429 or st == 503 then
  redis.call('HINCRBY', KEYS[1], 'seen_' .. st, 1)
  redis.call('HINCRBY', KEYS[4], 'host_' .. st, 1)
  if ra >= 0 then
    local untl = now + math.min(ra, tonumber(ARGV[6]))
    if untl > (tonumber(redis.call('HGET', KEYS[1], 'paused_until') or '0') or 0) then
      redis.call('HSET', KEYS[1], 'paused_until', untl)
    end
    redis.call('HINCRBY', KEYS[4], 'host_pauses', 1)
  else
    local d = tonumber(redis.call('HGET', KEYS[1], 'delay_ms') or '0') or 0
    d = math.min(math.max(2 * d, 1000), tonumber(ARGV[5]))
    redis.call('HSET', KEYS[1], 'delay_ms', d)
    local nxt = tonumber(redis.call('HGET', KEYS[1], 'next_start') or '0') or 0
    if now + d > nxt then redis.call('HSET', KEYS[1], 'next_start', now + d) end
  end
elseif st >= 200 and st < 400 then
  local d = tonumber(redis.call('HGET', KEYS[1], 'delay_ms') or '0') or 0
  if d > 0 then
    d = math.floor(d * 3 / 4)
    if d < 50 then d = 0 end
    redis.call('HSET', KEYS[1], 'delay_ms', d)
  end
end
redis.call('PEXPIRE', KEYS[1], 86400000)
if freed == 0 then return false end
local w = redis.call('ZPOPMIN', KEYS[3], 1)
return w[1] or false
