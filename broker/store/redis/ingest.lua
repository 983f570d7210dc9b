-- ingest.lua — store a batch of webhook events: one loop pass's webhooks, or a part of them,
-- with the state of their calls (docs/redis-layout.md). The broker cuts a large batch into
-- several calls (broker/ingest_plan.h), never inside an event, so each event is atomic: its
-- dedupe marker, its appends and its call's state change are in one call.
--
-- KEYS, per event:  the integration's users hash ({acme}:users), the event's dedupe key.
--                   The other keys of the integration (streams, call, uc:, on, cmd:) are named
--                   here from ARGV[6] and the integration: they depend on what this script
--                   reads, and share the integration's hash tag, so its slot.
-- ARGV[1]           retention in milliseconds (MINID trimming and key expiry)
-- ARGV[2]           dedupe window in seconds
-- ARGV[3]           pub/sub channels' prefix for wake-ups: the user's shard follows it
-- ARGV[4]           number of events
-- ARGV[5]           largest wake-up message, bytes
-- ARGV[6]           key prefix ("cr:")
-- ARGV[7]           "" or the single wake-up channel of versions before the shards, where every
--                   message is published too (CALLRELAY_FEED=both, for a rolling upgrade)
-- then per event:   integration;
--                   target: "u" (the users that follow), "o" + fallback extension (one
--                     online user, else the fallback, else nobody), "p" (the users of the
--                     call), "c" + command id (the user who sent the command);
--                   the JSON template (broker/event.h: \1 where the user goes, \2 where the
--                     call_id goes when a command gives it, \3 where the group flag may go;
--                     none when the broker rendered the copy of an event for one user);
--                   the number of state fields m, then m fields: CALL_ID, KIND, STATE,
--                     ORDER_SEQ, ORDER_KEY, then FIELD, VALUE pairs for the call hash;
--                   the notification rules it matched: "" or, per rule, NUL-terminated RULE_ID,
--                     ENDPOINT, RATE_PER_S, LEASE_MS (broker/out/notify_rule.h);
--                   the number of users n, then n extensions.
--
-- Per event: a key seen within the window makes it a duplicate (stored once), and so does a
-- sequenced (or call_parties) call event that would tell each of its recipients the state
-- their leg is in already; an order.seq
-- not above the one stored for its order key makes it stale; an event for nobody (no existing
-- user, nobody online and no fallback, an unknown call or command) is ignored; duplicates,
-- stale and ignored events change nothing, and the last two give their key back. Otherwise it
-- is appended to each recipient's stream, older entries are trimmed, the expiry refreshed, and
-- the call's state updated. Wake-ups carry every appended entry as lines
-- "integration\tuser\tid\tjson\n", on the channel of the user's shard of the feed
-- (broker/lib/feed_shard.h), in the order of their ids, in PUBLISH messages of whole
-- lines of at most ARGV[5] bytes (a longer line goes alone): Redis closes a subscriber whose
-- output buffer one huge message would overflow.
--
-- A stored event queues one notification per copy and matched rule (notify.lua), in this same
-- step: no event without its notifications, no notification without its event.
--
-- Reply: a string with one letter per event, in order: a(ccepted), d(uplicate), i(gnored),
-- s(tale); then, when notifications were queued, "+" and their number.
-- Numbers that only go back to Redis stay strings, and those made here are made once, with
-- %d: Lua formats a number with %.14g for every command argument it is given, and that showed
-- in the profile (issue 12).
local retention_ms = ARGV[1]
local n_events = tonumber(ARGV[4])
local wake_max = tonumber(ARGV[5])
local key_prefix = ARGV[6]
local feed_both = ARGV[7]
local find, sub, byte, concat, format = string.find, string.sub, string.byte, table.concat,
    string.format

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local retention_n = tonumber(retention_ms)
local now_ms = format('%d', now)
local minid = format('%d', now - retention_n)
-- expiries as Unix ms: a relative one Redis rewrites into this for the AOF, one more object
local expire_at = format('%d', now + retention_n)
local dedupe_at = format('%d', now + tonumber(ARGV[2]) * 1000)
local keep_at
local seeded = false
local prefixes = {} -- integration -> its key prefix, made once per call

