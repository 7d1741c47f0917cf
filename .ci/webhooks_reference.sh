#!/usr/bin/env bash
# A real delivery from the built binary, verified by the reference `standardwebhooks` Python
# library: serve on a temp database, point an endpoint at a tiny receiver, POST a lead, and
# fail unless the receiver verified the delivery. Installs Python itself when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug/switchboard
[ -x "$bin" ] || cargo build --quiet

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 -m venv "$work/venv"
timeout 90 "$work/venv/bin/pip" install --quiet --disable-pip-version-check standardwebhooks
py="$work/venv/bin/python"

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_field() { "$py" -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

db="$work/ci.db"
hook_port=$(free_port)
api_port=$(free_port)
secret=$("$bin" --db "$db" webhook add --url "http://127.0.0.1:$hook_port/hook" \
    --event lead.created --json | json_field secret)
"$bin" --db "$db" user add --email ci@example.com --role admin >/dev/null
token=$("$bin" --db "$db" token create --user ci@example.com --name ci --scope leads:write \
    --json | json_field token)

"$py" .ci/webhook_receiver.py "$hook_port" "$secret" "$work/received" &
pids+=($!)
RUST_LOG=warn "$bin" --db "$db" serve --listen "127.0.0.1:$api_port" 2>"$work/server.log" &
pids+=($!)

"$py" - "$api_port" "$token" <<'PY'
import json, sys, time, urllib.request
port, token = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
deadline = time.time() + 30
while True:
    try:
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("the server did not come up")
        time.sleep(0.1)
req = urllib.request.Request(
    f"{base}/api/v1/leads",
    data=json.dumps({"name": "CI lead"}).encode(),
    headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
)
with urllib.request.urlopen(req, timeout=10) as r:
    assert r.status == 201, r.status
PY

for _ in $(seq 1 150); do
    if [ -s "$work/received" ]; then break; fi
    sleep 0.2
done
if grep -q '^verified .* lead.created$' "$work/received" 2>/dev/null \
    && ! grep -q '^FAILED' "$work/received"; then
    echo "standardwebhooks verified: $(head -n1 "$work/received")"
else
    echo "webhook delivery was not verified by standardwebhooks:" >&2
    cat "$work/received" >&2 2>/dev/null || echo "(nothing arrived)" >&2
    tail -n 20 "$work/server.log" >&2 || true
    exit 1
fi
