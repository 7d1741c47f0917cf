-- Flood of distinct invalid tokens: each is well formed, with a valid checksum, so it passes
-- the offline check and reaches the lookup and the negative cache, and none exists.
local common = require("common")
local bit = require("bit")
setup = common.setup
done = common.done
response = common.count_status

local ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) ~= 0 then c = bit.bxor(0xEDB88320, bit.rshift(c, 1))
    else c = bit.rshift(c, 1) end
  end
  crc_table[i] = c
end

local function crc32(s)
  local c = bit.bnot(0)
  for i = 1, #s do
    c = bit.bxor(crc_table[bit.band(bit.bxor(c, s:byte(i)), 0xFF)], bit.rshift(c, 8))
  end
  c = bit.bnot(c)
  if c < 0 then c = c + 4294967296 end
  return c
end

local function base62(n, width)
  local out = {}
  for i = width, 1, -1 do
    local d = n % 62
    out[i] = ALPHABET:sub(d + 1, d + 1)
    n = math.floor(n / 62)
  end
  return table.concat(out)
end

-- `sb_<prefix>_<42 characters><checksum>`, distinct per (thread, counter).
local function token(thread, k)
  local prefix = base62(thread * 1000003 + k % 1000003, 8)
  local body = string.format("sb_%s_%s%s", prefix, base62(k, 12), string.rep("f", 30))
  return body .. base62(crc32(body), 6)
end

local counter = 0
function init(args)
  if os.getenv("FLOOD_PRINT_SAMPLE") then print(token(thread_no, 1)) end
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/leads/1",
    { ["Authorization"] = "Bearer " .. token(thread_no, counter) })
end
