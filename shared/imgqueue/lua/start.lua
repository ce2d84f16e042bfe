-- Start the jobs in this worker's processing list, then take more up to the prefetch count.
-- Called with '' to resume whatever the list still holds (the reply to an earlier call was lost with the
-- connection), oldest first, then to take new jobs (common.lua: pull_jobs).
-- KEYS[1] processing list   KEYS[2] worker hash
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] worker id   ARGV[4] how many jobs to hold at most   ARGV[5] a tenant's concurrency cap (0: none)
-- ARGV[6] fair share's half-life (seconds)   ARGV[7] the worker's count of takes so far
-- Returns the record (flat field/value list) of each job started.
local wanted = tonumber(ARGV[4])
local fair = {cap = tonumber(ARGV[5]), half_life = tonumber(ARGV[6]), turn = tonumber(ARGV[7])}
local result, first = {}, nil
local held = redis.call('LRANGE', KEYS[1], 0, -1)  -- newest first: started from the end
for i = #held, 1, -1 do
  local fields = start_job(held[i], KEYS[1], KEYS[2], ARGV[3])
  if fields then
    result[#result + 1] = fields
    first = first or held[i]
  end
end
first = first or pull_jobs(wanted - #result, KEYS[1], KEYS[2], ARGV[3], fair, result)
if first then redis.call('HSET', KEYS[2], 'current_job', first, 'held', #result) end
return result
