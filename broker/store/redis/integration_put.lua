-- integration_put.lua — create or update an integration's record and tell every instance.
--
-- KEYS[1]  the integrations hash       (cr:integrations)
-- ARGV[1]  integration name
-- ARGV[2]  record JSON {"adapter","settings","token_sha256","created"}
-- ARGV[3]  "create" (only if absent) or "update" (only if present)
-- ARGV[4]  control channel
-- ARGV[5]  the integration's key prefix ("cr:{acme}:"): an update forgets its rules' rate slots
--
-- Reply: 1 when written, 0 when create found it present or update found it absent.
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1])
if (ARGV[3] == 'create' and exists == 1) or (ARGV[3] == 'update' and exists == 0) then
    return 0
end
-- include: notify_rates.lua
if exists == 1 then
    forget_rates(ARGV[5], redis.call('HGET', KEYS[1], ARGV[1]))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], 'integration ' .. ARGV[1])
return 1
