-- A processing job's checkpoint: its progress recorded and published, and whether it was cancelled (the
-- worker then stops and discards what it made).
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] job id   ARGV[4] worker id   ARGV[5] progress (JSON: {done, total})
-- Returns 1 when the job goes on, 0 when it was cancelled (or is no longer this worker's).
local id, worker_id = ARGV[3], ARGV[4]
local st = get_status(id)
if st ~= S.PROCESSING or redis.call('HGET', hash_key(id), 'worker') ~= worker_id then return 0 end
redis.call('HSET', hash_key(id), 'progress', ARGV[5])
local who = redis.call('HMGET', hash_key(id), 'tenant', 'trace_id')
local event = {id = id, status = st, ts = NOW_N, progress = cjson.decode(ARGV[5])}
if who[1] and who[1] ~= '' then event.tenant = who[1] end
if who[2] and who[2] ~= '' then event.trace = who[2] end
redis.call('PUBLISH', K.channel, cjson.encode(event))
return 1
