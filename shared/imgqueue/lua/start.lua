-- Start the jobs in this worker's processing list, then pull more from the queue up to the prefetch count.
-- Called right after BLMOVE moved one id there, or with '' to resume whatever the list still holds (the
-- reply to an earlier call was lost with the connection), oldest first.
-- KEYS[1] processing list   KEYS[2] worker hash   KEYS[3] stats hash   KEYS[4] queue list
-- ARGV[1..5] the prelude's (common.lua)
-- ARGV[6] the id BLMOVE just moved, or ''   ARGV[7] worker id   ARGV[8] how many jobs to hold at most
-- Returns the record (flat field/value list) of each job started.
local wanted = tonumber(ARGV[8])
local ids
if ARGV[6] ~= '' then ids = {ARGV[6]} else ids = redis.call('LRANGE', KEYS[1], 0, -1) end
local result, first = {}, nil
for i = #ids, 1, -1 do
  local fields = start_job(ids[i], KEYS[1], KEYS[2], KEYS[3], ARGV[7])
  if fields then
    result[#result + 1] = fields
    first = first or ids[i]
  end
end
if first then
  pull_jobs(wanted - #result, KEYS[4], KEYS[1], KEYS[2], KEYS[3], ARGV[7], result)
  redis.call('HSET', KEYS[2], 'current_job', first, 'held', #result)
end
return result
