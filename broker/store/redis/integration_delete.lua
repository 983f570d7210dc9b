-- integration_delete.lua — remove an integration with its users, streams, cursors and open
-- calls (the call hashes cannot be enumerated: they expire with the retention).
--
-- KEYS[1]  the integrations hash       (cr:integrations)
-- KEYS[2]  the integration's users hash ({acme}:users)
-- ARGV[1]  integration name
-- ARGV[2]  key prefix of the integration's per-user keys ("cr:{acme}:"); streams are
--          PREFIX.."s:"..EXT, cursors PREFIX.."c:"..EXT and open calls PREFIX.."uc:"..EXT,
--          derived here because their
--          number is only known inside the script (single-node Redis)
-- ARGV[3]  control channel
--
-- Its pending notifications go too, with their chains, so that a re-created integration starts
-- with none (their entries in the shared queue are dropped when claimed); the delivered and dead
-- ones, the bulk, are left to expire, their lists unlinked. So are its rules' rate slots.
--
-- Reply: 1 when deleted, 0 when there was no such integration.
-- include: notify_rates.lua
local record = redis.call('HGET', KEYS[1], ARGV[1])
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
forget_rates(ARGV[2], record)
for _, ext in ipairs(redis.call('HKEYS', KEYS[2])) do
    redis.call('DEL', ARGV[2] .. 's:' .. ext, ARGV[2] .. 'c:' .. ext, ARGV[2] .. 'uc:' .. ext)
end
redis.call('DEL', KEYS[2])
for _, nid in ipairs(redis.call('ZRANGE', ARGV[2] .. 'nl:pending', 0, -1)) do
    local h = redis.call('HMGET', ARGV[2] .. 'n:' .. nid, 'ep', 'c')
    if h[1] then
        redis.call('DEL', ARGV[2] .. 'nc:' .. h[1] .. '\t' .. h[2])
    end
    redis.call('DEL', ARGV[2] .. 'n:' .. nid, ARGV[2] .. 'na:' .. nid)
end
redis.call('UNLINK', ARGV[2] .. 'nl:pending', ARGV[2] .. 'nl:dead', ARGV[2] .. 'nl:delivered')
redis.call('PUBLISH', ARGV[3], 'integration ' .. ARGV[1])
return 1
