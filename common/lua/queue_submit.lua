-- queue_submit: a new job, queued, and its delivery in the stream; or,
-- for a page that already has a live job, that job (dedup); or a
-- finished job whose result is fresh enough (max_age, found by the
-- caller in Postgres).
-- KEYS: job, stream, stats, events, live (the page's live-job pointer),
--       live job (the hash of the job `live` named when the caller read
--       it; any key when it named none)[, idem]
-- ARGV: id, url, now, events channel, callback url ("" for none),
--       url key (the normalised URL), fresh ("1": never join), live id
--       as the caller read it ("" none), cached id ("" none), live ttl s
--       [, body hash, idem ttl s]
-- Returns the entry id of a new job; otherwise {outcome, id}:
--   replay / conflict  the idempotency key was used before (same body /
--                      another); nothing else is done
--   cached             ARGV[9], recorded under the idempotency key
--   dedup              the page's live job, joined
--   again              `live` names another job than the caller read:
--                      read it again (KEYS must name that job's hash)
--!include lib/event.lua
if KEYS[7] then
  local v = redis.call('GET', KEYS[7])
  if v then
    local sep = string.find(v, ' ', 1, true)
    local h, id = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if h == ARGV[11] then return {'replay', id} end
    return {'conflict', id}
  end
end
local function remember(id)
  if KEYS[7] then redis.call('SET', KEYS[7], ARGV[11] .. ' ' .. id, 'EX', ARGV[12]) end
end
if ARGV[9] ~= '' then
  remember(ARGV[9])
  return {'cached', ARGV[9]}
end
if ARGV[7] ~= '1' then
  local live = redis.call('GET', KEYS[5]) or ''
  if live ~= ARGV[8] then return {'again', live} end
  if live ~= '' then
    local f = redis.call('HMGET', KEYS[6], 'status', 'callback_url', 'url_key')
    local st = f[1]
    -- A job with another callback, or (after a hash collision) another
    -- page, is not joined: its client expects what it asked for.
    if (st == 'queued' or st == 'started' or st == 'retrying' or st == 'waiting')
       and (f[2] or '') == ARGV[5] and f[3] == ARGV[6] then
      remember(live)
      return {'dedup', live}
    end
  end
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[2], 'url_key', ARGV[6],
           'status', 'queued', 'attempts', 0, 'created_at', ARGV[3])
local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'entry', e)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'callback_url', ARGV[5]) end
job_event(KEYS[1], KEYS[4], ARGV[4], 'queued', ARGV[3])
redis.call('HINCRBY', KEYS[3], 'submitted', 1)
redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[10])
remember(ARGV[1])
return e
