-- Room in a batch for more jobs: taken when the batch exists and that many more stay within what it
-- expects, else nothing is written (two uploads racing for the last places cannot both pass, nor refuse
-- each other while room is left).
-- KEYS[1] the batch's hash
-- ARGV[1..2] the prelude's (common.lua)   ARGV[3] how many jobs
-- Returns 1 when taken, 0 when not.
local count = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'expected', 'jobs')
if not b[1] or (tonumber(b[2]) or 0) + count > tonumber(b[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'jobs', count)
return 1
