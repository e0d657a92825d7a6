-- Reads a channel's position and, optionally, a range of its history in
-- one atomic step; creates the metadata (a new epoch) when it is missing,
-- so that the position a reader sees stays valid.
-- KEYS[1] meta HASH, KEYS[2] history STREAM.
-- ARGV[1] epoch to use when the meta is missing, ARGV[2] meta TTL ms,
-- ARGV[3] history size (entries at or below top - size are trimmed
-- lazily by MAXLEN ~ and must not count), ARGV[4] limit (0: position
-- only), ARGV[5] direction ('f' forward, 'r' reverse), ARGV[6] bound: the
-- first offset wanted (forward) or the last one (reverse; 0 = the top),
-- ARGV[7] and ARGV[8]: the highest position (epoch, offset) the calling
-- node saw in this channel ('' and 0: none).
-- Returns {top, epoch, offset1, data1, offset2, data2, ...}.
local epoch = redis.call('HGET', KEYS[1], 'e')
local top = 0
if epoch and epoch == ARGV[7]
    and tonumber(redis.call('HGET', KEYS[1], 't')) < tonumber(ARGV[8]) then
  -- Redis went back to older data (see publish.lua): a new epoch.
  epoch = false
end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 't', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  top = tonumber(redis.call('HGET', KEYS[1], 't'))
end
local result = {top, epoch}
local limit = tonumber(ARGV[4])
if limit == 0 or top == 0 then
  return result
end
local lowest = math.max(1, top - tonumber(ARGV[3]) + 1)
local bound = tonumber(ARGV[6])
local entries
if ARGV[5] == 'f' then
  local first = math.max(lowest, bound)
  if first > top then
    return result
  end
  entries = redis.call('XRANGE', KEYS[2], first .. '-0', '+', 'COUNT', limit)
else
  local last = top
  if bound > 0 then
    last = math.min(top, bound)
  end
  if last < lowest then
    return result
  end
  entries = redis.call('XREVRANGE', KEYS[2], last .. '-0', lowest .. '-0', 'COUNT', limit)
end
for _, entry in ipairs(entries) do
  local id = entry[1]
  result[#result + 1] = tonumber(string.sub(id, 1, string.find(id, '-', 1, true) - 1))
  result[#result + 1] = entry[2][2]
end
return result
