-- Switchboard: authenticated GET /api/v1/leads/{id}, random ids, each sent with the token
-- of the agent who owns it (agents only reach their own records), across the 100 tokens.
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  common.seed()
  local data = common.data("sb_data.lua")
  request = common.pool(20000, function()
    local t = data[math.random(#data)]
    local id = t.ids[math.random(#t.ids)]
    return wrk.format("GET", "/api/v1/leads/" .. id,
      { ["Authorization"] = "Bearer " .. t.token })
  end)
end
