-- queue_renew: renews the lease on each delivery this consumer still owns
-- in the pending entries list (XCLAIM to itself resets the idle time).
-- KEYS: stream
-- ARGV: group, consumer, entry ids...
-- Returns the entry ids it no longer owns.
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
