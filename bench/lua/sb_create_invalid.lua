-- Switchboard: POST /api/v1/leads with a status no lead can have, rotating across the 100
-- tokens. Each is authenticated, rate limited, read, parsed, validated, answered 422 and
-- recorded in the audit log like a create, but never reaches the writer: the HTTP side of a
-- create on its own (`bench/ab.sh ... create-invalid`).
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
      '"source":"wrk","status":"nonsense-status","notes":"created by bench/run.sh"}', n, n)
    return wrk.format("POST", "/api/v1/leads", {
      ["Authorization"] = "Bearer " .. t.token,
      ["Content-Type"] = "application/json",
    }, body)
  end)
end
