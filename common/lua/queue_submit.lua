-- queue_submit: a new job, queued, and its delivery in the stream; or,
-- for a page that already has a live job, that job (dedup); or a
-- finished job whose result is fresh enough (max_age, found by the
-- caller in Postgres). The rules are lib/submit.lua's.
-- KEYS: job, stream, stats, events, live (the page's live-job pointer),
--       live job (the hash of the job `live` named when the caller read
--       it; any key when it named none), the search indexes of every
--       job, of the page's host and of the page (lib/ix.lua)[, idem]
-- ARGV: id, url, now, events channel, callback url ("" for none),
--       url key (the normalised URL), fresh ("1": never join), live id
--       as the caller read it ("" none), cached id ("" none), live ttl s,
--       index floor, index ttl ms [, body hash, idem ttl s]
-- Returns the entry id of a new job; otherwise {outcome, id}:
--   replay / conflict  the idempotency key was used before (same body /
--                      another); nothing else is done
--   cached             ARGV[9], recorded under the idempotency key
--   dedup              the page's live job, joined
--   again              `live` names another job than the caller read:
--                      read it again (KEYS must name that job's hash)
--!include lib/event.lua
--!include lib/ix.lua
--!include lib/submit.lua
if KEYS[10] then
  local v = redis.call('GET', KEYS[10])
  if v then
    local sep = string.find(v, ' ', 1, true)
    local h, id = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if h == ARGV[13] then return {'replay', id} end
    return {'conflict', id}
  end
end
local what, v = submit_page(
  {job = KEYS[1], stream = KEYS[2], stats = KEYS[3], events = KEYS[4], live = KEYS[5],
   live_job = KEYS[6], ix_all = KEYS[7], ix_host = KEYS[8], ix_url = KEYS[9]},
  {id = ARGV[1], url = ARGV[2], now = ARGV[3], channel = ARGV[4], callback = ARGV[5],
   url_key = ARGV[6], fresh = ARGV[7], live = ARGV[8], cached = ARGV[9], live_ttl = ARGV[10],
   batch = '', ix_floor = ARGV[11], ix_ttl = ARGV[12]})
if what == 'again' then return {'again', v} end
if KEYS[10] then
  redis.call('SET', KEYS[10], ARGV[13] .. ' ' .. (what == 'created' and ARGV[1] or v), 'EX',
             ARGV[14])
end
if what == 'created' then return v end
return {what, v}