-- A user's stream and open calls live at least the retention after their last write: their
-- expiry is set to the retention and a sixteenth, and only when below the retention. A busy
-- key then costs a PTTL, a read, instead of a PEXPIRE that the AOF takes too.
local function keep(key)
    if redis.call('PTTL', key) < retention_n then
        keep_at = keep_at or format('%d', now + retention_n + math.floor(retention_n / 16))
        redis.call('PEXPIREAT', key, keep_at)
    end
end

local GROUP = ',"is_group_disconnect":true'

local status = {}
local wake, wake_bytes, wake_shards = {}, {}, {}
local queued = 0

-- include: notify_due.lua
-- include: notify_queue.lua

-- The user's shard of the feed, as broker/lib/feed_shard.c computes it.
local integration_hash = {}
local function feed_shard(integration, ext)
    local h = integration_hash[integration]
    if not h then
        h = 0
        for i = 1, #integration do
            h = (h * 131 + byte(integration, i)) % 2147483647
        end
        h = (h * 131 + 9) % 2147483647
        integration_hash[integration] = h
    end
    for i = 1, #ext do
        h = (h * 131 + byte(ext, i)) % 2147483647
    end
    return h % 1024
end

local function publish(shard)
    local w = wake[shard]
    if #w > 0 then
        local text = concat(w)
        redis.call('PUBLISH', ARGV[3] .. format('%d', shard), text)
        if feed_both ~= '' then
            redis.call('PUBLISH', feed_both, text)
        end
        wake[shard], wake_bytes[shard] = {}, 0
    end
end

