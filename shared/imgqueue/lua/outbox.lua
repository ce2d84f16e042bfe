-- Claim the webhook messages that are due, for one dispatcher. Each stays in the outbox, due again when
-- its lease ends: a dispatcher that dies holding one leaves it to another (at least once).
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] most messages to claim   ARGV[4] the lease (seconds)
-- Returns {time the next message is due ('' when none), id, {field, value, ...}, id, {...}, ...}.
local most, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {''}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.outbox, '-inf', NOW, 'LIMIT', 0, most)) do
  local fields = redis.call('HGETALL', K.delivery_prefix .. id)
  if #fields == 0 then
    redis.call('ZREM', K.outbox, id)  -- its record expired
  else
    redis.call('ZADD', K.outbox, NOW_N + lease, id)
    out[#out + 1] = id
    out[#out + 1] = fields
  end
end
local next_due = redis.call('ZRANGE', K.outbox, 0, 0, 'WITHSCORES')
if next_due[2] then out[1] = next_due[2] end
return out
