-- Queue jobs: for each, write its record and status, index it, and either push it onto its tenant's queue
-- of its priority or, when it is due later, schedule it (delayed); publish its event. All in one atomic
-- script, so that no worker can take an id whose record does not exist yet. Refused as a whole, with
-- nothing written, when the queue would hold more than its limit (as RabbitMQ's reject-publish).
-- A job that duplicates a done one (same bytes, same spec, same tenant) is created done at once, sharing
-- that job's output, if the original is still done and its output kept; else the script reports it.
-- KEYS[1] index (sorted set)   KEYS[2] stats hash
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] JSON array of {i: id, f: [field, value, ...], c: created_at, n: bytes uploaded, b: batch?,
--         t: tenant?, p: priority?, r: run_at?, d: id of the done job it duplicates?, x: trace id?}
-- ARGV[4] prefix of the per-tenant indexes
-- ARGV[5] most jobs the queue may hold, queued and delayed (0: no limit)   ARGV[6] jobs this enqueue adds
-- in all (its chunks)   ARGV[7] seconds an output is kept (OUTPUT_TTL)
-- Counts the bytes of the uploads it accepts (upload_bytes) and of those it keeps (stored_upload_bytes:
-- a duplicate's upload is not kept; a stale duplicate is counted when it is queued again).
-- Returns {1, depth after, {ids of duplicates whose original is no longer usable}} when queued,
-- {0, depth} when refused.
local limit, adding, output_ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local counted = {S.DELAYED}
for _, priority in ipairs(PRIORITIES) do counted[#counted + 1] = S.QUEUED .. ':' .. priority end
local function depth()
  local total = 0
  for _, n in ipairs(redis.call('HMGET', K.count, unpack(counted))) do total = total + (tonumber(n) or 0) end
  return total
end
if limit > 0 and adding > 0 and depth() + adding > limit then return {0, depth()} end

-- Done at once, sharing the original's output, or false when the original is gone, not done, or its
-- output expired.
local function duplicate(j)
  local o = redis.call('HMGET', hash_key(j.d), 'output_key', 'output_expires_at', 'output_width',
    'output_height', 'output_bytes', 'output_format', 'engine', 'variants', 'placeholder')
  if get_status(j.d) ~= S.DONE or not o[1] or tonumber(o[2] or '0') <= NOW_N then return false end
  local expires = NOW_N + output_ttl
  redis.call('HSET', hash_key(j.i), unpack(j.f))
  redis.call('HSET', hash_key(j.i), 'output_key', o[1], 'output_width', o[3] or '0', 'output_height', o[4] or '0',
    'output_bytes', o[5] or '0', 'output_format', o[6] or '', 'engine', o[7] or '', 'duplicate_of', j.d,
    'input_key', '', 'finished_at', NOW, 'output_expires_at', tostring(expires), 'variants', o[8] or '',
    'placeholder', o[9] or '')
  -- The sweep keeps a shared output while a job wants it: each of a set's outputs.
  redis.call('ZADD', K.wanted, 'GT', expires, o[1])
  if o[8] and o[8] ~= '' then
    for _, v in ipairs(cjson.decode(o[8])) do redis.call('ZADD', K.wanted, 'GT', expires, v.key) end
  end
  redis.call('HINCRBY', K.stats, 'deduplicated', 1)
  set_status(j.i, nil, S.DONE)
  return true
end

local jobs, stale, tally, woken, uploaded, stored = cjson.decode(ARGV[3]), {}, {}, 0, 0, 0
for _, j in ipairs(jobs) do
  local created = true
  if j.d then
    created = duplicate(j)
    if not created then stale[#stale + 1] = j.i end
  else
    stored = stored + j.n
    local owner = {j.b or '', j.t or '', j.p or K.default_priority, '', j.x or ''}
    local status = S.QUEUED
    if j.r and tonumber(j.r) > NOW_N then status = S.DELAYED end
    local f = j.f
    f[#f + 1] = 'status'; f[#f + 1] = status; f[#f + 1] = 'updated_at'; f[#f + 1] = NOW
    redis.call('HSET', hash_key(j.i), unpack(f))
    announce(j.i, nil, status, owner, nil, tally)
    if status == S.DELAYED then
      redis.call('ZADD', K.scheduled, j.r, j.i)
    else
      push(j.i, false, owner)
      woken = woken + 1
    end
  end
  if created then
    uploaded = uploaded + j.n
    redis.call('ZADD', KEYS[1], j.c, j.i)
    if j.t then
      redis.call('ZADD', ARGV[4] .. j.t, j.c, j.i)
      redis.call('ZREMRANGEBYSCORE', ARGV[4] .. j.t, '-inf', NOW_N - TTL)
    end
  end
end
flush_counts(tally)
if woken > 0 then  -- a token per waiting job wakes an idle worker; a thousand are plenty
  local tokens = {}
  for i = 1, math.min(woken, 1000) do tokens[i] = '1' end
  redis.call('LPUSH', K.wake, unpack(tokens))
end
redis.call('LTRIM', K.wake, 0, 999)
redis.call('HINCRBY', KEYS[2], 'enqueued', #jobs - #stale)
redis.call('HINCRBY', KEYS[2], 'upload_bytes', uploaded)
redis.call('HINCRBY', KEYS[2], 'stored_upload_bytes', stored)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', NOW_N - TTL)
return {1, depth(), stale}
