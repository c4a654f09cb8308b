-- queue_promote: retrying or waiting -> queued for jobs whose retry or
-- wait is due.
-- KEYS: retry, stream, then the job hash and event stream of each id (in
--       ARGV order)
-- ARGV: now, events channel, ids... (read from the retry set just before, by
--       ZRANGEBYSCORE: a job hash is named by data, so the caller finds
--       the ids first and passes their keys here)
-- An id another worker promoted in between, or that was parked again
-- with a later due time, is left alone. Returns how many moved.
--!include lib/event.lua
local moved = 0
for i = 3, #ARGV do
  local id, jk, ek = ARGV[i], KEYS[2 * i - 3], KEYS[2 * i - 2]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= tonumber(ARGV[1]) then
    redis.call('ZREM', KEYS[1], id)
    local st = redis.call('HGET', jk, 'status')
    if st == 'retrying' or st == 'waiting' then
      local e = redis.call('XADD', KEYS[2], '*', 'id', id)
      redis.call('HSET', jk, 'status', 'queued', 'entry', e)
      redis.call('HDEL', jk, 'waiting')
      job_event(jk, ek, ARGV[2], 'queued', ARGV[1])
      moved = moved + 1
    end
  end
end
return moved
