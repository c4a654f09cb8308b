-- hooks_claim: takes the due webhook deliveries named by ids (read from
-- the set just before, by ZRANGEBYSCORE) for one attempt each, under a
-- lease: each stays in the set with its score moved to the lease's end,
-- so a worker that dies mid-delivery loses nothing (another takes it when
-- the lease is over).
-- KEYS: hooks, then the delivery record of each id (in ARGV order)
-- ARGV: now, lease end (ms), ids...
-- Returns {{id, url, webhook id, job status, body ("" before the first
-- attempt), attempt, created_at}, ...}; an id taken by another worker in
-- between is left alone, and one whose record is gone leaves the set.
local out = {}
for i = 3, #ARGV do
  local id, hk = ARGV[i], KEYS[i - 1]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= tonumber(ARGV[1]) then
    local f = redis.call('HMGET', hk, 'url', 'msg', 'status', 'body', 'created_at')
    if not f[1] or not f[2] then
      redis.call('ZREM', KEYS[1], id)
    else
      redis.call('ZADD', KEYS[1], ARGV[2], id)
      local n = redis.call('HINCRBY', hk, 'attempts', 1)
      redis.call('HSET', hk, 'state', 'delivering')
      out[#out + 1] = {id, f[1], f[2], f[3] or '', f[4] or '', tostring(n), f[5] or '0'}
    end
  end
end
return out
