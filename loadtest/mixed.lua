-- Mixed load across many tokens: 60% point reads, 25% lists, 15% creates. Counts every
-- status so the controller can prove there was no 5xx.
local tokens = {}
counts = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("LOAD_TOKENS_FILE")) do
    table.insert(tokens, line)
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  counts = {}
end

function request()
  local t = tokens[math.random(#tokens)]
  local headers = { ["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json" }
  local r = math.random(100)
  if r <= 60 then
    return wrk.format("GET", "/api/v1/leads/" .. math.random(2000), headers)
  elseif r <= 85 then
    return wrk.format("GET", "/api/v1/leads?limit=20", headers)
  else
    return wrk.format("POST", "/api/v1/leads", headers, '{"name":"load test lead","source":"loadtest"}')
  end
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  io.stderr:write("STATUS_COUNTS {" .. table.concat(parts, ", ") .. "}\n")
  io.stderr:write(string.format("LATENCY p50=%.2fms p99=%.2fms requests=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests))
end
