-- ack.lua — move a user's acknowledged cursor forward, never back, never past the last event.
--
-- KEYS[1]  the user's acked cursor    ({acme}:c:EXT)
-- KEYS[2]  the user's stream          ({acme}:s:EXT)
-- ARGV[1]  the acknowledged id (<ms>-<seq>, canonical: no leading zeros)
-- ARGV[2]  retention in milliseconds (expiry of the cursor)
--
-- Reply: 1 when the cursor moved, 0 when it already was at or after the id, -1 when the id is
-- after the stream's last id (or the stream is empty): refused, nothing changed.
-- include: streamid.lua
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #last == 0 or streamid_cmp(ARGV[1], last[1][1]) > 0 then return -1 end
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^%d+%-%d+$') and streamid_cmp(ARGV[1], cur) <= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
