-- submit_page is the submit of one page, shared by queue_submit.lua (one
-- job) and batch_submit.lua (a batch's jobs), so both follow the same
-- rules: a fresh result found by the caller is the answer; unless
-- `fresh`, a page whose newest job (`live`) is still live, with the same
-- callback, is joined; otherwise a new job is created, queued, and
-- becomes the page's newest, and is added to the search indexes of every
-- job, of its host and of its page (lib/ix.lua). Needs lib/event.lua and
-- lib/ix.lua.
-- k: job, stream, stats, events, live, live_job (the hash of the job
--    `live` named when the caller read it; any key when none), page (the
--    page's note, keys_page; nil: not consulted), page_job (the copy of
--    the job it names, keys_page_job), ix_all, ix_host, ix_url
-- a: id, url, now, channel, callback ("" none), url_key, fresh ("1"),
--    live (the live id as the caller read it, "" none), cached ("" none),
--    live_ttl, batch ("" none: the batch the new job belongs to),
--    max_age (ms, "0": none; with k.page), ix_floor, ix_ttl (lib/ix.lua)
-- Returns outcome, id: 'created' and the stream entry of the new job;
-- 'cached' / 'dedup' and the job answered with (for a max_age answer,
-- also the copy of the job's hash as it finished, {} once expired);
-- 'again' and the live id now (it changed since the caller read it:
-- read it again); 'unknown' and "" when max_age asks and the page has no
-- note (the caller asks Postgres, then submits again with `cached` or
-- without max_age).
local function submit_page(k, a)
  if a.cached ~= '' then return 'cached', a.cached end
  if k.page and a.max_age ~= '0' then
    -- The note names the page's newest finished job and when it ended
    -- (queue_finish.lua); one older than max_age means none is fresh.
    local n = redis.call('HMGET', k.page, 'job', 'at')
    if not n[1] or not n[2] then return 'unknown', '' end
    if tonumber(a.now) - tonumber(n[2]) <= tonumber(a.max_age) then
      return 'cached', n[1], redis.call('HGETALL', k.page_job)
    end
  end
  if a.fresh ~= '1' then
    local live = redis.call('GET', k.live) or ''
    if live ~= a.live then return 'again', live end
    if live ~= '' then
      local f = redis.call('HMGET', k.live_job, 'status', 'callback_url', 'url_key')
      local st = f[1]
      -- A job with another callback, or (after a hash collision) another
      -- page, is not joined: its client expects what it asked for.
      if (st == 'queued' or st == 'started' or st == 'retrying' or st == 'waiting')
         and (f[2] or '') == a.callback and f[3] == a.url_key then
        return 'dedup', live
      end
    end
  end
  -- One HSET with every field (a batch creates thousands of jobs).
  local e = redis.call('XADD', k.stream, '*', 'id', a.id)
  local f = {'id', a.id, 'url', a.url, 'url_key', a.url_key, 'status', 'queued',
             'attempts', 0, 'created_at', a.now, 'entry', e}
  if a.callback ~= '' then f[#f + 1] = 'callback_url'; f[#f + 1] = a.callback end
  if a.batch ~= '' then f[#f + 1] = 'batch'; f[#f + 1] = a.batch end
  redis.call('HSET', k.job, unpack(f))
  job_event(k.job, k.events, a.channel, 'queued', a.now)
  redis.call('HINCRBY', k.stats, 'submitted', 1)
  redis.call('SET', k.live, a.id, 'EX', a.live_ttl)
  ix_add(k.ix_all, a.id, a.ix_floor, '')
  ix_add(k.ix_host, a.id, a.ix_floor, a.ix_ttl)
  ix_add(k.ix_url, a.id, a.ix_floor, a.ix_ttl)
  return 'created', e
end
