-- bench/soak.sh: POST /api/v1/leads as sb_create.lua, each connection pausing
-- SOAK_CREATE_PAUSE_MS between its calls, so that hours of creates fit on the disk.
local common = require("common")
setup = common.setup
done = common.done

local pause = tonumber(os.getenv("SOAK_CREATE_PAUSE_MS") or "4")

function init(args)
  request = common.lead_creates("new")
end

function delay()
  return pause
end
