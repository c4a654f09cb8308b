-- queue_submit: a new job, queued, and its delivery in the stream.
-- KEYS: job, stream, stats, events[, idem]
-- ARGV: id, url, now, events channel, callback url ("" for none)[, body
--       hash, idem ttl s]
-- Returns the entry id; with an idempotency key already used,
-- {"replay", id} when the body hash matches and {"conflict", id} when not
-- (nothing is created then).
--!include lib/event.lua
if KEYS[5] then
  local v = redis.call('GET', KEYS[5])
  if v then
    local sep = string.find(v, ' ', 1, true)
    local h, id = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if h == ARGV[6] then return {'replay', id} end
    return {'conflict', id}
  end
  redis.call('SET', KEYS[5], ARGV[6] .. ' ' .. ARGV[1], 'EX', ARGV[7])
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[2], 'status', 'queued',
           'attempts', 0, 'created_at', ARGV[3])
local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'entry', e)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'callback_url', ARGV[5]) end
job_event(KEYS[1], KEYS[4], ARGV[4], 'queued', ARGV[3])
redis.call('HINCRBY', KEYS[3], 'submitted', 1)
return e
