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
-- Its notifications go too (their entries in the shared queue are dropped when claimed), with
-- the chains of those pending, so that a re-created integration starts with none.
--
-- Reply: 1 when deleted, 0 when there was no such integration.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, ext in ipairs(redis.call('HKEYS', KEYS[2])) do
    redis.call('DEL', ARGV[2] .. 's:' .. ext, ARGV[2] .. 'c:' .. ext, ARGV[2] .. 'uc:' .. ext)
end
redis.call('DEL', KEYS[2])
for _, status in ipairs({'pending', 'dead', 'delivered'}) do
    local list = ARGV[2] .. 'nl:' .. status
    for _, nid in ipairs(redis.call('ZRANGE', list, 0, -1)) do
        local h = redis.call('HMGET', ARGV[2] .. 'n:' .. nid, 'ep', 'c')
        if status == 'pending' and h[1] then
            redis.call('DEL', ARGV[2] .. 'nc:' .. h[1] .. '\t' .. h[2])
        end
        redis.call('DEL', ARGV[2] .. 'n:' .. nid, ARGV[2] .. 'na:' .. nid)
    end
    redis.call('DEL', list)
end
redis.call('PUBLISH', ARGV[3], 'integration ' .. ARGV[1])
return 1
