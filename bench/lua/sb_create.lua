-- Switchboard: POST /api/v1/leads (durable, one webhook endpoint subscribed to
-- lead.created), rotating across the 100 tokens.
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  common.seed()
  local data = common.data("sb_data.lua")
  request = common.pool(10000, function(i)
    local t = data[(i - 1) % #data + 1]
    local n = thread_no * 100000 + i
    local body = string.format(
      '{"name":"Bench Lead %d","email":"lead%d@bench.invalid","phone":"+15550100",' ..
      '"source":"wrk","status":"new","notes":"created by bench/run.sh"}', n, n)
    return wrk.format("POST", "/api/v1/leads", {
      ["Authorization"] = "Bearer " .. t.token,
      ["Content-Type"] = "application/json",
    }, body)
  end)
end
