-- Numbers, stores and announces one publication in a single atomic step,
-- so that live delivery and history never disagree.
-- KEYS[1] meta HASH (e = epoch, t = top offset), KEYS[2] history STREAM,
-- KEYS[3] idempotency result (declared even when unused: Redis Cluster
-- routes by the declared keys, and all three share the channel's slot).
-- ARGV[1] encoded publication (protobuf, offset not set), ARGV[2] history
-- size (0: no history, offset 0), ARGV[3] history TTL ms, ARGV[4] meta TTL
-- ms, ARGV[5] pub/sub channel, ARGV[6] epoch to use when the meta is
-- missing, ARGV[7] idempotency TTL ms (0: no idempotency key), ARGV[8]
-- and ARGV[9]: the highest position (epoch, offset) the calling node saw
-- in this channel ('' and 0: none).
-- Returns {offset, epoch, duplicate (0|1)}.
if ARGV[7] ~= '0' then
  local previous = redis.call('GET', KEYS[3])
  if previous then
    local colon = string.find(previous, ':', 1, true)
    return {tonumber(string.sub(previous, 1, colon - 1)), string.sub(previous, colon + 1), 1}
  end
end
local offset = 0
local epoch = ''
if ARGV[2] ~= '0' then
  epoch = redis.call('HGET', KEYS[1], 'e')
  if epoch and epoch == ARGV[8]
      and tonumber(redis.call('HGET', KEYS[1], 't')) < tonumber(ARGV[9]) then
    -- A node saw offsets beyond the top under this epoch: Redis went back
    -- to older data (a snapshot, a lost append-only tail). Numbering on
    -- would give those offsets to other publications: a new epoch instead.
    epoch = false
  end
  if not epoch then
    -- The channel's metadata is gone (first publish, expiry, or Redis lost
    -- its data): a new epoch, and no stale entries under the new one.
    epoch = ARGV[6]
    redis.call('DEL', KEYS[2])
    redis.call('HSET', KEYS[1], 'e', epoch, 't', 0)
  end
  offset = redis.call('HINCRBY', KEYS[1], 't', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], offset .. '-0', 'd', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
if ARGV[7] ~= '0' then
  redis.call('SET', KEYS[3], offset .. ':' .. epoch, 'PX', ARGV[7])
end
redis.call('PUBLISH', ARGV[5], 'p' .. offset .. ':' .. epoch .. ':' .. ARGV[1])
return {offset, epoch, 0}
