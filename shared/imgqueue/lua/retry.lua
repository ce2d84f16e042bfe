-- Queue a failed or cancelled job again, at the back of its queue, as it was first asked for: its error
-- cleared, its counts of retries and losses started afresh (its attempts go on counting).
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] job id
-- Returns {1} when queued again, {0, status} when it may not be (not failed or cancelled), {-1} unknown.
local id = ARGV[3]
local st = get_status(id)
if not st then return {-1} end
if not (TERMINAL[st] and may(st, S.QUEUED)) then return {0, st} end
redis.call('HDEL', hash_key(id), 'error', 'error_code', 'finished_at', 'retries', 'lost', 'vanished', 'progress')
redis.call('HINCRBY', hash_key(id), 'resubmitted', 1)
set_status(id, st, S.QUEUED, {'worker', ''})
push(id, false)
redis.call('LPUSH', K.wake, '1')
redis.call('HINCRBY', K.stats, 'resubmitted', 1)
return {1}
