-- ack.lua — move a user's acknowledged cursor forward, never back.
--
-- KEYS[1]  the user's acked cursor    ({acme}:c:EXT)
-- ARGV[1]  the acknowledged id (<ms>-<seq>)
-- ARGV[2]  retention in milliseconds (expiry of the cursor)
--
-- Reply: 1 when the cursor moved, 0 when it already was at or after the id.
local cur = redis.call('GET', KEYS[1])
if cur then
    local am, as = string.match(ARGV[1], '^(%d+)-(%d+)$')
    local bm, bs = string.match(cur, '^(%d+)-(%d+)$')
    am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
    if not (am > bm or (am == bm and as > bs)) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
