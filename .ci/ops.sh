#!/usr/bin/env bash
# The appliance checks, run by .ci/run after `cargo test`: a release build, the .deb (contents
# checked with dpkg-deb), the systemd unit (systemd-analyze verify and security), and the API
# document (openapi-spec-validator, then schemathesis against a running server with a real
# admin token). Installs what it needs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }
apt_ready=""
apt_install() {
    if [ -z "$apt_ready" ]; then apt-get update -qq; apt_ready=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

step "release build (built once: the .deb and schemathesis use the same binary)"
cargo build --release --locked
bin=target/release/switchboard
echo "release binary: $(stat -c %s "$bin") bytes (stripped)"

step "cargo deb"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo deb --no-build --no-strip
deb=$(ls -t target/debian/switchboard_*.deb | head -n 1)
echo "package: $deb, $(stat -c %s "$deb") bytes"
dpkg-deb -c "$deb" | tee "$work/contents"
for want in ./usr/bin/switchboard ./etc/switchboard/switchboard.toml \
    /systemd/system/switchboard.service ./usr/share/doc/switchboard/README.md; do
    grep -q -- "$want" "$work/contents" || { echo "missing from the .deb: $want"; exit 1; }
done
dpkg-deb -I "$deb" | tee "$work/info"
grep -q "/etc/switchboard/switchboard.toml" <(dpkg-deb -f "$deb" Conffiles 2>/dev/null; dpkg-deb -I "$deb" conffiles 2>/dev/null) \
    || { echo "the config is not a conffile"; exit 1; }
grep -q "postinst" "$work/info" || { echo "no postinst in the .deb"; exit 1; }

step "systemd unit: systemd-analyze verify and security"
command -v systemd-analyze >/dev/null || apt_install systemd
# Verify checks that ExecStart's binary exists: point it at the one just built.
sed "s#/usr/bin/switchboard#$PWD/$bin#" packaging/switchboard.service > "$work/switchboard.service"
systemd-analyze verify "$work/switchboard.service"
systemd-analyze security --offline=true "$work/switchboard.service" | tail -n 1
score=$(systemd-analyze security --offline=true "$work/switchboard.service" | sed -n 's/.*exposure level for switchboard.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: $score (0 best, 10 worst)"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || { echo "the unit's exposure rose above 2.0"; exit 1; }

step "OpenAPI document: openapi-spec-validator and schemathesis"
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "schemathesis>=4,<5" "openapi-spec-validator>=0.7"

db="$work/st.db"
"$bin" --db "$db" user add --email schemathesis@example.com --role admin >/dev/null
token=$("$bin" --db "$db" token create --user schemathesis@example.com --name schemathesis \
    --scope leads:read --scope leads:write --scope jobs:read --scope jobs:write \
    --scope invoices:read --scope invoices:write --scope appointments:read --scope appointments:write \
    --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Loopback is exempt from the token limiter and failed-auth throttling here: schemathesis sends
# thousands of calls, and 429s would only hide the answers it is meant to check.
RUST_LOG=warn "$bin" --db "$db" serve --listen "127.0.0.1:$port" \
    --rate-limit-exempt 127.0.0.1 --failed-auth-limit 1000000/1s 2> "$work/server.log" &
server_pid=$!
python3 - "$base/readyz" <<'PY'
import sys, time, urllib.request
deadline = time.time() + 30
while True:
    try:
        if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200:
            break
    except Exception:
        if time.time() > deadline:
            sys.exit("the server did not become ready in 30 s")
        time.sleep(0.1)
PY
python3 -c "import sys, urllib.request; open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1]).read())" \
    "$base/api/v1/openapi.json" "$work/openapi.json"
"$work/venv/bin/openapi-spec-validator" "$work/openapi.json"

# All checks but positive_data_acceptance: a request can match the schema and still be refused
# for facts no schema can state (a lead_id naming no lead, a cursor this server never issued).
# Run from the scratch directory: schemathesis leaves its state in the working directory.
(cd "$work" && "$work/venv/bin/schemathesis" --no-color run "$base/api/v1/openapi.json" --url "$base" \
    -H "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-time 120 --generation-database none \
    --report junit --report-junit-path "$work/schemathesis.xml") | tee "$work/schemathesis.out" | tail -n 25
python3 - "$work/schemathesis.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
print(f"schemathesis: {tests - failures} passed, {failures} failed")
PY
if grep -q "internal error" "$work/server.log"; then
    echo "the server logged an internal error:"; grep "internal error" "$work/server.log" | head; exit 1
fi
