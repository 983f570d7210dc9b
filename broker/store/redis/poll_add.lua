-- poll_add.lua — a call a provider placed, to be polled until it ends (docs/redis-layout.md,
-- "Polled calls"). Adding a call already there changes nothing.
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] call id, ARGV[4] user, ARGV[5] number,
-- ARGV[6] ms until its first poll, ARGV[7] its lease in ms, ARGV[8] how long it is polled at
-- most (ms). Reply: 1 added, 0 already there.
local K, integration, id = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = K .. '{' .. integration .. '}:p:' .. id
if redis.call('EXISTS', key) == 1 then
    return 0
end
redis.call('HSET', key, 'u', ARGV[4], 'n', ARGV[5], 'l', '', 's', 0, 'f', 0, 't0', now,
           'ls', ARGV[7], 'lid', 0)
redis.call('PEXPIRE', key, tonumber(ARGV[8]) + 60000)
redis.call('ZADD', K .. 'pq', now + tonumber(ARGV[6]), integration .. '\t' .. id)
return 1
