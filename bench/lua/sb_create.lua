-- Switchboard: POST /api/v1/leads (durable, one webhook endpoint subscribed to
-- lead.created), rotating across the 100 tokens.
local common = require("common")
setup = common.setup
done = common.done

function init(args)
  request = common.lead_creates("new")
end
