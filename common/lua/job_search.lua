-- job_search: one round of a job search (common/job_search.h): the
-- candidates, read newest first from one index just before, checked
-- against every filter in their job hashes.
-- KEYS: the index the candidates came from (a search index, lib/ix.lua,
--       or a batch's jobs list), then the job hash of each candidate (in
--       ARGV order)
-- ARGV: kind ("z": a search index, whose entries are dropped when their
--       job hash has expired, or, with drop_error, when the job's error
--       code is no longer the index's; "l": a batch's list, left alone),
--       want (the most matches to answer), status, error code, host, url
--       key, url prefix, batch ("" for a filter not given), drop_error
--       ("1" or ""), then the candidates' ids
-- Returns {examined, {job, ...}}: how many candidates were looked at (all
-- of them, or up to the want-th match: the caller's cursor goes on from
-- there) and each match's fields as HGETALL pairs.
-- What the filters read of every candidate, then what a match answers.
local checked = {'status', 'error_code', 'batch', 'url_key'}
local fields = {'id', 'url', 'url_key', 'status', 'attempts', 'created_at', 'started_at',
                'finished_at', 'next_attempt_at', 'error', 'error_code', 'waiting', 'batch'}
local kind, want = ARGV[1], tonumber(ARGV[2])
local status, code, host, url, prefix, batch = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7],
                                               ARGV[8]
local drop_error = ARGV[9] == '1'

-- host_is tells whether normalised URL u's host, without its port, is
-- host (url_norm_host, common/url_norm.h: u has no user info).
local function host_is(u, host)
  local at = string.find(u or '', '://', 1, true)
  if not at or string.sub(u, at + 3, at + 2 + #host) ~= host then return false end
  local after = string.sub(u, at + 3 + #host, at + 3 + #host)
  return after == '' or after == ':' or after == '/' or after == '?' or after == '#'
end

local function fits(f)
  if status ~= '' and f[1] ~= status then return false end
  if code ~= '' and f[2] ~= code then return false end
  if batch ~= '' and f[3] ~= batch then return false end
  if url ~= '' and f[4] ~= url then return false end
  if prefix ~= '' and string.sub(f[4] or '', 1, #prefix) ~= prefix then return false end
  if host ~= '' and not host_is(f[4], host) then return false end
  return true
end

local out, examined = {}, 0
for i = 10, #ARGV do
  if #out >= want then break end
  examined = examined + 1
  local f = redis.call('HMGET', KEYS[i - 8], unpack(checked))
  if not f[1] then
    if kind == 'z' then redis.call('ZREM', KEYS[1], ARGV[i]) end
  elseif drop_error and f[2] ~= code then
    redis.call('ZREM', KEYS[1], ARGV[i])
  elseif fits(f) then
    local v, h = redis.call('HMGET', KEYS[i - 8], unpack(fields)), {}
    for j = 1, #fields do
      if v[j] then h[#h + 1] = fields[j]; h[#h + 1] = v[j] end
    end
    out[#out + 1] = h
  end
end
return {examined, out}
