-- Queue a failed or cancelled job again, at the back of its queue, as it was first asked for: its error
-- cleared, its counts of retries and losses started afresh (its attempts go on counting). Its batch counts
-- it as not ended again (a batch that completed does not complete twice).
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
local owner = owner_of(id)
local batch = K.batch_prefix .. (owner[1] or '')
if owner[1] and owner[1] ~= '' and redis.call('EXISTS', batch) == 1 then  -- it has not ended any more
  redis.call('HINCRBY', batch, st, -1)
  redis.call('HINCRBY', batch, 'ended', -1)
end
push(id, false, owner)
redis.call('LPUSH', K.wake, '1')
redis.call('HINCRBY', K.stats, 'resubmitted', 1)
return {1}
