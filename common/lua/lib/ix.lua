-- The search indexes (common/job_search.h, keys.h's ix:*): sorted sets
-- whose members all score 0, so they sort by member, and a member is a
-- job id: a UUIDv7, which sorts by creation time. Newest first is a
-- reverse walk, and a job id is the cursor.
--
-- ix_add puts job `id` in index `key`, drops its members below `floor`
-- (a ZRANGEBYLEX bound: the ids of jobs too old to exist any more), and
-- keeps the key `ttl` ms after its last add, so an index nobody adds to
-- goes away whole.
local function ix_add(key, id, floor, ttl)
  redis.call('ZADD', key, 0, id)
  redis.call('ZREMRANGEBYLEX', key, '-', floor)
  redis.call('PEXPIRE', key, ttl)
end
