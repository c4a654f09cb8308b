-- ack ends delivery `entry` of `stream` for consumer group `group`:
-- acknowledged, and deleted from the stream.
local function ack(stream, group, entry)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
end
