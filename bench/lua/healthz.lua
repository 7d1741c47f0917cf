-- GET /healthz: the framework's ceiling (no auth, no database).
local common = require("common")
setup = common.setup
done = common.done
wrk.method = "GET"
wrk.path = "/healthz"
