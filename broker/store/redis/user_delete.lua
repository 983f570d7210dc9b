-- user_delete.lua — remove a user with its stream, cursor and open calls.
--
-- KEYS[1]  the integration's users hash ({acme}:users)
-- KEYS[2]  the user's stream            ({acme}:s:EXT)
-- KEYS[3]  the user's acked cursor      ({acme}:c:EXT)
-- KEYS[4]  the user's open calls        ({acme}:uc:EXT): a user created again with the
--          extension must not inherit them
-- ARGV[1]  extension
--
-- Reply: 1 when deleted, 0 when there was no such user.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return 1
