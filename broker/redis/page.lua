-- page.lua — one page of a user's missed events, for the websocket register frame.
--
-- KEYS[1]  the user's stream          ({acme}:s:EXT)
-- KEYS[2]  the user's acked cursor    ({acme}:c:EXT)
-- ARGV[1]  id the previous page ended with, to count as delivered ("" on the first page)
-- ARGV[2]  id to read after ("" = after the cursor)
-- ARGV[3]  page size
-- ARGV[4]  retention in milliseconds (the cursor key expires with the stream)
--
-- Delivered means the cursor moves forward to that id, never back, never past the stream's
-- last id.
-- Reply: {top, cursor, entries, status} where top is the stream's last id (when empty, a
-- position just before the server's clock, which every later entry follows), cursor the
-- cursor after this call, entries XRANGE's reply ({id, {"e", json}} each), and status "ok",
-- or "beyond" when ARGV[2] is after top (then nothing was read or changed).
-- include: streamid.lua
local top
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
    top = last[1][1]
else
    local t = redis.call('TIME')
    top = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - 1) .. '-0'
end
if ARGV[2] ~= '' and streamid_cmp(ARGV[2], top) > 0 then
    return {top, '', {}, 'beyond'}
end

local cursor = redis.call('GET', KEYS[2])
if cursor and (not string.match(cursor, '^%d+%-%d+$') or streamid_cmp(cursor, top) > 0) then
    -- written before acks were checked against the stream: it would hide every later event
    redis.call('SET', KEYS[2], top, 'PX', ARGV[4])
    cursor = top
end
if ARGV[1] ~= '' and streamid_cmp(ARGV[1], top) <= 0 and (not cursor or streamid_cmp(ARGV[1], cursor) > 0) then
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
    cursor = ARGV[1]
end
local from = ARGV[2]
if from == '' then from = cursor end
local entries = {}
if not from or from == '' then
    entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[3])
elseif streamid_cmp(from, top) < 0 then
    entries = redis.call('XRANGE', KEYS[1], '(' .. from, '+', 'COUNT', ARGV[3])
end
return {top, cursor or '', entries, 'ok'}
