-- host_acquire: one fetch slot of a host, fleet-wide, or how long to wait.
-- The host is paused (a Retry-After), at its concurrency limit (slots in
-- flight, each a lease that expires unless renewed, so a dead worker's
-- slot frees itself), or paced (the least time between two starts: the
-- configured delay, robots.txt's Crawl-delay, or the adaptive delay
-- after 429/503s, whichever is largest, capped).
-- KEYS: host hash, host slots, hosts index, stats
-- ARGV: now, token, limit (0: none), base delay, lease, max delay, host
-- Returns {1, 0, ''} when granted, else {0, wait ms, reason} with reason
-- host_paused, host_busy or host_pacing.
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local h = redis.call('HMGET', KEYS[1], 'paused_until', 'next_start', 'delay_ms', 'crawl_delay_ms')
local paused = tonumber(h[1] or '0') or 0
if paused > now then return {0, paused - now, 'host_paused'} end
local limit = tonumber(ARGV[3])
if limit > 0 and redis.call('ZCARD', KEYS[2]) >= limit then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(first[2]) - now), 'host_busy'}
end
local nxt = tonumber(h[2] or '0') or 0
if nxt > now then return {0, nxt - now, 'host_pacing'} end
local delay = math.max(tonumber(ARGV[4]), tonumber(h[3] or '0') or 0, tonumber(h[4] or '0') or 0)
delay = math.min(delay, tonumber(ARGV[6]))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[2])
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'next_start', now + delay, 'last_start', now)
redis.call('HINCRBY', KEYS[1], 'started', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('ZADD', KEYS[3], now, ARGV[7])
if redis.call('ZCARD', KEYS[3]) > 10000 then
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -10001)
end
return {1, 0, ''}
