-- job_event records a state change of job hash `job`: an entry in its
-- event stream `events` (the SSE event id is the entry id; the stream
-- expires with the job hash, and keeps about the last 100 entries) with
-- what a client needs about the new state, announced on `channel` as
-- "<id> <state> <entry id>" for the web processes' long-polls and
-- streams. Returns the entry id.
local function job_event(job, events, channel, state, now)
  local f = redis.call('HMGET', job, 'id', 'attempts', 'error_code', 'error',
                       'next_attempt_at', 'result', 'waiting')
  local fields = {'state', state, 'at', now, 'attempt', f[2] or '0'}
  if (state == 'retrying' or state == 'failed') and f[3] then
    table.insert(fields, 'error_code'); table.insert(fields, f[3])
    table.insert(fields, 'error'); table.insert(fields, f[4] or '')
  end
  if state == 'waiting' and f[7] then
    table.insert(fields, 'waiting'); table.insert(fields, f[7])
  end
  if (state == 'retrying' or state == 'waiting') and f[5] then
    table.insert(fields, 'next_attempt_at'); table.insert(fields, f[5])
  end
  if state == 'finished' and f[6] then
    table.insert(fields, 'result'); table.insert(fields, f[6])
  end
  local eid = redis.call('XADD', events, 'MAXLEN', '~', '100', '*', unpack(fields))
  local ttl = redis.call('PTTL', job)
  if ttl > 0 then redis.call('PEXPIRE', events, ttl) else redis.call('PERSIST', events) end
  redis.call('PUBLISH', channel, f[1] .. ' ' .. state .. ' ' .. eid)
  return eid
end
