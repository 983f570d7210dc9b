-- session_open.lua — a websocket connection is let in: its user exists, and a ticket opens
-- one connection only.
--
-- KEYS[1]  the integration's users hash  ({acme}:users)
-- KEYS[2]  the ticket's marker           ({acme}:t:SIGNATURE), absent for token connections
-- ARGV[1]  the extension
-- ARGV[2]  the ticket's expiry, Unix seconds (with KEYS[2])
--
-- Reply: 1 let in, 0 no such user, 2 the ticket was used before.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if KEYS[2] and not redis.call('SET', KEYS[2], '1', 'NX', 'EXAT', tonumber(ARGV[2]) + 1) then
    return 2
end
return 1
