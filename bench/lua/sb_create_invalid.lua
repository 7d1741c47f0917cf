-- Switchboard: POST /api/v1/leads with a status no lead can have, rotating across the 100
-- tokens. Each is authenticated, rate limited, read, parsed, validated, answered 422 and
-- recorded in the audit log like a create, but never reaches the writer: the HTTP side of a
-- create on its own (`bench/ab.sh ... create-invalid`).
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  request = common.lead_creates("nonsense-status")
end
