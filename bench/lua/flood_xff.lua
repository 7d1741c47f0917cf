-- Flood of distinct client addresses: the server trusts 127.0.0.1 as a proxy, so every
-- X-Forwarded-For address is a new caller; each sends a malformed token (a failed
-- authentication the per-address limiter must remember). The addresses are documentation
-- addresses (2001:db8::/32) carried in a header: no traffic goes anywhere but loopback.
local common = require("common")
setup = common.setup
done = common.done
response = common.count_status

local counter = 0
function request()
  counter = counter + 1
  local ip = string.format("2001:db8:%x::%x:%x", thread_no, math.floor(counter / 65536),
    counter % 65536)
  return wrk.format("GET", "/api/v1/leads/1", {
    ["Authorization"] = "Bearer sb_not_a_token",
    ["X-Forwarded-For"] = ip,
  })
end
