-- notify_retry.lua — queues delivered or dead notifications again, with a fresh attempt budget
-- and age (docs/redis-layout.md, "Notifications"). A replay is sent on its own, outside the
-- order of its call's chain.
--
-- ARGV[1] key prefix, ARGV[2] integration, ARGV[3] retention in ms, ARGV[4] "ids" then the ids
-- from ARGV[6], or "dead_since" with ARGV[5] the Unix ms from which dead ones are taken.
-- Reply: how many were queued. At most 10000 per call.
local K, integration, retention, mode = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local P = K .. '{' .. integration .. '}:'
local LIMIT = 10000
-- include: notify_due.lua

local ids = {}
if mode == 'dead_since' then
    ids = redis.call('ZRANGEBYSCORE', P .. 'nl:dead', ARGV[5], '+inf', 'LIMIT', 0, LIMIT)
else
    for i = 6, math.min(#ARGV, 5 + LIMIT) do
        ids[#ids + 1] = ARGV[i]
    end
end

local queued = 0
for _, nid in ipairs(ids) do
    local key = P .. 'n:' .. nid
    local h = redis.call('HMGET', key, 'st', 'att', 't0', 'ep')
    if h[1] == 'dead' or h[1] == 'delivered' then
        redis.call('HSET', key, 'st', 'pending', 'ta', now, 'ab', h[2], 'nx', now)
        redis.call('HDEL', key, 'done', 'miss')
        redis.call('PEXPIRE', key, retention)
        redis.call('ZREM', P .. 'nl:' .. h[1], nid)
        redis.call('ZADD', P .. 'nl:pending', h[3], nid)
        due(K, h[4], integration .. '\t' .. nid, now)
        queued = queued + 1
    end
end
return queued
