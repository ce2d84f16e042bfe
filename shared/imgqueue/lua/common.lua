-- The prelude of every imgqueue script. Python (store/scripts.py) puts the constants in front of it, so
-- that no script spells a status, a priority or a key name:
--   S (the statuses by name), MAY (the moves status.NEXT allows, as 'from>to'), TERMINAL,
--   PRIORITIES (highest first), TURNS (the priorities each turn of the weighted round tries, all of them
--   per turn, flat), BUCKETS (the histograms' upper bounds, as numbers and as field names) and K (the key
--   names, from keys.py).
-- Every script passes two arguments first:
--   ARGV[1] now (epoch seconds, 3 decimals)   ARGV[2] job TTL (seconds)
-- A script's own arguments start at ARGV[3]; its header lists them.
local NOW = ARGV[1]
local NOW_N = tonumber(NOW)
local TTL = tonumber(ARGV[2])

local function status_key(id) return K.job_prefix .. id .. K.status_suffix end
local function hash_key(id) return K.job_prefix .. id end
-- A tenant's queue of one priority. The open tenant's normal queue is the Node demo's list (image_jobs).
local function queue_key(priority, tenant)
  if priority == K.default_priority and tenant == '' then return K.legacy end
  return K.queue_prefix .. priority .. ':' .. tenant
end
local function ring_key(priority) return K.ring_prefix .. priority end

local function get_status(id)
  local st = redis.call('GET', status_key(id))
  if not st then return nil end
  return st
end

-- Whether a job in status `from` may move to `to` (status.NEXT).
local function may(from, to)
  return from ~= nil and MAY[from .. '>' .. to] == true
end

