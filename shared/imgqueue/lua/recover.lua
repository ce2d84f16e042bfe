-- Housekeeping, run by one worker process of the fleet per interval (a claimed chore), and by a
-- supervisor for a child that died:
-- 1. move retries whose backoff has passed from the delayed set to the back of the queue;
-- 2. for every registered worker whose heartbeat key is gone (or the one named in ARGV[11]),
--    put the jobs of its processing list back at the head of the queue, or fail those that have
--    now lost their worker ARGV[10] times, then forget the worker.
-- KEYS[1] workers set   KEYS[2] queue list   KEYS[3] delayed set   KEYS[4] stats hash
-- ARGV[1..5] the prelude's (common.lua)
-- ARGV[6] heartbeat key prefix   ARGV[7] processing list prefix   ARGV[8] worker hash prefix
-- ARGV[9] most due retries to move   ARGV[10] losses after which a job fails
-- ARGV[11] worker id to release now ('' none)   ARGV[12] '1' if releasing counts as a loss
-- Returns {promoted count, requeued ids, failed ids, {{worker id, host, pid}, ...}}.
local hb_prefix, proc_prefix, worker_prefix = ARGV[6], ARGV[7], ARGV[8]
local max_lost = tonumber(ARGV[10])
local forced, count_loss = ARGV[11], ARGV[12] == '1'

local promoted = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[9]))) do
  redis.call('ZREM', KEYS[3], id)
  if get_status(id) == S.RETRYING then
    set_status(id, S.QUEUED, {'worker', ''})
    redis.call('LPUSH', KEYS[2], id)
    promoted = promoted + 1
  end
end

-- A job its worker lost: back to the head of the queue, or failed once it was lost max_lost times.
local function hand_back(id, requeued, failed)
  local st = get_status(id)
  if st == nil or TERMINAL[st] then return end  -- ended (or expired) meanwhile: a stale entry
  local lost = 0
  if count_loss then
    lost = redis.call('HINCRBY', hash_key(id), 'lost', 1)
    redis.call('HINCRBY', KEYS[4], 'lost', 1)
  end
  if lost >= max_lost then
    set_status(id, S.FAILED, {'finished_at', NOW, 'error_code', 'worker_lost',
      'error', 'the worker processing this job died ' .. lost .. ' times (poison job?)'})
    redis.call('HINCRBY', KEYS[4], S.FAILED, 1)
    redis.call('HINCRBY', KEYS[4], S.FAILED .. ':worker_lost', 1)
    local input = tonumber(redis.call('HGET', hash_key(id), 'input_bytes') or '0') or 0
    redis.call('HINCRBY', KEYS[4], 'stored_upload_bytes', 0 - input)  -- the recovering worker removes it
    table.insert(failed, id)
  else
    set_status(id, S.QUEUED, {'worker', ''})
    redis.call('RPUSH', KEYS[2], id)
    redis.call('HINCRBY', KEYS[4], 'recovered', 1)
    table.insert(requeued, id)
  end
end

local requeued, failed, dead = {}, {}, {}
local candidates
if forced ~= '' then candidates = {forced} else candidates = redis.call('SMEMBERS', KEYS[1]) end
for _, wid in ipairs(candidates) do
  if forced ~= '' or redis.call('EXISTS', hb_prefix .. wid) == 0 then
    local proc = proc_prefix .. wid
    while true do
      local id = redis.call('RPOP', proc)
      if not id then break end
      hand_back(id, requeued, failed)
    end
    local who = redis.call('HMGET', worker_prefix .. wid, 'host', 'pid')
    redis.call('SREM', KEYS[1], wid)
    redis.call('DEL', worker_prefix .. wid, hb_prefix .. wid)
    table.insert(dead, {wid, who[1] or '', who[2] or ''})
  end
end
return {promoted, requeued, failed, dead}