-- One line, "integration\tuser\tid\tjson\n", on the channel of the user's shard, kept in
-- pieces: each message is joined once.
local function wake_up(integration, ext, id, json)
    local shard = feed_shard(integration, ext)
    local len = #integration + #ext + #id + #json + 4
    if not wake[shard] then
        wake[shard], wake_bytes[shard] = {}, 0
        wake_shards[#wake_shards + 1] = shard
    elseif wake_bytes[shard] + len > wake_max then
        publish(shard)
    end
    local w = wake[shard]
    local n = #w
    w[n + 1], w[n + 2], w[n + 3] = integration, '\t', ext
    w[n + 4], w[n + 5], w[n + 6] = '\t', id, '\t'
    w[n + 7], w[n + 8] = json, '\n'
    wake_bytes[shard] = wake_bytes[shard] + len
end

local function split0(s)
    local out = {}
    for v in string.gmatch(s, '(%Z*)%z') do
        out[#out + 1] = v
    end
    return out
end

local function is_user(users, ext)
    return redis.call('HEXISTS', users, ext) == 1
end

-- One user with an unexpired presence member ("EXT\tINSTANCE"), at random; else the fallback.
local function one_online(P, users, fallback)
    local seen, found = {}, {}
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'on', '(' .. now_ms, '+inf')) do
        local ext = string.match(m, '^([^\t]+)\t')
        if ext and not seen[ext] then
            seen[ext] = true
            if is_user(users, ext) then
                found[#found + 1] = ext
            end
        end
    end
    if #found > 0 then
        if not seeded then -- scripts start with the same seed every call: the clock varies it
            math.randomseed(tonumber(t[2]))
            seeded = true
        end
        return {found[math.random(#found)]}
    end
    if fallback ~= '' and is_user(users, fallback) then
        return {fallback}
    end
    return {}
end

local function call_parties(users, call_key)
    local out = {}
    for _, f in ipairs(redis.call('HKEYS', call_key)) do
        local ext = string.match(f, '^u:(.+)$')
        if ext and is_user(users, ext) then
            out[#out + 1] = ext
        end
    end
    return out
end

local function named(users, a, n)
    local out = {}
    for u = 1, n do
        local ext = ARGV[a + u]
        if is_user(users, ext) then
            out[#out + 1] = ext
        end
    end
    return out
end

-- The template cut at its marks, once per event: text, mark (1 to 3), text, ...; nil when it
-- has none. Plain finds: a pattern (gsub) costs Lua a match attempt per byte of the event.
local function cut(tpl)
    local marks = {}
    for m = 1, 3 do
        local i = find(tpl, string.char(m), 1, true)
        while i do
            marks[#marks + 1] = i
            i = find(tpl, string.char(m), i + 1, true)
        end
    end
    if #marks == 0 then
        return nil
    end
    table.sort(marks)
    local parts, from = {}, 1
    for _, i in ipairs(marks) do
        parts[#parts + 1] = sub(tpl, from, i - 1)
        parts[#parts + 1] = byte(tpl, i)
        from = i + 1
    end
    parts[#parts + 1] = sub(tpl, from)
    return parts
end

-- The copy for one user; group: whether it gets the group flag where the template has its slot.
local function render(tpl, parts, ext, call_id_json, group)
    if not parts then
        return tpl
    elseif #parts == 3 and parts[2] == 1 then
        return parts[1] .. ext .. parts[3]
    end
    local out = {}
    for i = 1, #parts, 2 do
        out[i] = parts[i]
        local m = parts[i + 1]
        if m == 1 then
            out[i + 1] = ext
        elseif m == 2 then
            out[i + 1] = call_id_json or '\2'
        elseif m == 3 then
            out[i + 1] = group and GROUP or ''
        end
    end
    return concat(out)
end

local function all_legs_ended(call_key)
    local h = redis.call('HGETALL', call_key)
    for i = 1, #h, 2 do
        if string.sub(h[i], 1, 2) == 'u:' and h[i + 1] ~= 'disconnected' then
            return false
        end
    end
    return true
end

local function push(t, field, value)
    t[#t + 1] = field
    t[#t + 1] = value
end

-- The call's state after a call event reached these users' legs (already written), and their
-- open calls.
local function after_legs(P, call_key, call_id, state, exts)
    for _, ext in ipairs(exts) do
        if state == 'connected' then
            redis.call('HSETNX', call_key, 'answered', ext)
        end
        local uc = P .. 'uc:' .. ext
        if state == 'disconnected' then
            redis.call('ZREM', uc, call_id)
        else
            redis.call('ZADD', uc, now_ms, call_id)
            keep(uc)
        end
    end
    if state == 'disconnected' and all_legs_ended(call_key) then
        redis.call('HSET', call_key, 'state', state)
    end
end

-- One HSET for what the event says outright; what depends on the hash's fields follows.
-- ARGV[i] to ARGV[j]: the event's FIELD, VALUE pairs for the hash.
local function update_call(P, call_key, f, exts, i, j)
    local call_id, kind, state = f[1], f[2], f[3]
    local set = (kind == 'call' or kind == 'ivr' or kind == 'record') and {unpack(ARGV, i, j)} or {}
    if kind == 'call' then
        push(set, 'kind', 'call')
        for _, ext in ipairs(exts) do
            push(set, 'u:' .. ext, state)
        end
        -- appeared only opens a call that is new or over; disconnected waits for every leg
        if state == 'connected' or state == 'on_hold' then
            push(set, 'state', state)
        elseif state == 'appeared' then
            local cur = redis.call('HGET', call_key, 'state')
            if not cur or cur == 'disconnected' then
                push(set, 'state', state)
            end
        end
    end
    if f[4] ~= '' then
        push(set, 'o:' .. f[5], f[4])
    end
    -- in slices: unpack has a limit (about 8000 values) that a large call's parties can pass
    for i = 1, #set, 1000 do
        redis.call('HSET', call_key, unpack(set, i, math.min(i + 999, #set)))
    end
    if kind == 'call' then
        after_legs(P, call_key, call_id, state, exts)
    elseif kind == 'ivr' then
        -- an IVR notice reaches someone who is not a party: no leg, and the call's state
        -- follows it only while the call has been nowhere else
        redis.call('HSETNX', call_key, 'kind', 'ivr')
        if redis.call('HGET', call_key, 'kind') == 'ivr' then
            redis.call('HSET', call_key, 'state', state)
        end
    elseif kind == 'record' then
        redis.call('HSETNX', call_key, 'kind', 'call')
    end
    redis.call('PEXPIREAT', call_key, expire_at)
end

-- Whether each recipient's copy gets the group flag: the call was answered by another user
-- and this user's leg never connected.
local function group_flags(call_key, exts)
    local flags = {}
    local answered = redis.call('HGET', call_key, 'answered')
    for i, ext in ipairs(exts) do
        local leg = redis.call('HGET', call_key, 'u:' .. ext)
        flags[i] = answered and answered ~= ext and (not leg or leg == 'appeared') or false
    end
    return flags
end

-- The recipients whose leg is not in this state already, for events a PBX sequences (order)
-- and those for a call's parties: a PBX may report one change from several sources (ARI's
-- Dial, ChannelStateChange and ChannelEnteredBridge all say connected; two channels' ends both
-- end a call), and a user sees it once. An unsequenced event is the PBX's to repeat.
local function changed(call_key, exts, state)
    local out = {}
    for _, ext in ipairs(exts) do
        if redis.call('HGET', call_key, 'u:' .. ext) ~= state then
            out[#out + 1] = ext
        end
    end
    return out
end

-- One event; a: its first argument, m: its number of state fields. Returns its letter.
local function ingest(users, a, m)
    local integration, target, tpl = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    local f = {unpack(ARGV, a + 4, a + 8)} -- CALL_ID, KIND, STATE, ORDER_SEQ, ORDER_KEY
    local b = a + m -- the arguments after the state fields are at b + 4 on
    local P = prefixes[integration]
    if not P then
        P = key_prefix .. '{' .. integration .. '}:'
        prefixes[integration] = P
    end
    local mode, arg = target, '' -- "u" and "p" have no argument
    if #target > 1 then
        mode, arg = sub(target, 1, 1), sub(target, 2)
    end
    local call_id, call_id_json = f[1], nil
    local exts
    if mode == 'c' then
        local cmd = redis.call('HMGET', P .. 'cmd:' .. arg, 'user', 'call_id')
        if not cmd[1] then
            return 'i'
        end
        if call_id == '' then
            if not cmd[2] or cmd[2] == '' then
                return 'i'
            end
            call_id = cmd[2]
            f[1] = call_id
            call_id_json = cjson.encode(call_id)
        end
        exts = is_user(users, cmd[1]) and {cmd[1]} or {}
    end
    local call_key = P .. 'call:' .. call_id
    if f[4] ~= '' then
        local last = redis.call('HGET', call_key, 'o:' .. f[5])
        if last and tonumber(f[4]) <= tonumber(last) then
            return 's'
        end
    end
    if mode == 'u' then
        exts = named(users, b + 5, tonumber(ARGV[b + 5]))
    elseif mode == 'o' then
        exts = one_online(P, users, arg)
    elseif mode == 'p' then
        exts = call_parties(users, call_key)
    end
    if #exts == 0 then
        return 'i'
    end
    if f[2] == 'call' and (mode == 'p' or f[4] ~= '') then
        exts = changed(call_key, exts, f[3])
        if #exts == 0 then
            return 'd'
        end
    end
    -- every template has the user's mark but one the broker rendered, which has no mark at all
    local parts = find(tpl, '\1', 1, true) and cut(tpl)
    local flags = parts and find(tpl, '\3', 1, true) and group_flags(call_key, exts) or {}
    local rules = ARGV[b + 4] ~= '' and split0(ARGV[b + 4]) or nil
    for i, ext in ipairs(exts) do
        local json = render(tpl, parts, ext, call_id_json, flags[i])
        local stream = P .. 's:' .. ext
        local id = redis.call('XADD', stream, 'MINID', minid, '*', 'e', json)
        keep(stream)
        wake_up(integration, ext, id, json)
        if rules then
            queued = queued + notify_queue(key_prefix, integration, rules, ext, json, id,
                                           call_id, now_ms, retention_ms)
        end
    end
    -- a call's parties all get the news, but only its end is every leg's
    if mode == 'p' and f[3] ~= 'disconnected' then
        exts = {}
    end
    update_call(P, call_key, f, exts, a + 9, a + 3 + m)
    return 'a'
end

local a, k = 8, 1
for e = 1, n_events do
    local m = tonumber(ARGV[a + 3])
    local n = tonumber(ARGV[a + 5 + m])
    local dedupe_key = KEYS[k + 1]
    -- claim the key first (one call instead of EXISTS + SET); give it back if nothing is stored
    if not redis.call('SET', dedupe_key, '1', 'NX', 'PXAT', dedupe_at) then
        status[e] = 'd'
    else
        status[e] = ingest(KEYS[k], a, m)
        if status[e] ~= 'a' then
            redis.call('DEL', dedupe_key)
        end
    end
    a = a + 6 + m + n
    k = k + 2
end
for _, shard in ipairs(wake_shards) do
    publish(shard)
end
if queued > 0 then
    status[#status + 1] = '+' .. queued
end
return table.concat(status)
