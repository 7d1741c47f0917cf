-- PocketBase: authenticated GET /api/collections/leads/records/{id}, random ids.
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  common.seed()
  local data = common.data("pb_data.lua")
  request = common.pool(20000, function()
    local id = data.ids[math.random(#data.ids)]
    return wrk.format("GET", "/api/collections/leads/records/" .. id,
      { ["Authorization"] = data.token })
  end)
end
