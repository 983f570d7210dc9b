-- ingest.lua — store a batch of webhook events: one loop pass's webhooks, or a part of them.
-- The broker cuts a large batch into several calls (broker/ingest_plan.h), never inside an
-- event, so each event is atomic: its dedupe marker and its appends are in one call.
--
-- KEYS, per event:  the integration's users hash ({acme}:users), the event's dedupe key,
--                   then one stream key per target user, in ARGV order
-- ARGV[1]           retention in milliseconds (MINID trimming and key expiry)
-- ARGV[2]           dedupe window in seconds
-- ARGV[3]           pub/sub channel for wake-ups
-- ARGV[4]           number of events
-- ARGV[5]           largest wake-up message, bytes
-- then per event:   integration, number of users n, then n pairs (extension, JSON without id)
--
-- Per event: a key seen within the window makes it a duplicate (stored once); an event none
-- of whose users exist is ignored; otherwise it is appended to each existing user's stream,
-- older entries are trimmed and the expiry refreshed. Wake-ups carry every appended entry as
-- lines "integration\tuser\tid\tjson\n", in the order of their ids, in PUBLISH messages of
-- whole lines of at most ARGV[5] bytes (a longer line goes alone): Redis closes a subscriber
-- whose output buffer one huge message would overflow.
--
-- Reply: a string with one letter per event, in order: a(ccepted), d(uplicate), i(gnored).
local retention_ms = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n_events = tonumber(ARGV[4])
local wake_max = tonumber(ARGV[5])

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minid = tostring(now_ms - retention_ms)

local status = {}
local wake, wake_bytes = {}, 0

local function publish()
    if #wake > 0 then
        redis.call('PUBLISH', ARGV[3], table.concat(wake))
        wake, wake_bytes = {}, 0
    end
end

local function wake_up(line)
    if wake_bytes + #line > wake_max then
        publish()
    end
    wake[#wake + 1] = line
    wake_bytes = wake_bytes + #line
end

local a, k = 6, 1
for e = 1, n_events do
    local integration = ARGV[a]
    local n = tonumber(ARGV[a + 1])
    local users, dedupe_key = KEYS[k], KEYS[k + 1]
    -- claim the key first (one call instead of EXISTS + SET); give it back if nothing is stored
    if not redis.call('SET', dedupe_key, '1', 'NX', 'EX', window) then
        status[e] = 'd'
    else
        status[e] = 'i'
        for u = 1, n do
            local ext, json = ARGV[a + 2 * u], ARGV[a + 2 * u + 1]
            if redis.call('HEXISTS', users, ext) == 1 then
                local stream = KEYS[k + 1 + u]
                local id = redis.call('XADD', stream, 'MINID', minid, '*', 'e', json)
                redis.call('PEXPIRE', stream, retention_ms)
                wake_up(integration .. '\t' .. ext .. '\t' .. id .. '\t' .. json .. '\n')
                status[e] = 'a'
            end
        end
        if status[e] == 'i' then
            redis.call('DEL', dedupe_key)
        end
    end
    a = a + 2 + 2 * n
    k = k + 2 + n
end
publish()
return table.concat(status)
