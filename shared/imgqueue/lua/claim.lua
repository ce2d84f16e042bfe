-- Start jobs from this worker's processing list.
-- KEYS[1] processing list, KEYS[2] worker hash, KEYS[3] stats hash, KEYS[4] queue.
-- ARGV[6]: the id BLMOVE just moved there, or '' to resume whatever the list still holds (after a
-- lost connection), oldest first. ARGV[7] worker id. ARGV[8] how many jobs to hold at most (prefetch):
-- more are moved from the queue (LMOVE) after the first.
local wanted = tonumber(ARGV[8])
local ids
if ARGV[6] ~= '' then ids = {ARGV[6]} else ids = redis.call('LRANGE', KEYS[1], 0, -1) end
local result, first = {}, nil
for i = #ids, 1, -1 do
  local fields = claim(ids[i], KEYS[1], KEYS[2], KEYS[3], ARGV[7])
  if fields then
    result[#result + 1] = fields
    first = first or ids[i]
  end
end
if first then
  take(wanted - #result, KEYS[4], KEYS[1], KEYS[2], KEYS[3], ARGV[7], result)
  redis.call('HSET', KEYS[2], 'current_job', first, 'held', #result)
end
return result
