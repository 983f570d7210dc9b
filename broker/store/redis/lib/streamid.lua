-- lib/streamid.lua — stream ids compared exactly, as digit strings: Lua numbers are doubles,
-- and a client may send 18446744073709551615-18446744073709551615.
local function streamid_num_cmp(a, b)
    a, b = string.gsub(a, '^0+', ''), string.gsub(b, '^0+', '')
    if #a ~= #b then return #a < #b and -1 or 1 end
    if a == b then return 0 end
    return a < b and -1 or 1
end
-- -1, 0 or 1 as a is before, equal to or after b ("<ms>-<seq>" each).
local function streamid_cmp(a, b)
    local am, as = string.match(a, '^(%d+)-(%d+)$')
    local bm, bs = string.match(b, '^(%d+)-(%d+)$')
    local c = streamid_num_cmp(am, bm)
    if c ~= 0 then return c end
    return streamid_num_cmp(as, bs)
end
