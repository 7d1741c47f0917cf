#!/usr/bin/env bash
# Memory over time: the server under a mixed load for many minutes, its RSS and the rest read
# once a minute. The benchmark's runs last seconds; a process that holds a little more after
# every hour would pass them all, and fail on a Raspberry Pi after a month.
#
#   bench/soak.sh                      30 minutes
#   SOAK_MINUTES=5 bench/soak.sh
#
# The load, all at once (wrk on the load core, the server pinned to the server core, as in
# the benchmark): point reads (16 connections), lists of 50 (4), creates with a webhook
# subscribed (8 connections, each pausing SOAK_CREATE_PAUSE_MS=4 between calls: about 1,000
# a second, 8 GB of database an hour), and distinct invalid tokens (4).
#
# Needs a previous `bench/run.sh` (for bench/work: the seeded database, the tokens and ids).
# Works on a copy of the seeded database in bench/work/soak, deleted at the end.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK="$HERE/work"
SOAK="$WORK/soak"
MINUTES="${SOAK_MINUTES:-30}"
SERVER_CORE="${BENCH_SERVER_CORE:-0}"
LOAD_CORE="${BENCH_LOAD_CORE:-1}"
PORT=18080
SINK_PORT=18099 # the port the seeded webhook endpoint points at
URL="http://127.0.0.1:$PORT"
export SOAK_CREATE_PAUSE_MS="${SOAK_CREATE_PAUSE_MS:-4}"
# As the systemd unit runs it (packaging/switchboard.service).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
BIN="${SOAK_BIN:-$ROOT/target/release/switchboard}"

[[ -f $WORK/sb/switchboard.db && -f $WORK/sb_data.lua ]] ||
  { echo "no seeded database in $WORK: run bench/run.sh first" >&2; exit 1; }
[[ -x $BIN ]] || { echo "no binary at $BIN: cargo build --release" >&2; exit 1; }
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
BUILT=$(date -u -r "$BIN" +%Y-%m-%dT%H:%MZ)

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$SOAK"/sb.db*
}
trap cleanup EXIT

rm -rf "$SOAK"
mkdir -p "$SOAK"
cp "$WORK/sb/switchboard.db" "$SOAK/sb.db"
sync "$SOAK/sb.db"
taskset -c "$LOAD_CORE" python3 "$HERE/tools/sink.py" "$SINK_PORT" >"$SOAK/sink.log" 2>&1 &
PIDS+=($!)
SWITCHBOARD_DB="$SOAK/sb.db" taskset -c "$SERVER_CORE" "$BIN" serve \
  --listen "127.0.0.1:$PORT" --default-limit 1000000/1s --failed-auth-limit 1000000/1s \
  >"$SOAK/serve.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
for ((i = 0; i < 200; i++)); do
  curl -sf -o /dev/null "$URL/healthz" && break
  sleep 0.05
done

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# The highest RSS seen: VmHWM, or a sample above it (the kernel updates VmHWM lazily, and
# it read lower than an earlier sample of VmRSS once memory was handed back).
PEAK_KB=0
note_peak() {
  local kb
  for kb in "$(status_kb "$SERVER" VmHWM)" "$(status_kb "$SERVER" VmRSS)"; do
    if ((kb > PEAK_KB)); then PEAK_KB=$kb; fi
  done
}
sample() {
  note_peak
  printf '| %s | %.1f | %.1f | %s | %s | %.1f | %.0f | %s |\n' "$1" \
    "$(awk -v k="$(status_kb "$SERVER" VmRSS)" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$PEAK_KB" 'BEGIN { print k / 1024 }')" \
    "$(status_kb "$SERVER" Threads)" "$(find /proc/"$SERVER"/fd -mindepth 1 | wc -l)" \
    "$(awk -v b="$(stat -c %s "$SOAK/sb.db-wal" 2>/dev/null || echo 0)" 'BEGIN { print b / 1e6 }')" \
    "$(awk -v b="$(stat -c %s "$SOAK/sb.db")" 'BEGIN { print b / 1e6 }')" \
    "$(metric 'switchboard_webhook_deliveries{status="pending"}')"
}

delivered_before=$(metric 'switchboard_webhook_deliveries{status="delivered"}')
echo "| minute | RSS MB | peak RSS MB | threads | open files | WAL MB | database MB | deliveries pending |"
echo "|---|---|---|---|---|---|---|---|"
sample "0 (idle)"

SECS=$((MINUTES * 60))
LOADS=()
for spec in "soak_create.lua 8" "sb_get.lua 16" "sb_list.lua 4" "flood_tokens.lua 4"; do
  read -r script conns <<<"$spec"
  BENCH_WORK="$WORK" LUA_PATH="$HERE/lua/?.lua;;" taskset -c "$LOAD_CORE" \
    wrk -t1 -c"$conns" -d"${SECS}s" --timeout 10s -s "$HERE/lua/$script" "$URL" \
    >"$SOAK/wrk-${script%.lua}.txt" 2>&1 &
  LOADS+=($!)
  PIDS+=($!)
done
for ((m = 1; m <= MINUTES; m++)); do
  sleep 60
  sample "$m"
done
for pid in "${LOADS[@]}"; do wait "$pid" || true; done

# The webhook backlog drains (the sink counts what it received), then a minute of idling.
for ((i = 0; i < 600; i++)); do
  [[ $(metric 'switchboard_webhook_deliveries{status="pending"}') == 0 ]] && break
  sleep 1
done
sleep 60
sample "idle, 1 min after the load and its webhooks"

echo
echo "| load | connections | requests a second (mean) | answers not 2xx | socket errors |"
echo "|---|---|---|---|---|"
for spec in "soak_create.lua 8" "sb_get.lua 16" "sb_list.lua 4" "flood_tokens.lua 4"; do
  read -r script conns <<<"$spec"
  out="$SOAK/wrk-${script%.lua}.txt"
  printf '| %s | %s | %s | %s | %s |\n' "${script%.lua}" "$conns" \
    "$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$out")" \
    "$(awk '/Non-2xx/ { print $NF }' "$out" | grep . || echo 0)" \
    "$(grep -o 'Socket errors.*' "$out" || echo none)"
done
echo
printf 'webhook deliveries made during the soak: %s delivered, %s pending, %s dead; received by the sink: %s\n' \
  "$(($(metric 'switchboard_webhook_deliveries{status="delivered"}') - delivered_before))" \
  "$(metric 'switchboard_webhook_deliveries{status="pending"}')" \
  "$(metric 'switchboard_webhook_deliveries{status="dead"}')" \
  "$(curl -s "http://127.0.0.1:$SINK_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("received", "?"))')"
echo "$BIN (built $BUILT; the tree at $COMMIT when the soak began), $MINUTES minutes, MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX"
