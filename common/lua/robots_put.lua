-- robots_put: keep what a worker learned of an origin's robots.txt, for
-- every worker, until it expires; free the fetch lock; and show the
-- state and Crawl-delay on the host.
-- KEYS: robots hash, robots lock, host hash
-- ARGV: state (ok, none, unavailable), body, expires at (ms), crawl delay
--       ms (-1: none), http status
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'body', ARGV[2], 'expires_at', ARGV[3],
           'status', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[3], 'robots', ARGV[1])
if tonumber(ARGV[4]) >= 0 then
  redis.call('HSET', KEYS[3], 'crawl_delay_ms', ARGV[4])
else
  redis.call('HDEL', KEYS[3], 'crawl_delay_ms')
end
redis.call('PEXPIRE', KEYS[3], 86400000)
return 1
