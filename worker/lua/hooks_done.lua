-- hooks_done: the outcome of one webhook delivery attempt.
-- KEYS: delivery record, hooks, stats, failing endpoints
-- ARGV: id, outcome ("delivered", "retry" or "failed"), next attempt (ms,
--       for "retry"), the attempt as JSON {at, webhook_id, status,
--       latency_ms, error, job}, body, seconds to keep an ended record,
--       url, now, webhook id
-- The attempt joins the record's log (the last 50); the body is kept so
-- every attempt sends the same bytes. A record replaced meanwhile by a
-- newer end of the job (another webhook id) is left alone. Counts
-- webhook_delivered, webhook_retried and webhook_failed in stats; the
-- failing endpoints hash (at most 100 URLs) holds each failing URL's last
-- attempt until one succeeds. Returns 1, or 0 when the record was replaced.
if redis.call('HGET', KEYS[1], 'msg') ~= ARGV[9] then return 0 end
local log = redis.call('HGET', KEYS[1], 'log')
local arr = {}
if log then arr = cjson.decode(log) end
if #arr >= 50 then table.remove(arr, 1) end
table.insert(arr, cjson.decode(ARGV[4]))
redis.call('HSET', KEYS[1], 'log', cjson.encode(arr), 'body', ARGV[5], 'last_at', ARGV[8])
if ARGV[2] == 'retry' then
  redis.call('HSET', KEYS[1], 'state', 'retrying', 'next_attempt_at', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'webhook_retried', 1)
else
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'done_at', ARGV[8])
  redis.call('HDEL', KEYS[1], 'next_attempt_at')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'webhook_' .. ARGV[2], 1)
end
if ARGV[2] == 'delivered' then
  redis.call('HDEL', KEYS[4], ARGV[7])
elseif redis.call('HEXISTS', KEYS[4], ARGV[7]) == 1 or redis.call('HLEN', KEYS[4]) < 100 then
  redis.call('HSET', KEYS[4], ARGV[7], ARGV[4])
end
return 1
