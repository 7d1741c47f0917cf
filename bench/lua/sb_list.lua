-- Switchboard: authenticated GET /api/v1/leads?limit=50, rotating across the 100 tokens.
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  common.seed()
  local data = common.data("sb_data.lua")
  request = common.pool(#data, function(i)
    return wrk.format("GET", "/api/v1/leads?limit=50",
      { ["Authorization"] = "Bearer " .. data[i].token })
  end)
end
