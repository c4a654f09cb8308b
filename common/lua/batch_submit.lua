-- batch_submit: a slice of a batch's pages, each submitted by the rules
-- of a single submit (lib/submit.lua); the jobs it creates record the
-- batch. No idempotency key, no callback.
-- KEYS: stream, stats, the index of every job, then per page: job,
--       events, live, live job, host index, page index (as
--       queue_submit.lua's)
-- ARGV: now, events channel, live ttl s, batch id, fresh ("1"), index
--       floor, index ttl ms, then per page: id, url, url key, live id as
--       read ("" none), cached id ("" none)
-- Returns one {outcome, id} per page, in order: created (the new job's
-- id), cached, dedup, or again (the live id now: read it again).
--!include lib/event.lua
--!include lib/ix.lua
--!include lib/submit.lua
local out = {}
local n = (#KEYS - 3) / 6
for i = 0, n - 1 do
  local kb, ab = 3 + 6 * i, 7 + 5 * i
  local id = ARGV[ab + 1]
  local what, v = submit_page(
    {job = KEYS[kb + 1], stream = KEYS[1], stats = KEYS[2], events = KEYS[kb + 2],
     live = KEYS[kb + 3], live_job = KEYS[kb + 4], ix_all = KEYS[3], ix_host = KEYS[kb + 5],
     ix_url = KEYS[kb + 6]},
    {id = id, url = ARGV[ab + 2], now = ARGV[1], channel = ARGV[2], callback = '',
     url_key = ARGV[ab + 3], fresh = ARGV[5], live = ARGV[ab + 4], cached = ARGV[ab + 5],
     live_ttl = ARGV[3], batch = ARGV[4], ix_floor = ARGV[6], ix_ttl = ARGV[7]})
  if what == 'created' then v = id end
  out[i + 1] = {what, v}
end
return out
