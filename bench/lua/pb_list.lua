-- PocketBase: authenticated list of 50 (PB_LIST_QUERY overrides the query string).
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  local data = common.data("pb_data.lua")
  local query = os.getenv("PB_LIST_QUERY") or "perPage=50"
  local req = wrk.format("GET", "/api/collections/leads/records?" .. query,
    { ["Authorization"] = data.token })
  request = function() return req end
end
