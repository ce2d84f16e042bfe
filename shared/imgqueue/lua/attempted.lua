-- One delivery attempt of a webhook message: listed (the last 50 kept), and the message pending again at
-- `next_at`, or delivered, or dead (out of the outbox). The job it tells of shows the state (field
-- 'webhook'), if the job is still there, and the event stream says so (type 'webhook').
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] message id   ARGV[4] the attempt (JSON)   ARGV[5] state after it   ARGV[6] when to try again
-- ARGV[7] the HTTP status ('' when there was no answer)
-- Returns 1, or 0 when the message's record is gone.
local id, state, next_at = ARGV[3], ARGV[5], tonumber(ARGV[6])
local key = K.delivery_prefix .. id
local subject = redis.call('HGET', key, 'subject')
if not subject then
  redis.call('ZREM', K.outbox, id)
  return 0
end
local attempts = K.delivery_prefix .. id .. ':attempts'
redis.call('RPUSH', attempts, ARGV[4])
redis.call('LTRIM', attempts, -50, -1)
redis.call('EXPIRE', attempts, TTL)
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HINCRBY', K.stats, 'webhook_attempts', 1)
if state ~= PENDING then redis.call('HINCRBY', K.stats, 'webhooks_' .. state, 1) end
redis.call('HSET', key, 'state', state, 'next_at', tostring(next_at), 'last_status', ARGV[7], 'updated_at', NOW)
redis.call('EXPIRE', key, TTL)
if state == PENDING then
  redis.call('ZADD', K.outbox, next_at, id)
  redis.call('LPUSH', K.outbox_wake, '1')  -- a dispatcher waiting longer than this wakes to wait less
  redis.call('LTRIM', K.outbox_wake, 0, 99)
else
  redis.call('ZREM', K.outbox, id)
end
if redis.call('EXISTS', hash_key(subject)) == 1 then
  redis.call('HSET', hash_key(subject), 'webhook', state)
  local event = {type = 'webhook', id = subject, message = id, webhook = state, ts = NOW_N}
  local tenant = redis.call('HGET', key, 'tenant') or ''
  if tenant ~= '' then event.tenant = tenant end
  redis.call('PUBLISH', K.channel, cjson.encode(event))
end
return 1
