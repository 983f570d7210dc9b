-- forget_rates(P, record_json): drops the rate slots of the rules in an integration's stored
-- record, so that a re-created integration or a changed rate does not wait behind the old
-- backlog's slots.
local function forget_rates(P, record_json)
    if not record_json then
        return
    end
    local ok, rec = pcall(cjson.decode, record_json)
    local rules = ok and type(rec) == 'table' and type(rec.settings) == 'table' and
                      rec.settings.notify
    if type(rules) ~= 'table' then
        return
    end
    for _, rule in ipairs(rules) do
        if type(rule) == 'table' and type(rule.id) == 'string' then
            redis.call('DEL', P .. 'nr:' .. rule.id)
        end
    end
end
