-- PocketBase: authenticated POST /api/collections/leads/records, same fields.
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  local data = common.data("pb_data.lua")
  request = common.pool(10000, function(i)
    local n = thread_no * 100000 + i
    local body = string.format(
      '{"name":"Bench Lead %d","email":"lead%d@bench.invalid","phone":"+15550100",' ..
      '"source":"wrk","status":"new","notes":"created by bench/run.sh"}', n, n)
    return wrk.format("POST", "/api/collections/leads/records", {
      ["Authorization"] = data.token,
      ["Content-Type"] = "application/json",
    }, body)
  end)
end
