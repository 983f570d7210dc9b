-- The queue of notifications is one sorted set per endpoint, K nq:ENDPOINT (member
-- INTEGRATION\tID, score = due Unix ms), and K nqe, the endpoints by when their earliest is due:
-- never later than that (a lease or a retry may leave it earlier; the claim then corrects it).
local function due(K, ep, m, at, flag)
    if flag then
        redis.call('ZADD', K .. 'nq:' .. ep, flag, at, m)
    else
        redis.call('ZADD', K .. 'nq:' .. ep, at, m)
    end
    redis.call('ZADD', K .. 'nqe', 'LT', at, ep)
end

local function undue(K, ep, m)
    redis.call('ZREM', K .. 'nq:' .. ep, m)
end
