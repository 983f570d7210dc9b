-- poll_claim.lua — leases the calls due for a poll to one instance (docs/redis-layout.md,
-- "Polled calls"). A lease moves the call's score in the queue to the lease's end, so a call
-- whose instance died is due again then, for any instance; its lease id changes with every
-- lease, so that a late outcome of an expired lease is not applied (poll_done.lua).
--
-- ARGV[1] key prefix, ARGV[2] how many at most, ARGV[3] the instance (for the record),
-- ARGV[4] how long a call is polled at most (ms): an older one is forgotten.
-- Reply: {next due time in Unix ms or "", Redis's clock in Unix ms, then per leased call:
-- integration, call id, user, number, last status, seq, failures, lease id}.
local K, max, instance, max_age = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {'', string.format('%d', now)}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', K .. 'pq', '-inf', now, 'LIMIT', 0, max)) do
    local integration, id = string.match(m, '^([^\t]+)\t(.+)$')
    local key = integration and K .. '{' .. integration .. '}:p:' .. id
    local h = key and redis.call('HMGET', key, 'u', 'n', 'l', 's', 'f', 't0', 'ls') or {}
    if not h[1] or now - tonumber(h[6]) > max_age then
        redis.call('ZREM', K .. 'pq', m)
        if key then
            redis.call('DEL', key)
        end
    else
        local lid = redis.call('HINCRBY', key, 'lid', 1)
        redis.call('HSET', key, 'lease', instance)
        redis.call('ZADD', K .. 'pq', now + tonumber(h[7]), m)
        for _, v in ipairs({integration, id, h[1], h[2], h[3], h[4], h[5], tostring(lid)}) do
            out[#out + 1] = v
        end
    end
end
local first = redis.call('ZRANGE', K .. 'pq', 0, 0, 'WITHSCORES')
if first[2] then
    out[1] = first[2]
end
return out
