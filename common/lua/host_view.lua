-- host_view: the politeness state of the hosts named (read only).
-- KEYS: for each host, its hash, slots and wait list (3 keys per host)
-- ARGV: now, then the host names (in KEYS order)
-- Returns one array per host: {host, in flight, waiting, paused until,
-- seen 429, seen 503, robots state, delay ms (the largest of adaptive
-- and Crawl-delay), fetches}.
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local b = (i - 2) * 3
  local h = redis.call('HMGET', KEYS[b + 1], 'paused_until', 'seen_429', 'seen_503', 'robots',
                       'delay_ms', 'crawl_delay_ms', 'fetches')
  local paused = tonumber(h[1] or '0') or 0
  if paused <= now then paused = 0 end
  local delay = math.max(tonumber(h[5] or '0') or 0, tonumber(h[6] or '0') or 0)
  out[#out + 1] = {ARGV[i], redis.call('ZCOUNT', KEYS[b + 2], '(' .. now, '+inf'),
                   redis.call('ZCARD', KEYS[b + 3]), paused, tonumber(h[2] or '0') or 0,
                   tonumber(h[3] or '0') or 0, h[4] or '', delay, tonumber(h[7] or '0') or 0}
end
return out
