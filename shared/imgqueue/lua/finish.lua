-- Record the outcomes of one or more jobs and, if asked, atomically pull and start the next ones.
-- KEYS[1] processing list   KEYS[2] worker hash   KEYS[3] stats hash   KEYS[4] queue list
-- KEYS[5] delayed set       KEYS[6] processing-time histogram   KEYS[7] queue-wait histogram
-- KEYS[8] this moment's drain counter (jobs ended per 10 s, read back by Counters.drain_rate)
-- ARGV[1..5] the prelude's (common.lua)
-- ARGV[6] worker id   ARGV[7] JSON array of outcomes {id, status: done|failed|retrying, fields, retry_at}
-- ARGV[8] how many queued jobs to pull next (0: none)   ARGV[9] histogram bucket bounds
-- ARGV[10] seconds an output is kept (OUTPUT_TTL)
-- Returns {{applied flag per outcome}, record of each job pulled...}.
local worker_id, bounds, output_ttl = ARGV[6], ARGV[9], tonumber(ARGV[10])

-- A job ended: its upload is removed (by the worker), its output (if any) is now stored.
local function ended(id, output_bytes)
  local input = tonumber(redis.call('HGET', hash_key(id), 'input_bytes') or '0') or 0
  redis.call('HINCRBY', KEYS[3], 'stored_upload_bytes', 0 - input)  -- never '-0': not an integer to Redis
  if output_bytes > 0 then redis.call('HINCRBY', KEYS[3], 'stored_output_bytes', output_bytes) end
  redis.call('INCR', KEYS[8])
  redis.call('EXPIRE', KEYS[8], 120)
end

local function done(id, extra, given)
  extra[#extra + 1] = 'output_expires_at'; extra[#extra + 1] = tostring(tonumber(NOW) + output_ttl)
  set_status(id, S.DONE, extra)
  ended(id, tonumber(given.output_bytes or 0) or 0)
  redis.call('HINCRBY', KEYS[3], S.DONE, 1)
  redis.call('HINCRBY', KEYS[2], 'jobs_done', 1)
  if given.duration_ms then observe(KEYS[6], tonumber(given.duration_ms) / 1000, bounds) end
  local times = redis.call('HMGET', hash_key(id), 'created_at', 'started_at')
  if times[1] and times[2] then
    observe(KEYS[7], math.max(0, tonumber(times[2]) - tonumber(times[1])), bounds)
  end
end

local function failed(id, extra, given)
  set_status(id, S.FAILED, extra)
  ended(id, 0)
  redis.call('HINCRBY', KEYS[3], S.FAILED, 1)
  redis.call('HINCRBY', KEYS[3], S.FAILED .. ':' .. (given.error_code or 'error'), 1)
  redis.call('HINCRBY', KEYS[2], 'jobs_failed', 1)
end

local function retrying(id, extra, retry_at)
  redis.call('HINCRBY', hash_key(id), 'retries', 1)
  set_status(id, S.RETRYING, extra)
  redis.call('ZADD', KEYS[5], retry_at, id)
  redis.call('HINCRBY', KEYS[3], 'retried', 1)
end

-- A done output is valid even if the job was meanwhile handed back to the queue (NEXT allows it); a
-- failure or a retry counts only from the worker that holds the job.
local function record(id, outcome, given, retry_at)
  redis.call('LREM', KEYS[1], 1, id)
  local st = get_status(id)
  if not may(st, outcome) then return 0 end
  local mine = (st == S.PROCESSING and redis.call('HGET', hash_key(id), 'worker') == worker_id)
  if outcome ~= S.DONE and not mine then return 0 end
  local extra = {'finished_at', NOW}
  for k, v in pairs(given) do
    extra[#extra + 1] = k; extra[#extra + 1] = tostring(v)
  end
  if outcome == S.DONE then done(id, extra, given)
  elseif outcome == S.FAILED then failed(id, extra, given)
  elseif outcome == S.RETRYING then retrying(id, extra, retry_at)
  else return 0 end
  return 1
end

local applied = {}
for i, o in ipairs(cjson.decode(ARGV[7])) do
  applied[i] = record(o.id, o.status, o.fields, o.retry_at or 0)
end
local result = {applied}
local first = pull_jobs(tonumber(ARGV[8]), KEYS[4], KEYS[1], KEYS[2], KEYS[3], worker_id, result)
if first then
  -- start_job() marked each one current: the first is the one being worked on; 'held' jobs in all.
  redis.call('HSET', KEYS[2], 'current_job', first, 'held', #result - 1)
else
  redis.call('HSET', KEYS[2], 'current_job', '', 'job_started', '', 'held', 0)
end
return result
