-- The search indexes (common/job_search.h, keys.h's ix:*): sorted sets
-- whose members all score 0, so they sort by member, and a member is a
-- job id: a UUIDv7, which sorts by creation time. Newest first is a
-- reverse walk, and a job id is the cursor.
--
-- ix_add puts job `id` in index `key`; with `ttl` (ms; "" for none) it
-- keeps the key that long after its last add, so an index nobody adds to
-- (a host or page not submitted again) goes away whole. One add in 16
-- (an id's last hex digit is random: 0) also drops the members below
-- `floor` (a ZRANGEBYLEX bound: the ids of jobs too old to exist any
-- more), so trimming costs a sixteenth of a command per add and an index
-- outgrows its horizon by a few entries at most.
local function ix_add(key, id, floor, ttl)
  redis.call('ZADD', key, 0, id)
  if string.byte(id, -1) == 48 then redis.call('ZREMRANGEBYLEX', key, '-', floor) end
  if ttl ~= '' then redis.call('PEXPIRE', key, ttl) end
end
