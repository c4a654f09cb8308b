-- batch_cancel: cancels the jobs of a slice of a batch that have not
-- started (lib/cancel.lua), and only the jobs the batch created: a job
-- it joined (dedup) or took (a fresh result) belongs to someone else.
-- KEYS: stream, retry, stats, hooks, then per job: job, events, hook
-- ARGV: now, ttl, group, events channel, batch id, then the job ids
-- Returns how many jobs were canceled.
--!include lib/ack.lua
--!include lib/event.lua
--!include lib/hook.lua
--!include lib/cancel.lua
local n = 0
for i = 0, (#KEYS - 4) / 3 - 1 do
  local job = KEYS[5 + 3 * i]
  local f = redis.call('HMGET', job, 'batch', 'status')
  if f[1] == ARGV[5] and (f[2] == 'queued' or f[2] == 'retrying' or f[2] == 'waiting') then
    cancel_job({job = job, stream = KEYS[1], retry = KEYS[2], stats = KEYS[3],
                           events = KEYS[6 + 3 * i], hook = KEYS[7 + 3 * i], hooks = KEYS[4]},
                          ARGV[1], ARGV[2], ARGV[3], ARGV[6 + i], ARGV[4])
    n = n + 1
  end
end
return n
