-- Enqueue a caller, or find the place it already holds (a re-entering caller keeps its place).
-- KEYS[1] waiting zset, KEYS[2] entry hash
-- ARGV[1] uniqueid, ARGV[2] score, then field/value pairs for the entry hash
-- Returns {position (0-based), existing (0/1)}
local existing = redis.call('EXISTS', KEYS[2])
if existing == 0 then
  local fields = {}
  for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
return {redis.call('ZRANK', KEYS[1], ARGV[1]), existing}