-- The live counts (K.count): jobs in each status that is not final (but processing: the workers' registry
-- tells those), queued ones per priority ('queued:<priority>'); and the jobs each tenant has processing
-- (K.running), for its concurrency cap. With a `tally` (a table), the counts add up there, for
-- flush_counts to write at once.
local function count(status, owner, delta, tally)
  local hash, field = K.count, status
  if status == S.PROCESSING then
    hash, field = K.running, owner[2]
  elseif TERMINAL[status] then
    return
  elseif status == S.QUEUED then
    field = status .. ':' .. owner[3]  -- per priority (their sum is the queued jobs)
  end
  if tally then
    tally[#tally + 1] = {hash, field, delta}
  elseif redis.call('HINCRBY', hash, field, delta) < 0 then
    redis.call('HSET', hash, field, 0)  -- a job counted by no one (queued by 0.1) leaves no debt
  end
end

local function flush_counts(tally)
  local sums, order = {}, {}
  for _, t in ipairs(tally) do
    local k = t[1] .. '\0' .. t[2]
    if not sums[k] then sums[k] = 0; order[#order + 1] = t end
    sums[k] = sums[k] + t[3]
  end
  for _, t in ipairs(order) do redis.call('HINCRBY', t[1], t[2], sums[t[1] .. '\0' .. t[2]]) end
end

-- Who a job belongs to: {batch, tenant, priority, callback url, trace id}.
local function owner_of(id)
  local owner = redis.call('HMGET', hash_key(id), 'batch', 'tenant', 'priority', 'callback_url', 'trace_id')
  owner[2], owner[3], owner[4], owner[5] = owner[2] or '', owner[3] or K.default_priority, owner[4] or '', owner[5] or ''
  return owner
end

-- Webhooks: the outbox. A message about a job or a batch is written in the same step as the transition it
-- tells of: its record (K.delivery_prefix .. id, pending, due now), its place in K.outbox, its subject's
-- list, and a token that wakes a dispatcher. Sent to `url`, or when that is empty to the tenant's endpoint;
-- with neither, nothing is written. Its id, the subject and the subject's count of messages (`counter`:
-- {hash, field}), stays the same on every attempt, so a receiver can drop repeats.
local function notify(event, subject, tenant, url, counter)
  if url == '' and (tenant == '' or (redis.call('HGET', K.endpoint_prefix .. tenant, 'url') or '') == '') then
    return
  end
  local id = 'msg_' .. subject .. '_' .. redis.call('HINCRBY', counter[1], counter[2], 1)
  local key = K.delivery_prefix .. id
  redis.call('HSET', key, 'event', event, 'subject', subject, 'tenant', tenant, 'url', url, 'created_at', NOW,
    'state', PENDING, 'attempts', 0, 'next_at', NOW)
  redis.call('EXPIRE', key, TTL)
  redis.call('ZADD', K.outbox, NOW, id)
  local list = K.deliveries_prefix .. subject
  redis.call('RPUSH', list, id)
  redis.call('EXPIRE', list, TTL)
  redis.call('LPUSH', K.outbox_wake, '1')
  redis.call('LTRIM', K.outbox_wake, 0, 99)
end

-- One of a batch's jobs ended (`status`): the batch's counts; once every job it expects has ended,
-- BATCH_COMPLETED, published and sent, once.
local function batch_ended(batch, status, tenant)
  local key = K.batch_prefix .. batch
  if redis.call('EXISTS', key) == 0 then return end  -- a POST /jobs batch from before 0.6, or expired
  redis.call('HINCRBY', key, status, 1)
  local ended = redis.call('HINCRBY', key, 'ended', 1)
  local b = redis.call('HMGET', key, 'expected', 'callback_url', 'completed_at')
  if ended < (tonumber(b[1]) or 0) or (b[3] and b[3] ~= '') then return end
  redis.call('HSET', key, 'completed_at', NOW)
  local event = {type = 'batch', event = BATCH_COMPLETED, id = batch, batch = batch, ts = NOW_N}
  if tenant ~= '' then event.tenant = tenant end
  redis.call('PUBLISH', K.channel, cjson.encode(event))
  notify(BATCH_COMPLETED, batch, tenant, b[2] or '', {key, 'notices'})
end

-- A job reached an ended status: its batch counts it, and its webhook message is written.
local function ended(id, to, owner)
  if owner[1] and owner[1] ~= '' then batch_ended(owner[1], to, owner[2]) end
  notify(EVENTS[to], id, owner[2], owner[4], {hash_key(id), 'notices'})
end

-- A job now in status `to` (its record written): the status key, both TTLs, the live counts (or the
-- `tally`), and the transition published.
local function announce(id, from, to, owner, extra, tally)
  redis.call('SET', status_key(id), to, 'EX', TTL)
  redis.call('EXPIRE', hash_key(id), TTL)
  if from then count(from, owner, -1, tally) end
  count(to, owner, 1, tally)
  local event = {id = id, status = to, ts = NOW_N}
  if owner[1] and owner[1] ~= '' then event.batch = owner[1] end
  if owner[2] ~= '' then event.tenant = owner[2] end
  if owner[5] and owner[5] ~= '' then event.trace = owner[5] end
  if extra then
    for i = 1, #extra, 2 do
      local k = extra[i]
      if k == 'worker' or k == 'error' or k == 'error_code' or k == 'duration_ms' then event[k] = extra[i + 1] end
    end
  end
  redis.call('PUBLISH', K.channel, cjson.encode(event))
end

-- Move a job from status `from` to `to`, with `extra` fields: its record, then announce(). Callers check
-- may() first.
local function set_status(id, from, to, extra)
  local args = {'status', to, 'updated_at', NOW}
  if extra then
    for i = 1, #extra do args[#args + 1] = extra[i] end
  end
  redis.call('HSET', hash_key(id), unpack(args))
  local owner = owner_of(id)
  announce(id, from, to, owner, extra)
  if TERMINAL[to] then ended(id, to, owner) end
end

-- Fair share. The tenants with jobs queued at a priority sit in that priority's round (a sorted set) scored
-- by their recent use of the workers at that priority: each job taken adds 2^((now - base) / half-life) to
-- its tenant's score, which orders tenants exactly as if every past job's weight halved each half-life. The
-- tenant that used least goes next: a tenant's small batch is served before another's big import, and
-- tenants that both keep the workers busy take turns. A tenant leaves the round when its queue is empty,
-- its score kept in K.usage ('<priority>:<tenant>') for when it comes back. The weights are brought back
-- near 1 (every score scaled down alike) once they pass 2^40.
local function rebase(exponent)
  local factor = 2 ^ (0 - exponent)
  local used = redis.call('HGETALL', K.usage)
  for i = 1, #used, 2 do
    local scaled = tonumber(used[i + 1]) * factor
    if scaled < 1e-9 then redis.call('HDEL', K.usage, used[i]) else redis.call('HSET', K.usage, used[i], scaled) end
  end
  for _, priority in ipairs(PRIORITIES) do
    local round = redis.call('ZRANGE', ring_key(priority), 0, -1, 'WITHSCORES')
    for i = 1, #round, 2 do redis.call('ZADD', ring_key(priority), tonumber(round[i + 1]) * factor, round[i]) end
  end
  redis.call('SET', K.fair_base, NOW)
end

local function job_weight(half_life)
  local base = tonumber(redis.call('GET', K.fair_base) or '')
  if not base then
    redis.call('SET', K.fair_base, NOW)
    return 1
  end
  local exponent = (NOW_N - base) / half_life
  if exponent > 40 then
    rebase(exponent)
    return 1
  end
  return 2 ^ exponent
end

-- Put a job at the back (LPUSH) or the head (RPUSH) of its tenant's queue, and its tenant in the round.
-- `owner`: owner_of(id), when the caller has it already.
local function push(id, at_head, owner)
  owner = owner or owner_of(id)
  local tenant, priority = owner[2], owner[3]
  local q = queue_key(priority, tenant)
  local length
  if at_head then length = redis.call('RPUSH', q, id) else length = redis.call('LPUSH', q, id) end
  if length == 1 then
    redis.call('ZADD', ring_key(priority), 'NX', redis.call('HGET', K.usage, priority .. ':' .. tenant) or 0, tenant)
  end
end

-- Histograms (processing time, queue wait): a hash whose fields are the bucket upper bounds (BUCKETS,
-- from store.counters.HISTOGRAM_BUCKETS) and '+Inf', each counting the observations of its bucket alone,
-- and 'sum_us', the sum in whole microseconds (HINCRBY is much cheaper than HINCRBYFLOAT). The count is
-- the sum of the buckets. store.counters.Histogram reads them.
local function observe(hist, value)
  local field = '+Inf'
  for i = 1, #BUCKETS, 2 do
    if value <= BUCKETS[i] then field = BUCKETS[i + 1]; break end
  end
  redis.call('HINCRBY', hist, field, 1)
  redis.call('HINCRBY', hist, 'sum_us', math.floor(value * 1e6 + 0.5))
end

local function hash_fields(id)
  return redis.call('HGETALL', hash_key(id))
end

-- Jobs whose time has come (a delay, a retry's backoff): to the back of their queue. At most `most`.
local function promote_due(most)
  local moved = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', NOW, 'LIMIT', 0, most)) do
    redis.call('ZREM', K.scheduled, id)
    local st = get_status(id)
    if st == S.RETRYING or st == S.DELAYED then
      set_status(id, st, S.QUEUED, {'worker', ''})
      push(id, false)
      moved = moved + 1
    end
  end
  return moved
end

-- Start a job that sits in this worker's processing list: status processing, attempts + 1. Returns the
-- record, or nil when the entry was stale (job finished, cancelled, expired or already running elsewhere)
-- and has been dropped from the list.
local function start_job(id, processing, worker_hash, worker_id)
  local st = get_status(id)
  if st == S.PROCESSING and redis.call('HGET', hash_key(id), 'worker') == worker_id then
    return hash_fields(id)  -- ours already: an earlier reply was lost on the way back
  end
  if not may(st, S.PROCESSING) then
    redis.call('LREM', processing, 1, id)
    return nil
  end
  redis.call('HINCRBY', hash_key(id), 'attempts', 1)
  set_status(id, st, S.PROCESSING, {'started_at', NOW, 'worker', worker_id})
  redis.call('HSET', worker_hash, 'current_job', id, 'job_started', NOW)
  redis.call('HINCRBY', K.stats, 'started', 1)
  return hash_fields(id)
end

-- Take the oldest job of the first tenant of a round that is under its concurrency cap (`cap` > 0), and
-- charge that tenant for it. A tenant whose queue turns out empty leaves the round (it is not checked at
-- each take: one command less). Returns nil if none.
local function take_from_round(priority, processing, cap, weight)
  local round, offset = ring_key(priority), 0
  while true do
    local tenants = redis.call('ZRANGE', round, offset, offset + 49)
    if #tenants == 0 then return nil end
    local left = 0
    for _, tenant in ipairs(tenants) do
      local capped = cap > 0 and tonumber(redis.call('HGET', K.running, tenant) or '0') >= cap
      if not capped then
        local id = redis.call('LMOVE', queue_key(priority, tenant), processing, 'RIGHT', 'LEFT')
        if id then
          redis.call('ZINCRBY', round, weight, tenant)
          return id
        end
        -- Its queue is empty: out of the round until a job comes, its score kept.
        redis.call('HSET', K.usage, priority .. ':' .. tenant, redis.call('ZSCORE', round, tenant))
        redis.call('ZREM', round, tenant)
        left = left + 1
      end
    end
    offset = offset + #tenants - left
  end
end

-- The next job id, moved to `processing`: priorities by weighted turns (TURNS), within a priority the
-- tenant that used the workers least lately (fair share, above), FIFO within a tenant's queue. Returns
-- nil when nothing can be taken.
local function take_id(processing, fair)
  local n = #PRIORITIES
  fair.turn = fair.turn + 1
  local turn = fair.turn % (#TURNS / n)
  fair.weight = fair.weight or job_weight(fair.half_life)
  for i = n * turn + 1, n * turn + n do
    local priority = TURNS[i]
    if not fair.empty[priority] then
      local id = take_from_round(priority, processing, fair.cap, fair.weight)
      if id then return id end
      fair.empty[priority] = true  -- for the rest of this call: one command less per take
    end
  end
  -- Jobs a 0.1 API queued sit in the demo's list with no round that knows of them: add its tenant.
  local round = ring_key(K.default_priority)
  if redis.call('LLEN', K.legacy) > 0 and not redis.call('ZSCORE', round, '') then
    redis.call('ZADD', round, redis.call('HGET', K.usage, K.default_priority .. ':') or 0, '')
    return take_from_round(K.default_priority, processing, fair.cap, fair.weight)
  end
  return nil
end

-- Take and start up to `wanted` jobs, appending each record to `result`; stale ids met on the way are
-- dropped (at most 100 of them). `fair`: {cap = a tenant's concurrency cap (0: none), half_life = seconds,
-- turn = the worker's count of takes (the weighted round's position)}. Jobs whose time has come join
-- their queues when nothing else is queued, and every 16th take (a command saved on the others). Returns
-- the first id started, or nil.
local function pull_jobs(wanted, processing, worker_hash, worker_id, fair, result)
  if wanted <= 0 then return nil end
  fair.empty = {}
  local first, taken, tries, promoted = nil, 0, 0, false
  while taken < wanted and tries < wanted + 100 do
    tries = tries + 1
    local next_id = take_id(processing, fair)
    if (not next_id or fair.turn % 16 == 0) and not promoted then
      promoted = true
      if promote_due(100) > 0 then
        fair.empty = {}
        next_id = next_id or take_id(processing, fair)
      end
    end
    if not next_id then break end
    local fields = start_job(next_id, processing, worker_hash, worker_id)
    if fields then
      result[#result + 1] = fields
      taken = taken + 1
      first = first or next_id
    end
  end
  return first
end
