-- Cancel a job: a delayed, queued or retrying one never starts (its id may stay in a queue: a worker drops
-- it, as any stale entry); a processing one ends here, and the worker's outcome is refused when it comes
-- (its output discarded), so it never becomes done once the cancel is acknowledged.
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] job id
-- Returns {1, status before} when cancelled, {0, status} when it had ended already, {-1} when unknown.
local id = ARGV[3]
local st = get_status(id)
if not st then return {-1} end
if not may(st, S.CANCELLED) then return {0, st} end
redis.call('ZREM', K.scheduled, id)
set_status(id, st, S.CANCELLED, {'finished_at', NOW})
redis.call('HINCRBY', K.stats, S.CANCELLED, 1)
return {1, st}
