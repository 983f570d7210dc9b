-- notify_done.lua — what one attempt of a notification came to (docs/redis-layout.md,
-- "Notifications").
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] notification id,
-- ARGV[4] outcome: "d" delivered, "r" retry in ARGV[7] ms, "x" dead, "m" its rule is missing
--   on the instance (retry in ARGV[7] ms, dead with ARGV[5] once it has been missing for
--   MISSING_MS);
-- ARGV[5] the attempt as JSON for its log ("" when nothing was sent),
-- ARGV[6] the endpoint: "up" (it answered), "down" (no answer, a timeout, 429 or 5xx), "" (not
--   reached), for its circuit breaker;
-- ARGV[7] the delay of the next attempt, ms (retry only); ARGV[8] retention, ms.
-- A delivered or dead notification lets the next of its chain go. Reply: what it came to ("d",
-- "r" or "x"), or "" when it was not pending any more (a replay or another instance settled
-- it).
local K, integration, nid, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local attempt, endpoint_state, retention = ARGV[5], ARGV[6], tonumber(ARGV[8])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local P = K .. '{' .. integration .. '}:'
local key = P .. 'n:' .. nid
local m = integration .. '\t' .. nid
-- include: notify_due.lua
-- The breaker opens after BREAKER_FAILURES failures in a row that span DOWN_FOR_MS: an endpoint
-- that fails some requests but answers others (a retry that succeeds) is not down.
local BREAKER_FAILURES, DOWN_FOR_MS, FIRST_PAUSE_MS, LONGEST_PAUSE_MS = 5, 1000, 5000, 30000
local MISSING_MS = 60000
local next_ms = now + tonumber(ARGV[7] ~= '' and ARGV[7] or 0)

local h = redis.call('HMGET', key, 'st', 'ep', 'c', 'miss')
if h[1] ~= 'pending' then
    return ''
end
local ep, call_id = h[2], h[3]
if outcome == 'm' then
    local since = tonumber(h[4] or now)
    redis.call('HSET', key, 'miss', since)
    outcome = now - since >= MISSING_MS and 'x' or 'r'
    if outcome == 'r' then
        attempt = ''
    end
else
    redis.call('HDEL', key, 'miss')
end

if attempt ~= '' then
    redis.call('HINCRBY', key, 'att', 1)
    local log = P .. 'na:' .. nid
    redis.call('LPUSH', log, attempt)
    redis.call('LTRIM', log, 0, 49)
    redis.call('PEXPIRE', log, retention)
end

-- One answer closes the breaker, and what it held goes out at once (notify_claim.lua releases
-- it in batches); failures open it, and a failed probe opens it for twice as long. A probe that
-- was not sent gives its turn to the next one at once.
local function breaker()
    local nb = K .. 'nb:' .. ep
    if endpoint_state == 'up' then
        if redis.call('DEL', nb) == 1 and redis.call('EXISTS', K .. 'nbp:' .. ep) == 1 then
            redis.call('ZADD', K .. 'nbq', now, ep)
        end
    elseif endpoint_state == '' then
        if redis.call('HGET', nb, 'probe') == m then
            redis.call('HDEL', nb, 'probe', 'probe_until')
            redis.call('ZADD', K .. 'nbq', now, ep)
        end
    elseif endpoint_state == 'down' then
        local fails = redis.call('HINCRBY', nb, 'fails', 1)
        if fails == 1 then
            redis.call('HSET', nb, 'since', now)
        end
        local b = redis.call('HMGET', nb, 'open_until', 'probe', 'pause', 'since')
        local pause
        if b[2] == m then
            pause = math.min(LONGEST_PAUSE_MS, tonumber(b[3]) * 2)
        elseif not b[1] and fails >= BREAKER_FAILURES and now - tonumber(b[4]) >= DOWN_FOR_MS then
            pause = FIRST_PAUSE_MS
        end
        if pause then
            redis.call('HSET', nb, 'open_until', now + pause, 'pause', pause)
            redis.call('HDEL', nb, 'probe', 'probe_until')
            redis.call('ZADD', K .. 'nbq', now + pause, ep)
        end
        redis.call('PEXPIRE', nb, 86400000)
    end
end

local function settle(status)
    redis.call('HSET', key, 'st', status, 'nx', '', 'done', now)
    redis.call('HDEL', key, 'lease')
    undue(K, ep, m)
    redis.call('ZREM', P .. 'nl:pending', nid)
    local list = P .. 'nl:' .. status
    redis.call('ZADD', list, now, nid)
    redis.call('ZREMRANGEBYSCORE', list, '-inf', now - retention)
    redis.call('PEXPIRE', list, retention)
    local chain = P .. 'nc:' .. ep .. '\t' .. call_id
    redis.call('LREM', chain, 1, nid)
    local head = redis.call('LINDEX', chain, 0)
    if head then
        due(K, ep, integration .. '\t' .. head, now, 'NX')
    end
end

breaker()
if outcome == 'd' then
    settle('delivered')
elseif outcome == 'x' then
    settle('dead')
else
    redis.call('HSET', key, 'nx', next_ms)
    redis.call('HDEL', key, 'lease')
    due(K, ep, m, next_ms)
end
redis.call('PEXPIRE', key, retention)
return outcome
