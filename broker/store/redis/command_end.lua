-- command_end.lua — records a command's answer under its command_id (command_begin.lua), or
-- forgets the command when it never reached the PBX, so that a repeat may try again.
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] command_id, ARGV[4] "done" or "forget",
-- ARGV[5] HTTP status, ARGV[6] the answer JSON, ARGV[7] the call_id the PBX gave ("" : none).
-- Reply: 1.
local P = ARGV[1] .. '{' .. ARGV[2] .. '}:'
local key = P .. 'cmd:' .. ARGV[3]
if ARGV[4] == 'forget' then
    redis.call('DEL', key)
    return 1
end
if redis.call('EXISTS', key) == 0 then
    return 1
end
redis.call('HSET', key, 'st', 'done', 'status', ARGV[5], 'ans', ARGV[6])
if ARGV[7] ~= '' and (redis.call('HGET', key, 'call_id') or '') == '' then
    redis.call('HSET', key, 'call_id', ARGV[7])
end
return 1
