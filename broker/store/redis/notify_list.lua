-- notify_list.lua — an integration's notifications with their attempts, newest first
-- (docs/redis-layout.md, "Notifications").
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] "one" with ARGV[4] an id, or a status
-- (pending, dead, delivered) with ARGV[4] how many.
-- Reply: per notification {id, {field, value, ...}, {attempt JSON, ... newest first}}; a
-- notification whose record expired is left out.
local K, integration, what, arg = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local P = K .. '{' .. integration .. '}:'
local FIELDS = {'r', 'u', 'eid', 'c', 'ep', 'st', 'att', 't0', 'nx', 'done'}

local ids
if what == 'one' then
    ids = {arg}
else
    ids = redis.call('ZREVRANGE', P .. 'nl:' .. what, 0, tonumber(arg) - 1)
end
local out = {}
for _, nid in ipairs(ids) do
    local h = redis.call('HMGET', P .. 'n:' .. nid, unpack(FIELDS))
    if h[6] then
        local flat = {}
        for i, f in ipairs(FIELDS) do
            flat[#flat + 1] = f
            flat[#flat + 1] = h[i] or ''
        end
        out[#out + 1] = {nid, flat, redis.call('LRANGE', P .. 'na:' .. nid, 0, 49)}
    end
end
return out
