-- notify_claim.lua — leases the due notifications to one instance (docs/redis-layout.md,
-- "Notifications"). A lease is the notification's score in the queue moved to the lease's end:
-- an instance that dies leaves it due again then, for any instance.
--
-- ARGV[1] key prefix, ARGV[2] how many at most, ARGV[3] the instance (for the record),
-- ARGV[4] retention in ms, ARGV[5] how many requests one instance sends to one endpoint at
-- once, then pairs ENDPOINT, N: the requests this instance has in flight to that endpoint.
-- Endpoints take turns by when their earliest notification is due (notify_due.lua); one at its
-- bound here is passed over, its notifications untouched. Before leasing: an open circuit breaker parks its endpoint's notifications (they
-- spend no attempt) until it lets one through as a probe; a rule's rate (RATE_PER_S) gives each
-- of its notifications a send slot, evenly spaced across all instances, and one whose slot is
-- later waits in the queue until then.
--
-- Reply: {next due time in Unix ms or "", Redis's clock in Unix ms, then per leased
-- notification: integration, id, rule, user, event JSON, event id, call id, t0 (stored, ms),
-- ta (age counts from, ms), attempts, attempts before the latest replay, endpoint, lease ms}.
local K, max, instance = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local retention, per_endpoint = tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local RELEASE_MAX, PROBE_HOLD_MS, ENDPOINTS_MAX = 500, 60000, 100
local FIELDS = {'st', 'ep', 'rt', 'ls', 'r', 'slot', 'u', 'e', 'eid', 'c', 't0', 'ta', 'att', 'ab'}

-- include: notify_due.lua

local busy = {}
for i = 6, #ARGV - 1, 2 do
    busy[ARGV[i]] = tonumber(ARGV[i + 1])
end

local function member_key(m)
    local integration, nid = string.match(m, '^([^\t]+)\t(.+)$')
    if not nid then
        return nil
    end
    return K .. '{' .. integration .. '}:n:' .. nid, integration, nid
end

local function pending(m)
    local key = member_key(m)
    return key and redis.call('HGET', key, 'st') == 'pending'
end

-- What a breaker's turn (its score in nbq) means: an open breaker whose pause ended lets one
-- parked notification go as its probe and holds its place until the probe's outcome; a closed
-- one still holding notifications lets them go, RELEASE_MAX a turn.
local function release_parked()
    for _, ep in ipairs(redis.call('ZRANGEBYSCORE', K .. 'nbq', '-inf', now, 'LIMIT', 0, 100)) do
        local parked = K .. 'nbp:' .. ep
        if redis.call('EXISTS', K .. 'nb:' .. ep) == 1 then
            local m = redis.call('ZPOPMIN', parked)
            while m[1] and not pending(m[1]) do
                m = redis.call('ZPOPMIN', parked)
            end
            if m[1] then
                due(K, ep, m[1], now)
                redis.call('ZADD', K .. 'nbq', now + PROBE_HOLD_MS, ep)
            else
                redis.call('ZREM', K .. 'nbq', ep)
            end
        else
            for _, m in ipairs(redis.call('ZRANGE', parked, 0, RELEASE_MAX - 1)) do
                due(K, ep, m, now)
                redis.call('ZREM', parked, m)
            end
            if redis.call('EXISTS', parked) == 0 then
                redis.call('ZREM', K .. 'nbq', ep)
            end
        end
    end
end

-- Whether the breaker of ep holds m back; if it is half-open and has no probe out, m is it.
local function held(ep, m, lease_ms)
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

local function park(key, ep, m, t0)
    undue(K, ep, m)
    redis.call('ZADD', K .. 'nbp:' .. ep, t0, m)
    local open_until = tonumber(redis.call('HGET', K .. 'nb:' .. ep, 'open_until') or now)
    redis.call('ZADD', K .. 'nbq', 'NX', math.max(open_until, now), ep)
    redis.call('PEXPIRE', key, retention)
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
    redis.call('SET', rk, string.format('%.3f', tat + interval), 'PX',
               math.ceil(tat + interval - now) + 1000)
    if tat > now then
        redis.call('HSET', key, 'slot', string.format('%d', math.ceil(tat)))
        redis.call('PEXPIRE', key, retention)
    end
    return math.ceil(tat)
end

local out = {'', string.format('%d', now)}
local leased = 0

local function lease(key, m, integration, nid, h)
    redis.call('ZADD', K .. 'nq:' .. h[2], now + tonumber(h[4]), m)
    redis.call('ZREM', K .. 'nbp:' .. h[2], m)
    redis.call('HSET', key, 'lease', instance)
    redis.call('HDEL', key, 'slot')
    busy[h[2]] = (busy[h[2]] or 0) + 1
    leased = leased + 1
    for _, v in ipairs({integration, nid, h[5], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
                        h[2], h[4]}) do
        out[#out + 1] = v
    end
end

-- One due notification m of endpoint ep.
local function take(ep, m)
    local key, integration, nid = member_key(m)
    local h = key and redis.call('HMGET', key, unpack(FIELDS)) or {}
    if h[1] ~= 'pending' or h[2] ~= ep then
        undue(K, ep, m)
    elseif held(ep, m, tonumber(h[4])) then
        park(key, ep, m, tonumber(h[11]))
    else
        local at = slot(K .. '{' .. integration .. '}:', key, h)
        if at > now then
            redis.call('ZADD', K .. 'nq:' .. ep, at, m)
        else
            lease(key, m, integration, nid, h)
        end
    end
end

-- The endpoint's turn moves to its earliest notification; it loses it when it has none.
local function next_turn(ep)
    local first = redis.call('ZRANGE', K .. 'nq:' .. ep, 0, 0, 'WITHSCORES')
    if first[2] then
        redis.call('ZADD', K .. 'nqe', first[2], ep)
    else
        redis.call('ZREM', K .. 'nqe', ep)
    end
end

release_parked()
for _, ep in ipairs(redis.call('ZRANGEBYSCORE', K .. 'nqe', '-inf', now, 'LIMIT', 0, ENDPOINTS_MAX)) do
    local room = math.min(per_endpoint - (busy[ep] or 0), max - leased)
    if max - leased <= 0 then
        break
    end
    if room > 0 then
        for _, m in ipairs(redis.call('ZRANGEBYSCORE', K .. 'nq:' .. ep, '-inf', now, 'LIMIT', 0,
                                      room * 2)) do
            if (busy[ep] or 0) >= per_endpoint or leased >= max then
                break
            end
            take(ep, m)
        end
        next_turn(ep)
    end
end
local first = redis.call('ZRANGE', K .. 'nqe', 0, 0, 'WITHSCORES')
if first[2] then
    out[1] = first[2]
end
return out
