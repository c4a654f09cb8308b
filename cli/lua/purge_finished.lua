-- purge_finished: `wordcount purge --finished` deletes finished jobs'
-- Redis state before RESULT_TTL (their results stay in Postgres).
-- KEYS: job hashes (a page of SCAN MATCH keys_job_match)
-- Deletes those whose status is finished; returns how many.
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('TYPE', k).ok == 'hash' and redis.call('HGET', k, 'status') == 'finished' then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n
