-- Hand back the jobs of workers that are gone, at the head of their queue; due jobs to their queue too.
-- Run by one worker process of the fleet per interval (a claimed chore), for every registered worker whose
-- heartbeat key is gone; and by a supervisor for a child of its own that exited.
-- How the worker went decides what a loss counts as:
--   'vanished'  its heartbeat expired: the whole worker went (container, host, supervisor killed): the job
--               counts a `vanished` toward ARGV[6] (a high cap: the job is rarely to blame);
--   'crashed'   its supervisor saw it die (an OOM kill, a crash in a decoder): the job counts a `lost`
--               toward ARGV[5] (a poison job is caught here);
--   'released'  it stopped cleanly: nothing counts.
-- KEYS[1] workers set
-- ARGV[1..2] the prelude's (common.lua)
-- ARGV[3] heartbeat key prefix   ARGV[4] processing list prefix   ARGV[5] losses after which a job fails
-- ARGV[6] vanishings after which a job fails   ARGV[7] worker hash prefix   ARGV[8] 'vanished', 'crashed' or
-- 'released'   ARGV[9] the worker id when not 'vanished'
-- Returns {promoted count, requeued ids, failed ids, {{worker id, host, pid}, ...}}.
local hb_prefix, proc_prefix, worker_prefix = ARGV[3], ARGV[4], ARGV[7]
local max_lost, max_vanished, how, forced = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[8], ARGV[9]

local promoted = promote_due(1000)

local function fail_lost(id, st, field, times)
  local why = field == 'lost' and 'its worker process died ' .. times .. ' times while running it (poison job?)'
    or 'its worker vanished ' .. times .. ' times while running it'
  set_status(id, st, S.FAILED, {'finished_at', NOW, 'error_code', 'worker_lost', 'error', why})
  redis.call('HINCRBY', K.stats, S.FAILED, 1)
  redis.call('HINCRBY', K.stats, S.FAILED .. ':worker_lost', 1)
end

-- A job its worker lost: back to the head of its queue, or failed once lost once too often.
local function hand_back(id, requeued, failed)
  local st = get_status(id)
  if st == nil or TERMINAL[st] then return end  -- ended (or expired) meanwhile: a stale entry
  if how ~= 'released' then
    local field = how == 'crashed' and 'lost' or 'vanished'
    local times = redis.call('HINCRBY', hash_key(id), field, 1)
    redis.call('HINCRBY', K.stats, field, 1)
    if times >= (field == 'lost' and max_lost or max_vanished) then
      fail_lost(id, st, field, times)
      table.insert(failed, id)
      return
    end
  end
  if st ~= S.QUEUED then set_status(id, st, S.QUEUED, {'worker', ''}) end
  push(id, true)
  redis.call('LPUSH', K.wake, '1')
  redis.call('HINCRBY', K.stats, 'recovered', 1)
  table.insert(requeued, id)
end

local requeued, failed, dead = {}, {}, {}
local candidates
if how ~= 'vanished' then candidates = {forced} else candidates = redis.call('SMEMBERS', KEYS[1]) end
for _, wid in ipairs(candidates) do
  if how ~= 'vanished' or redis.call('EXISTS', hb_prefix .. wid) == 0 then
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
