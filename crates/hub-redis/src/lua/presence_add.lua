-- Adds or refreshes one member: a ZSET scored by its expiry (Redis's own
-- clock, the same for every node) and a HASH holding its info. A member
-- that its node stops refreshing disappears within the TTL.
-- KEYS[1] ZSET, KEYS[2] HASH; ARGV[1] member id, ARGV[2] info, ARGV[3] TTL ms.
local now = redis.call('TIME')
local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
