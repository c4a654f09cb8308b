-- queue_submit: a new job, queued, and its delivery in the stream.
-- KEYS: job, stream, stats[, idem]
-- ARGV: id, url, now[, body hash, idem ttl s]
-- Returns the entry id; with an idempotency key already used,
-- {"replay", id} when the body hash matches and {"conflict", id} when not
-- (nothing is created then).
if KEYS[4] then
  local v = redis.call('GET', KEYS[4])
  if v then
    local sep = string.find(v, ' ', 1, true)
    local h, id = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if h == ARGV[4] then return {'replay', id} end
    return {'conflict', id}
  end
  redis.call('SET', KEYS[4], ARGV[4] .. ' ' .. ARGV[1], 'EX', ARGV[5])
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[2], 'status', 'queued',
           'attempts', 0, 'created_at', ARGV[3])
local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'entry', e)
redis.call('HINCRBY', KEYS[3], 'submitted', 1)
return e
