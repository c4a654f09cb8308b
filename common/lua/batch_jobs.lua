-- batch_jobs: what a batch's status and export need of a slice of its
-- jobs, read in one step.
-- KEYS: the job hashes
-- ARGV: none
-- Returns one {status, started_at, finished_at, error_code, error, result}
-- per job, in order (false members where unset; status false: the job's
-- state expired).
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], 'status', 'started_at', 'finished_at', 'error_code',
                      'error', 'result')
end
return out
