-- queue_cancel: queued, retrying or waiting -> canceled (lib/cancel.lua).
-- KEYS: job, stream, retry, stats, events, hook, hooks
-- ARGV: now, ttl, group, id, events channel
-- Returns the job's status after the call ("canceled" on success), or
-- false when the job is unknown.
--!include lib/ack.lua
--!include lib/event.lua
--!include lib/hook.lua
--!include lib/cancel.lua
return cancel_job({job = KEYS[1], stream = KEYS[2], retry = KEYS[3], stats = KEYS[4],
                   events = KEYS[5], hook = KEYS[6], hooks = KEYS[7]},
                  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
