-- notify_queue(K, integration, rules, ext, json, event_id, call_id, now_ms, retention_ms):
-- queues one notification per rule for one stored copy of an event (docs/redis-layout.md,
-- "Notifications"). rules: the flat list RULE_ID, ENDPOINT, RATE_PER_S, LEASE_MS, ... A
-- notification waits behind the earlier ones of its call to its endpoint (the chain); the head
-- of a chain is due at once (notify_due.lua). Returns how many were queued.
local function notify_queue(K, integration, rules, ext, json, event_id, call_id, now_ms,
                            retention_ms)
    local P = K .. '{' .. integration .. '}:'
    local n = 0
    for r = 1, #rules - 3, 4 do
        local endpoint = rules[r + 1]
        local nid = 'ntf_' .. now_ms .. '_' .. redis.call('INCR', K .. 'nseq')
        local key = P .. 'n:' .. nid
        redis.call('HSET', key, 'r', rules[r], 'u', ext, 'e', json, 'eid', event_id,
                   'c', call_id, 'ep', endpoint, 'rt', rules[r + 2], 'ls', rules[r + 3],
                   't0', now_ms, 'ta', now_ms, 'st', 'pending', 'att', 0, 'ab', 0, 'nx', now_ms)
        redis.call('PEXPIRE', key, retention_ms)
        redis.call('ZADD', P .. 'nl:pending', now_ms, nid)
        redis.call('PEXPIRE', P .. 'nl:pending', retention_ms)
        local chain = P .. 'nc:' .. endpoint .. '\t' .. call_id
        if redis.call('RPUSH', chain, nid) == 1 then
            due(K, endpoint, integration .. '\t' .. nid, now_ms)
        end
        redis.call('PEXPIRE', chain, retention_ms)
        n = n + 1
    end
    return n
end
