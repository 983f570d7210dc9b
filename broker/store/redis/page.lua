-- page.lua — one page of a user's missed events, for the websocket register frame.
--
-- KEYS[1]  the user's stream          ({acme}:s:EXT)
-- KEYS[2]  the user's acked cursor    ({acme}:c:EXT)
-- KEYS[3]  the user's open calls      ({acme}:uc:EXT)
-- ARGV[1]  id the previous page ended with, to count as delivered ("" on the first page)
-- ARGV[2]  id to read after ("" = after the cursor)
-- ARGV[3]  page size
-- ARGV[4]  retention in milliseconds (the cursor key expires with the stream)
-- ARGV[5]  prefix of the call keys ("cr:{acme}:call:") to list the user's open calls, or ""
--
-- Delivered means the cursor moves forward to that id, never back, never past the stream's
-- last id.
-- Reply: {top, cursor, entries, status} where top is the stream's last id (when empty, a
-- position just before the server's clock, which every later entry follows), cursor the
-- cursor after this call, entries XRANGE's reply ({id, {"e", json}} each), and status "ok",
-- or "beyond" when ARGV[2] is after top (then nothing was read or changed), then gap (1 when
-- retention removed events after the position read from, else 0) and calls ({call_id,
-- HGETALL's reply} for each of the CALLS_MAX latest open calls whose hash is still there).
--
-- gap: trimming by MINID does not move XINFO's max-deleted-entry-id (Redis 7.0, checked),
-- but entries-added minus length counts what was removed, all of it before the first entry
-- kept. A position before that entry may be the last one removed (nothing missed): gap then
-- errs on the side of telling.
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
    return {top, '', {}, 'beyond', 0, {}}
end

local CALLS_MAX = 50

local function removed_after(from)
    -- nothing to read (an empty stream, or a position at its end): nothing was missed either
    if #last == 0 or (from ~= '' and streamid_cmp(from, top) >= 0) then return 0 end
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    local f = {}
    for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
    local added, length = tonumber(f['entries-added']), tonumber(f['length'])
    if not added or not length or added <= length then return 0 end
    if from == '' then return 1 end
    local kept = length > 0 and f['recorded-first-entry-id'] or f['last-generated-id']
    return (type(kept) == 'string' and streamid_cmp(from, kept) < 0) and 1 or 0
end

local function open_calls()
    local calls = {}
    if ARGV[5] == '' then return calls end
    for _, id in ipairs(redis.call('ZREVRANGE', KEYS[3], 0, CALLS_MAX - 1)) do
        local h = redis.call('HGETALL', ARGV[5] .. id)
        local ended = false
        for i = 1, #h, 2 do
            if h[i] == 'state' then ended = h[i + 1] == 'disconnected' end
        end
        if #h > 0 and not ended then calls[#calls + 1] = {id, h} end
    end
    return calls
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
local gap = removed_after(from or '')
if not from or from == '' then
    entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[3])
elseif streamid_cmp(from, top) < 0 then
    entries = redis.call('XRANGE', KEYS[1], '(' .. from, '+', 'COUNT', ARGV[3])
end
return {top, cursor or '', entries, 'ok', gap, open_calls()}
