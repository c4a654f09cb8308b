-- queue_failed_list: one page of the failed set.
-- KEYS: failed, then the job hash of each id (in ARGV order)
-- ARGV: ids... (the page, read by ZREVRANGE just before)
-- Returns {total, {hash, ...}} in the order given; an id whose hash has
-- expired is dropped from the failed set.
local out = {}
for i = 1, #ARGV do
  local h = redis.call('HGETALL', KEYS[i + 1])
  if #h == 0 then redis.call('ZREM', KEYS[1], ARGV[i]) else table.insert(out, h) end
end
return {redis.call('ZCARD', KEYS[1]), out}
