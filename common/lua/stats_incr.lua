-- stats_incr: adds to several fields of one hash at once.
-- KEYS: hash
-- ARGV: field, delta, field, delta, ...
for i = 1, #ARGV - 1, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
