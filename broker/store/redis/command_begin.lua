-- command_begin.lua — the first step of a command (docs/redis-layout.md, "Commands"): records
-- it under its command_id before the PBX hears of it, so that a repeat of the same id gets the
-- first answer instead of reaching the PBX again, and so that ingest finds who asked when the
-- PBX's asynchronous result (route_result) arrives.
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] command_id, ARGV[4] op, ARGV[5] fingerprint
-- of the request, ARGV[6] user who asked ("" : the call's user, found here), ARGV[7] call_id
-- (or ""), ARGV[8] lease ms (how long the first attempt may take), ARGV[9] retention ms.
-- Reply: {"new"}, {"done", status, answer JSON}, {"pending", ms left of the lease} or
-- {"conflict", the op first given}.
local K, integration, id = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local P = K .. '{' .. integration .. '}:'
local key = P .. 'cmd:' .. id

local cur = redis.call('HMGET', key, 'op', 'fp', 'st', 'status', 'ans', 'until')
if cur[1] then
    if cur[1] ~= ARGV[4] or cur[2] ~= ARGV[5] then
        return {'conflict', cur[1]}
    end
    if cur[3] == 'done' then
        return {'done', cur[4], cur[5]}
    end
    return {'pending', tostring(math.max(0, tonumber(cur[6]) - now))}
end

-- The user whose call it is: who answered it, else any user with a leg in it.
local user, call_id = ARGV[6], ARGV[7]
if user == '' and call_id ~= '' then
    local call = redis.call('HGETALL', P .. 'call:' .. call_id)
    local legs = {}
    for i = 1, #call, 2 do
        if call[i] == 'answered' then
            user = call[i + 1]
            break
        end
        if string.sub(call[i], 1, 2) == 'u:' then
            legs[#legs + 1] = string.sub(call[i], 3)
        end
    end
    if user == '' and #legs > 0 then
        table.sort(legs)
        user = legs[1]
    end
end

redis.call('HSET', key, 'op', ARGV[4], 'fp', ARGV[5], 'st', 'pending', 'user', user,
    'call_id', call_id, 't0', now, 'until', now + tonumber(ARGV[8]))
redis.call('PEXPIRE', key, ARGV[9])
return {'new'}
