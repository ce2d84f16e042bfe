-- Queue jobs: for each, write its record and status, index it, push it and publish its queued event, all in
-- one atomic script, so that no worker can take an id whose record does not exist yet. Refused as a
-- whole, with nothing written, when the queue would grow past its limit (as RabbitMQ's reject-publish).
-- KEYS[1] queue list   KEYS[2] index (sorted set)   KEYS[3] stats hash
-- ARGV[1..5] the prelude's (common.lua)
-- ARGV[6] JSON array of {i: id, f: [field, value, ...], c: created_at, b: batch or absent, t: tenant or absent}
-- ARGV[7] bytes uploaded   ARGV[8] prefix of the per-tenant indexes
-- ARGV[9] most jobs the queue may hold (0: no limit)   ARGV[10] jobs this enqueue adds in all (its chunks)
-- Returns {1, depth after} when queued, {0, depth} when refused.
local limit, adding = tonumber(ARGV[9]), tonumber(ARGV[10])
if limit > 0 and adding > 0 then
  local depth = redis.call('LLEN', KEYS[1])
  if depth + adding > limit then return {0, depth} end
end
local jobs = cjson.decode(ARGV[6])
for _, j in ipairs(jobs) do
  local h = hash_key(j.i)
  redis.call('HSET', h, unpack(j.f))
  redis.call('EXPIRE', h, TTL)
  redis.call('SET', status_key(j.i), S.QUEUED, 'EX', TTL)
  redis.call('ZADD', KEYS[2], j.c, j.i)
  if j.t then
    redis.call('ZADD', ARGV[8] .. j.t, j.c, j.i)
    redis.call('ZREMRANGEBYSCORE', ARGV[8] .. j.t, '-inf', tonumber(NOW) - TTL)
  end
  redis.call('LPUSH', KEYS[1], j.i)
  local event = {id = j.i, status = S.QUEUED, ts = j.c}
  if j.b then event.batch = j.b end
  if j.t then event.tenant = j.t end
  redis.call('PUBLISH', CHANNEL, cjson.encode(event))
end
redis.call('HINCRBY', KEYS[3], 'enqueued', #jobs)
redis.call('HINCRBY', KEYS[3], 'upload_bytes', tonumber(ARGV[7]))
redis.call('HINCRBY', KEYS[3], 'stored_upload_bytes', tonumber(ARGV[7]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(NOW) - TTL)
return {1, redis.call('LLEN', KEYS[1])}
