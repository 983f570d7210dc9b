-- notify_claim.lua — leases the due notifications to one instance (docs/redis-layout.md,
-- "Notifications"). A lease is the notification's score in the queue moved to the lease's end:
-- an instance that dies leaves it due again then, for any instance.
--
-- ARGV[1] key prefix, ARGV[2] how many at most, ARGV[3] the instance (for the record).
-- Before leasing: an open circuit breaker parks its endpoint's notifications (they spend no
-- attempt) until it lets one through as a probe; a rule's rate (RATE_PER_S) gives each of its
-- notifications a send slot, evenly spaced across all instances, and one whose slot is later
-- waits in the queue until then.
--
-- Reply: {next due time in Unix ms or "", then per leased notification: integration, id, rule,
-- user, event JSON, event id, call id, t0 (stored, ms), ta (age counts from, ms), attempts,
-- attempts before the latest replay}.
local K, max, instance = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local Q = K .. 'nq'
local FIELDS = {'st', 'ep', 'rt', 'ls', 'r', 'slot', 'u', 'e', 'eid', 'c', 't0', 'ta', 'att', 'ab'}

-- An open breaker whose pause ended lets one parked notification go as its probe; holding the
-- breaker's place for a minute, until the probe's outcome opens or closes it.
local function release_probes()
    for _, ep in ipairs(redis.call('ZRANGEBYSCORE', K .. 'nbq', '-inf', now, 'LIMIT', 0, 100)) do
        local m = redis.call('ZPOPMIN', K .. 'nbp:' .. ep)
        if m[1] then
            redis.call('ZADD', Q, now, m[1])
            redis.call('ZADD', K .. 'nbq', now + 60000, ep)
        else
            redis.call('ZREM', K .. 'nbq', ep)
        end
    end
end

-- Whether the breaker of ep holds m back; if it is half-open and has no probe out, m is it.
local function parked(ep, m, lease_ms)
    local nb = K .. 'nb:' .. ep
    local b = redis.call('HMGET', nb, 'open_until', 'probe', 'probe_until')
    if not b[1] then
        return false
    end
    if now < tonumber(b[1]) or (b[2] and b[2] ~= m and now < tonumber(b[3])) then
        return true
    end
    redis.call('HSET', nb, 'probe', m, 'probe_until', now + lease_ms)
    return false
end

-- The time m may be sent under its rule's rate: now, or a later slot it keeps.
local function slot(P, key, h)
    local rate = tonumber(h[3])
    if rate <= 0 or (h[6] and tonumber(h[6]) <= now) then
        return now
    end
    local interval = 1000 / rate
    local rk = P .. 'nr:' .. h[5]
    local tat = math.max(tonumber(redis.call('GET', rk) or 0), now)
    redis.call('SET', rk, tostring(tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
    if tat > now then
        redis.call('HSET', key, 'slot', tostring(math.ceil(tat)))
    end
    return math.ceil(tat)
end

release_probes()
local out = {''}
local leased = 0
local due = redis.call('ZRANGEBYSCORE', Q, '-inf', now, 'LIMIT', 0, max * 2)
for _, m in ipairs(due) do
    if leased >= max then
        break
    end
    local integration, nid = string.match(m, '^([^\t]+)\t(.+)$')
    local P = K .. '{' .. (integration or '') .. '}:'
    local key = P .. 'n:' .. (nid or '')
    local h = redis.call('HMGET', key, unpack(FIELDS))
    if not nid or h[1] ~= 'pending' then
        redis.call('ZREM', Q, m)
    elseif parked(h[2], m, tonumber(h[4])) then
        redis.call('ZREM', Q, m)
        redis.call('ZADD', K .. 'nbp:' .. h[2], tonumber(h[11]), m)
    else
        local at = slot(P, key, h)
        if at > now then
            redis.call('ZADD', Q, at, m)
        else
            redis.call('ZADD', Q, now + tonumber(h[4]), m)
            redis.call('HSET', key, 'lease', instance)
            redis.call('HDEL', key, 'slot')
            leased = leased + 1
            for _, v in ipairs({integration, nid, h[5], h[7], h[8], h[9], h[10], h[11], h[12],
                                h[13], h[14]}) do
                out[#out + 1] = v
            end
        end
    end
end
local first = redis.call('ZRANGE', Q, 0, 0, 'WITHSCORES')
if first[2] then
    out[1] = first[2]
end
return out
