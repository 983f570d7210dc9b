-- page.lua — one page of a user's missed events, for the websocket register frame.
--
-- KEYS[1]  the user's stream          ({acme}:s:EXT)
-- KEYS[2]  the user's acked cursor    ({acme}:c:EXT)
-- ARGV[1]  id the previous page ended with, to count as delivered ("" on the first page)
-- ARGV[2]  id to read after ("" = after the cursor)
-- ARGV[3]  page size
-- ARGV[4]  retention in milliseconds (the cursor key expires with the stream)
--
-- Delivered means the cursor moves forward to that id, never back.
-- Reply: {top, cursor, entries} where top is the stream's last id (when empty, a position just
-- before the server's clock, which every later entry follows), cursor
-- the cursor after this call, and entries XRANGE's reply ({id, {"e", json}} each).
local function newer(a, b)
    if b == false or b == nil or b == '' then return true end
    local am, as = string.match(a, '^(%d+)-(%d+)$')
    local bm, bs = string.match(b, '^(%d+)-(%d+)$')
    am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
    return am > bm or (am == bm and as > bs)
end

local cursor = redis.call('GET', KEYS[2])
if ARGV[1] ~= '' and newer(ARGV[1], cursor) then
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
    cursor = ARGV[1]
end
local from = ARGV[2]
if from == '' then from = cursor end
local start = '-'
if from and from ~= '' then start = '(' .. from end
local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[3])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local top
if #last > 0 then
    top = last[1][1]
else
    -- an empty stream still gives a position: any later entry gets an id after this time
    local t = redis.call('TIME')
    top = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - 1) .. '-0'
end
return {top, cursor or '', entries}
