-- queue_submit: a new job, queued, and its delivery in the stream; or,
-- for a page that already has a live job, that job (dedup); or a
-- finished job whose result is fresh enough (max_age, found by the
-- caller in Postgres). The rules are lib/submit.lua's.
-- KEYS: job, stream, stats, events, live (the page's live-job pointer),
--       live job (the hash of the job `live` named when the caller read
--       it; any key when it named none), page (the page's note), page
--       job (the copy of the job the note names), the search indexes of
--       every job, of the page's host and of the page (lib/ix.lua)[, idem]
-- ARGV: id, url, now, events channel, callback url ("" for none),
--       url key (the normalised URL), fresh ("1": never join), live id
--       as the caller read it ("" none), cached id ("" none), live ttl s,
--       max age ms ("0": none), index floor, index ttl ms [, body hash,
--       idem ttl s]
-- Returns the entry id of a new job; otherwise {outcome, id}:
--   replay / conflict  the idempotency key was used before (same body /
--                      another); nothing else is done
--   cached             ARGV[9], recorded under the idempotency key; or
--                      the page's note's job (max age), with a third
--                      element: the copy of its hash ({} once expired)
--   dedup              the page's live job, joined
--   again              `live` names another job than the caller read:
--                      read it again (KEYS must name that job's hash)
--   unknown            max age asked and the page has no note: ask
--                      Postgres (nothing is done, nothing recorded)
--!include lib/event.lua
--!include lib/ix.lua
--!include lib/submit.lua
if KEYS[12] then
  local v = redis.call('GET', KEYS[12])
  if v then
    local sep = string.find(v, ' ', 1, true)
    local h, id = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if h == ARGV[14] then return {'replay', id} end
    return {'conflict', id}
  end
end
local what, v, copy = submit_page(
  {job = KEYS[1], stream = KEYS[2], stats = KEYS[3], events = KEYS[4], live = KEYS[5],
   live_job = KEYS[6], page = KEYS[7], page_job = KEYS[8], ix_all = KEYS[9], ix_host = KEYS[10],
   ix_url = KEYS[11]},
  {id = ARGV[1], url = ARGV[2], now = ARGV[3], channel = ARGV[4], callback = ARGV[5],
   url_key = ARGV[6], fresh = ARGV[7], live = ARGV[8], cached = ARGV[9], live_ttl = ARGV[10],
   batch = '', max_age = ARGV[11], ix_floor = ARGV[12], ix_ttl = ARGV[13]})
if what == 'again' or what == 'unknown' then return {what, v} end
if KEYS[12] then
  redis.call('SET', KEYS[12], ARGV[14] .. ' ' .. (what == 'created' and ARGV[1] or v), 'EX',
             ARGV[15])
end
if what == 'created' then return v end
if copy then return {what, v, copy} end
return {what, v}
