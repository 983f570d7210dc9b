-- poll_done.lua — settles one leased poll (docs/redis-layout.md, "Polled calls"): the call
-- ended (forgotten), or it is due again after a delay, with the status seen (ok) or one more
-- failure (fail) or as it was (release). An outcome whose lease id is no longer the call's
-- (the lease ran out and another instance leased it) changes nothing.
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] call id, ARGV[4] lease id,
-- ARGV[5] done | ok | fail | release, ARGV[6] last status, ARGV[7] seq, ARGV[8] delay in ms.
-- Reply: 1 applied, 0 not (stale lease, or the call is gone).
local K, integration, id, lid, what = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = K .. '{' .. integration .. '}:p:' .. id
local member = integration .. '\t' .. id
if redis.call('HGET', key, 'lid') ~= lid then
    return 0
end
if what == 'done' then
    redis.call('DEL', key)
    redis.call('ZREM', K .. 'pq', member)
    return 1
end
if what == 'ok' then
    redis.call('HSET', key, 'l', ARGV[6], 's', ARGV[7], 'f', 0)
elseif what == 'fail' then
    redis.call('HINCRBY', key, 'f', 1)
end
redis.call('HDEL', key, 'lease')
redis.call('ZADD', K .. 'pq', now + tonumber(ARGV[8]), member)
return 1
