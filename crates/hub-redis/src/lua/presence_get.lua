-- Drops the members whose expiry passed, then returns the infos of the
-- live ones.
-- KEYS[1] ZSET, KEYS[2] HASH.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
  -- HDEL in chunks: unpack() of a long list overflows Lua's stack.
  for first = 1, #expired, 1000 do
    redis.call('HDEL', KEYS[2], unpack(expired, first, math.min(first + 999, #expired)))
  end
end
return redis.call('HVALS', KEYS[2])
