-- Shared by every wrk script of bench/run.sh (loaded with require; run.sh sets LUA_PATH).
-- Each thread builds a pool of ready-made requests in init(), so request() costs a table
-- lookup: the load generator, alone on its core, must not be what limits the figures.
local M = {}

local next_id = 1
local threads = {}
-- Runs in the main Lua state once per wrk thread: gives each thread its own number.
function M.setup(thread)
  thread:set("thread_no", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Status tally, for the floods only (a response() hook makes wrk parse every answer):
-- counts[status] in each thread, summed by done().
counts = {}
function M.count_status(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

-- Loads a data file written by run.sh (a Lua chunk returning a table).
function M.data(name)
  local dir = os.getenv("BENCH_WORK") or error("BENCH_WORK is not set")
  return dofile(dir .. "/" .. name)
end

function M.seed()
  math.randomseed(os.time() * 1000 + (thread_no or 0))
end

-- Builds `n` requests with make(i) and returns a request() that cycles through them.
function M.pool(n, make)
  local reqs = {}
  for i = 1, n do reqs[i] = make(i) end
  local k = 0
  return function()
    k = k % n + 1
    return reqs[k]
  end
end

-- Lead creates (POST /api/v1/leads) with `status`, rotating across the seeded tokens: the
-- request() of a create script.
function M.lead_creates(status)
  M.seed()
  local data = M.data("sb_data.lua")
  return M.pool(10000, function(i)
    local t = data[(i - 1) % #data + 1]
    local n = thread_no * 100000 + i
    local body = string.format(
      '{"name":"Bench Lead %d","email":"lead%d@bench.invalid","phone":"+15550100",' ..
      '"source":"wrk","status":"%s","notes":"created by bench/run.sh"}', n, n, status)
    return wrk.format("POST", "/api/v1/leads", {
      ["Authorization"] = "Bearer " .. t.token,
      ["Content-Type"] = "application/json",
    }, body)
  end)
end

-- One machine-readable line per run, parsed by bench/tools/report.py.
function M.done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
  local total, any = {}, false
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts") or {}) do
      total[status] = (total[status] or 0) + n
      any = true
    end
  end
  if any then
    local parts = {}
    for status, n in pairs(total) do table.insert(parts, string.format('"%d":%d', status, n)) end
    io.write("BENCH_STATUS {" .. table.concat(parts, ",") .. "}\n")
  end
end

return M
