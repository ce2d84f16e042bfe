-- Record the outcomes of one or more jobs and, if asked, atomically take and start the next ones.
-- KEYS[1] processing list   KEYS[2] worker hash   KEYS[3] processing-time histogram
-- KEYS[4] queue-wait histogram   KEYS[5] this moment's drain counter (jobs ended per 10 s)
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] worker id   ARGV[4] JSON array of outcomes {id, status: done|failed|retrying|cancelled (the worker
-- stopped at a checkpoint), fields, retry_at}
-- ARGV[5] how many jobs to take next (0: none)   ARGV[6] seconds an output is kept (OUTPUT_TTL)
-- ARGV[7] a tenant's concurrency cap (0: none)   ARGV[8] fair share's half-life (seconds)
-- ARGV[9] JSON of the retention: {done: [most jobs kept, most seconds], failed: [...]} (0: no limit)
-- ARGV[10] the worker's count of takes so far
-- Returns {{per outcome: 1 applied, 0 refused (the job moved on without us), 2 refused because the job was
-- cancelled (its output must be discarded)}, {input keys of jobs the retention removed}, record of each
-- job taken...}.
local worker_id, output_ttl = ARGV[3], tonumber(ARGV[6])
local fair = {cap = tonumber(ARGV[7]), half_life = tonumber(ARGV[8]), turn = tonumber(ARGV[10])}
local retention = cjson.decode(ARGV[9])
local removed_inputs = {}

local function drained()
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], 120)
end

-- Past the retention of its kind (how many, how old), the oldest ended jobs go, ten at most per call:
-- records and status keys (their inputs are returned for the worker to remove). The ended jobs of a kind
-- are a list, newest first.
local function retain(status, id)
  local kept = retention[status]
  if not kept then return end
  local ended = K.ended_prefix .. status
  redis.call('LPUSH', ended, id)
  for _ = 1, 10 do
    local oldest = redis.call('LINDEX', ended, -1)
    if not oldest then return end
    local finished = tonumber(redis.call('HGET', hash_key(oldest), 'finished_at') or '0') or 0
    local over = kept[1] > 0 and redis.call('LLEN', ended) > kept[1]
    local old = kept[2] > 0 and finished < NOW_N - kept[2]
    local gone = get_status(oldest) ~= status  -- expired, or retried since: no longer an ended one of these
    if not (over or old or gone) then return end
    redis.call('RPOP', ended)
    if not gone then
      local input = redis.call('HGET', hash_key(oldest), 'input_key')
      if input and input ~= '' then removed_inputs[#removed_inputs + 1] = input end
      redis.call('DEL', hash_key(oldest), status_key(oldest))
    end
  end
end

local function done(id, st, extra, given)
  extra[#extra + 1] = 'output_expires_at'; extra[#extra + 1] = tostring(NOW_N + output_ttl)
  set_status(id, st, S.DONE, extra)
  local record = redis.call('HMGET', hash_key(id), 'input_bytes', 'created_at', 'started_at', 'content', 'tenant')
  redis.call('HINCRBY', K.stats, 'stored_upload_bytes', 0 - (tonumber(record[1] or '0') or 0))  -- never '-0'
  local output = tonumber(given.output_bytes or 0) or 0
  if output > 0 then redis.call('HINCRBY', K.stats, 'stored_output_bytes', output) end
  drained()
  redis.call('HINCRBY', K.stats, S.DONE, 1)
  redis.call('HINCRBY', KEYS[2], 'jobs_done', 1)
  if given.duration_ms then observe(KEYS[3], tonumber(given.duration_ms) / 1000) end
  if record[2] and record[3] then observe(KEYS[4], math.max(0, tonumber(record[3]) - tonumber(record[2]))) end
  if record[2] then observe(K.latency, math.max(0, NOW_N - tonumber(record[2]))) end  -- upload to done
  if record[4] and record[4] ~= '' then  -- the next identical upload of this tenant can share this output
    redis.call('SET', K.content_prefix .. (record[5] or '') .. ':' .. record[4], id, 'EX', output_ttl)
  end
  retain(S.DONE, id)
end

local function failed(id, st, extra, given)
  set_status(id, st, S.FAILED, extra)  -- its upload is kept: the job may be retried
  drained()
  redis.call('HINCRBY', K.stats, S.FAILED, 1)
  redis.call('HINCRBY', K.stats, S.FAILED .. ':' .. (given.error_code or 'error'), 1)
  redis.call('HINCRBY', KEYS[2], 'jobs_failed', 1)
  retain(S.FAILED, id)
end

local function retrying(id, st, extra, retry_at)
  redis.call('HINCRBY', hash_key(id), 'retries', 1)
  set_status(id, st, S.RETRYING, extra)
  redis.call('ZADD', K.scheduled, retry_at, id)
  redis.call('HINCRBY', K.stats, 'retried', 1)
end

-- A done output is valid even if the job was meanwhile handed back to the queue (NEXT allows it); a
-- failure or a retry counts only from the worker that holds the job.
local function record(id, outcome, given, retry_at)
  redis.call('LREM', KEYS[1], 1, id)
  local st = get_status(id)
  if st == S.CANCELLED then return 2 end
  if outcome == S.CANCELLED then return 0 end  -- the worker stopped: the job is no longer its own
  if not may(st, outcome) then return 0 end
  local mine = (st == S.PROCESSING and redis.call('HGET', hash_key(id), 'worker') == worker_id)
  if outcome ~= S.DONE and not mine then return 0 end
  local extra = {'finished_at', NOW}
  for k, v in pairs(given) do
    extra[#extra + 1] = k; extra[#extra + 1] = tostring(v)
  end
  if outcome == S.DONE then done(id, st, extra, given)
  elseif outcome == S.FAILED then failed(id, st, extra, given)
  elseif outcome == S.RETRYING then retrying(id, st, extra, retry_at)
  else return 0 end
  return 1
end

local applied = {}
for i, o in ipairs(cjson.decode(ARGV[4])) do
  applied[i] = record(o.id, o.status, o.fields, o.retry_at or 0)
end
local result = {applied, removed_inputs}
local first = pull_jobs(tonumber(ARGV[5]), KEYS[1], KEYS[2], worker_id, fair, result)
if first then
  -- start_job() marked each one current: the first is the one being worked on; 'held' jobs in all.
  redis.call('HSET', KEYS[2], 'current_job', first, 'held', #result - 2)
else
  redis.call('HSET', KEYS[2], 'current_job', '', 'job_started', '', 'held', 0)
end
return result
