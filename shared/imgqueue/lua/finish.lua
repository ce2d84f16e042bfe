-- Record a job's outcome and, if asked, atomically take and start the next queued job.
-- KEYS[1] processing list, KEYS[2] worker hash, KEYS[3] stats, KEYS[4] queue, KEYS[5] delayed set,
-- KEYS[6] processing-time histogram, KEYS[7] queue-wait histogram.
-- ARGV[6] job id, ARGV[7] worker id, ARGV[8] outcome: done | failed | retry,
-- ARGV[9] retry-at time, ARGV[10] '1' to claim the next job, ARGV[11] JSON object of fields to store,
-- ARGV[12] histogram bucket bounds.
local id, worker_id, outcome = ARGV[6], ARGV[7], ARGV[8]
redis.call('LREM', KEYS[1], 1, id)
local st = get_status(id)
local owner = redis.call('HGET', hash_key(id), 'worker')
local mine = (st == 'processing' and owner == worker_id)
local extra = {'finished_at', NOW}
local given = cjson.decode(ARGV[11])
for k, v in pairs(given) do
  table.insert(extra, k); table.insert(extra, tostring(v))
end
local applied = 0
if outcome == 'done' then
  -- A finished output is valid even if the job was meanwhile handed back to the queue.
  if st == 'processing' or st == 'queued' or st == 'retrying' then
    set_status(id, 'done', extra)
    redis.call('HINCRBY', KEYS[3], 'done', 1)
    if given.duration_ms then observe(KEYS[6], tonumber(given.duration_ms) / 1000, ARGV[12]) end
    local times = redis.call('HMGET', hash_key(id), 'created_at', 'started_at')
    if times[1] and times[2] then observe(KEYS[7], math.max(0, tonumber(times[2]) - tonumber(times[1])), ARGV[12]) end
    applied = 1
  end
elseif mine and outcome == 'failed' then
  set_status(id, 'failed', extra)
  redis.call('HINCRBY', KEYS[3], 'failed', 1)
  redis.call('HINCRBY', KEYS[3], 'failed:' .. (given.error_code or 'error'), 1)
  applied = 1
elseif mine and outcome == 'retry' then
  redis.call('HINCRBY', hash_key(id), 'retries', 1)
  set_status(id, 'retrying', extra)
  redis.call('ZADD', KEYS[5], ARGV[9], id)
  redis.call('HINCRBY', KEYS[3], 'retried', 1)
  applied = 1
end
if applied == 1 and outcome == 'done' then redis.call('HINCRBY', KEYS[2], 'jobs_done', 1) end
if applied == 1 and outcome == 'failed' then redis.call('HINCRBY', KEYS[2], 'jobs_failed', 1) end
if ARGV[10] == '1' then
  for _ = 1, 100 do
    local next_id = redis.call('LMOVE', KEYS[4], KEYS[1], 'RIGHT', 'LEFT')
    if not next_id then break end
    local fields = claim(next_id, KEYS[1], KEYS[2], KEYS[3], worker_id)  -- sets current_job
    if fields then return {applied, fields} end
  end
end
redis.call('HSET', KEYS[2], 'current_job', '', 'job_started', '')
return {applied}
