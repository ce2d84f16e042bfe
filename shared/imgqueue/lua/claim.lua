-- Start a job from this worker's processing list.
-- KEYS[1] processing list, KEYS[2] worker hash, KEYS[3] stats hash. ARGV[7] worker id.
-- ARGV[6]: the id BLMOVE just moved there, or '' to resume whatever the list still holds (after a
-- lost connection), oldest first.
local ids
if ARGV[6] ~= '' then ids = {ARGV[6]} else ids = redis.call('LRANGE', KEYS[1], 0, -1) end
for i = #ids, 1, -1 do
  local fields = claim(ids[i], KEYS[1], KEYS[2], KEYS[3], ARGV[7])
  if fields then return {1, fields} end
end
return {0}
