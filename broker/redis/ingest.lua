-- ingest.lua — store one webhook's events atomically.
--
-- KEYS[1]           the integration's users hash           ({acme}:users)
-- then per event:   its dedupe key, then one stream key per target user, in ARGV order
-- ARGV[1]           retention in milliseconds (MINID trimming and key expiry)
-- ARGV[2]           dedupe window in seconds
-- ARGV[3]           pub/sub channel for wake-ups
-- ARGV[4]           integration name
-- ARGV[5]           number of events
-- then per event:   number of users n, then n pairs (extension, event JSON without id)
--
-- Per event: a key seen within the window makes it a duplicate (stored once); an event none
-- of whose users exist is ignored; otherwise it is appended to each existing user's stream,
-- older entries are trimmed and the expiry refreshed. One PUBLISH carries every appended
-- entry as lines "integration\tuser\tid\tjson\n", in the order of their ids.
--
-- Reply: {accepted, duplicates, ignored}
local retention_ms = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local integration = ARGV[4]
local n_events = tonumber(ARGV[5])

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minid = tostring(now_ms - retention_ms)

local accepted, duplicates, ignored = 0, 0, 0
local wake = {}
local a, k = 6, 2
for _ = 1, n_events do
    local n = tonumber(ARGV[a])
    local dedupe_key = KEYS[k]
    if redis.call('EXISTS', dedupe_key) == 1 then
        duplicates = duplicates + 1
    else
        local stored = false
        for u = 1, n do
            local ext = ARGV[a + 2 * u - 1]
            if redis.call('HEXISTS', KEYS[1], ext) == 1 then
                local stream = KEYS[k + u]
                local id = redis.call('XADD', stream, 'MINID', minid, '*', 'e', ARGV[a + 2 * u])
                redis.call('PEXPIRE', stream, retention_ms)
                wake[#wake + 1] = integration .. '\t' .. ext .. '\t' .. id .. '\t' .. ARGV[a + 2 * u] .. '\n'
                stored = true
            end
        end
        if stored then
            redis.call('SET', dedupe_key, '1', 'EX', window)
            accepted = accepted + 1
        else
            ignored = ignored + 1
        end
    end
    a = a + 1 + 2 * n
    k = k + 1 + n
end
if #wake > 0 then
    redis.call('PUBLISH', ARGV[3], table.concat(wake))
end
return {accepted, duplicates, ignored}
