-- The prelude of every imgqueue script. Python (store/scripts.py) puts the status vocabulary in front of
-- it (S: the statuses by name; NEXT: which status may follow which; TERMINAL), generated from
-- imgqueue/status.py, so no script spells a status. Every script passes these five arguments first, so
-- key names stay defined only in keys.py:
--   ARGV[1] now (epoch seconds, 3 decimals)   ARGV[2] job TTL (seconds)   ARGV[3] events channel
--   ARGV[4] job key prefix ("job:")           ARGV[5] status key suffix (":status")
-- A script's own arguments start at ARGV[6]; its header lists them.
local NOW = ARGV[1]
local TTL = tonumber(ARGV[2])
local CHANNEL = ARGV[3]
local JOB_PREFIX = ARGV[4]
local STATUS_SUFFIX = ARGV[5]

local function status_key(id) return JOB_PREFIX .. id .. STATUS_SUFFIX end
local function hash_key(id) return JOB_PREFIX .. id end

local function get_status(id)
  local st = redis.call('GET', status_key(id))
  if not st then return nil end
  return st
end

-- Whether a job in status `from` may move to `to` (status.NEXT).
local function may(from, to)
  return from ~= nil and NEXT[from] ~= nil and NEXT[from][to] == true
end

-- Set the status in both places, refresh both TTLs and publish the transition. Callers check may() first.
local function set_status(id, status, extra)
  local h = hash_key(id)
  redis.call('SET', status_key(id), status, 'EX', TTL)
  local args = {'status', status, 'updated_at', NOW}
  if extra then
    for i = 1, #extra do args[#args + 1] = extra[i] end
  end
  redis.call('HSET', h, unpack(args))
  redis.call('EXPIRE', h, TTL)
  local event = {id = id, status = status, ts = tonumber(NOW)}
  local owner = redis.call('HMGET', h, 'batch', 'tenant')
  if owner[1] and owner[1] ~= '' then event.batch = owner[1] end
  if owner[2] and owner[2] ~= '' then event.tenant = owner[2] end
  if extra then
    for i = 1, #extra, 2 do
      local k = extra[i]
      if k == 'worker' or k == 'error' or k == 'error_code' or k == 'duration_ms' then event[k] = extra[i + 1] end
    end
  end
  redis.call('PUBLISH', CHANNEL, cjson.encode(event))
end

-- Histograms (processing time, queue wait): a hash whose fields are the bucket upper bounds as given
-- in `bounds` (a comma-separated string from store.counters.HISTOGRAM_BUCKETS) and '+Inf', each counting
-- the observations of its bucket alone, and 'sum_us', the sum in whole microseconds (HINCRBY is much
-- cheaper than HINCRBYFLOAT). The count is the sum of the buckets. store.counters.Histogram reads them.
local function observe(hist, value, bounds)
  local field = '+Inf'
  for b in string.gmatch(bounds, '[^,]+') do
    if value <= tonumber(b) then field = b; break end
  end
  redis.call('HINCRBY', hist, field, 1)
  redis.call('HINCRBY', hist, 'sum_us', math.floor(value * 1e6 + 0.5))
end

local function hash_fields(id)
  return redis.call('HGETALL', hash_key(id))
end

-- Start a job that sits in this worker's processing list: status processing, attempts + 1. Returns the
-- record, or nil when the entry was stale (job finished, expired or already running elsewhere) and has
-- been dropped from the list.
local function start_job(id, processing, worker_hash, stats, worker_id)
  local st = get_status(id)
  if st == S.PROCESSING and redis.call('HGET', hash_key(id), 'worker') == worker_id then
    return hash_fields(id)  -- ours already: an earlier reply was lost on the way back
  end
  if not may(st, S.PROCESSING) then
    redis.call('LREM', processing, 1, id)
    return nil
  end
  redis.call('HINCRBY', hash_key(id), 'attempts', 1)
  set_status(id, S.PROCESSING, {'started_at', NOW, 'worker', worker_id})
  redis.call('HSET', worker_hash, 'current_job', id, 'job_started', NOW)
  redis.call('HINCRBY', stats, 'started', 1)
  return hash_fields(id)
end

-- Move up to `wanted` jobs from the queue's head to the processing list (LMOVE) and start each one,
-- appending its record to `result`; stale ids met on the way are dropped (at most 100 of them).
-- Returns the first id started, or nil.
local function pull_jobs(wanted, queue, processing, worker_hash, stats, worker_id, result)
  local first, taken, tries = nil, 0, 0
  while taken < wanted and tries < wanted + 100 do
    tries = tries + 1
    local next_id = redis.call('LMOVE', queue, processing, 'RIGHT', 'LEFT')
    if not next_id then break end
    local fields = start_job(next_id, processing, worker_hash, stats, worker_id)
    if fields then
      result[#result + 1] = fields
      taken = taken + 1
      first = first or next_id
    end
  end
  return first
end
