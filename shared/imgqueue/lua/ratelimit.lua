-- A sliding-window rate limit (a log of recent uses, one sorted set per client): take `cost` uses if
-- they fit in `limit` per `window`, else take none. A cost of 0 takes nothing: it answers whether one
-- more use would fit (before a request whose cost is not known yet).
-- KEYS[1] the client's sorted set of use times
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] now (ms)   ARGV[4] window (ms)   ARGV[5] limit   ARGV[6] cost   ARGV[7] a unique id for this call
-- Returns {allowed 1/0, uses in the window after this call, ms until a use frees up (retry after when
-- refused; -1 when cost can never fit)}.
local now, window, limit, cost = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local function frees_at(rank)  -- when the use at this rank (0: oldest) leaves the window
  local entry = redis.call('ZRANGE', KEYS[1], rank, rank, 'WITHSCORES')
  if entry[2] then return tonumber(entry[2]) + window - now end
  return window
end
if cost == 0 then
  if used < limit then return {1, used, frees_at(0)} end
  return {0, used, frees_at(used - limit)}
end
if cost > limit then return {0, used, -1} end
if used + cost > limit then return {0, used, frees_at(used + cost - limit - 1)} end
for i = 1, cost do redis.call('ZADD', KEYS[1], now, ARGV[7] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], window)
return {1, used + cost, frees_at(0)}
