#!/usr/bin/env bash
# A/B runs of two Switchboard binaries on the database `bench/run.sh` seeded: the way to judge
# a change on a machine whose figures move 10-15% between runs. Each binary serves a fresh copy
# of that database, pinned as in the benchmark, for each case in turn; the pairs alternate.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [CASE...]     cases: healthz get list create (default: all)
#                                                   and create-invalid (a create answered 422)
#   AB_ROUNDS=3 AB_SECONDS=6 bench/ab.sh ...
#   AB_DB_NEW=/tmp/variant.db bench/ab.sh BIN BIN create   # one binary, two databases
#   AB_DRAIN=1 bench/ab.sh OLD NEW create     # also: how long the burst's webhooks take to go
#                                             # out after it, and the CPU for creates + deliveries
#
# AB_DB_OLD and AB_DB_NEW name the database each side serves a copy of (default: the seeded
# one), so that a schema change can be weighed on its own, e.g. the cost of one index on a
# copy of the seeded database without it.
#
# Needs a previous `bench/run.sh` (for bench/work: the seeded database, the tokens and ids).
# Prints one line per run with req/s, p50, p99, the server's CPU time per request, the
# time the hypervisor took from the machine during the run, and the writer's batch figures.
# On a VM, stolen time moves req/s by 10-30% from run to run; CPU per request moves less.
# After a create run, a second line says how many of its slowest calls (server-side, over the
# p99) overlapped a checkpoint pass that asked for a WAL restart (tools/tail.py).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK="$HERE/work"
AB="$WORK/ab"
ROUNDS="${AB_ROUNDS:-2}"
DB_OLD="${AB_DB_OLD:-$WORK/sb/switchboard.db}"
DB_NEW="${AB_DB_NEW:-$WORK/sb/switchboard.db}"
SECS="${AB_SECONDS:-6}"
SERVER_CORE="${BENCH_SERVER_CORE:-0}"
LOAD_CORE="${BENCH_LOAD_CORE:-1}"
PORT=18080
SINK_PORT=18099 # the port the seeded webhook endpoint points at
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

(($# >= 2)) || { sed -n '2,10p' "$0"; exit 2; }
OLD=$(realpath "$1")
NEW=$(realpath "$2")
shift 2
if (($#)); then CASES=("$@"); else CASES=(healthz get list create); fi
[[ -f $WORK/sb/switchboard.db && -f $WORK/sb_data.lua ]] ||
  { echo "no seeded database in $WORK: run bench/run.sh first" >&2; exit 1; }
for db in "$DB_OLD" "$DB_NEW"; do
  [[ -f $db ]] || { echo "no database at $db" >&2; exit 1; }
done

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$AB"
taskset -c "$LOAD_CORE" python3 "$HERE/tools/sink.py" "$SINK_PORT" >"$AB/sink.log" 2>&1 &
PIDS+=($!)

# CPU time of the server process, all threads, user + system (ns). The ticks of /proc/PID/stat:
# the whole process, threads that ended included.
server_cpu_ns() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' /proc/"$1"/stat
}

# Time stolen from this machine by the hypervisor, all CPUs (clock ticks).
steal_ticks() {
  awk '$1 == "cpu" { print $9 }' /proc/stat
}

one_run() {
  local label=$1 bin=$2 case=$3 script pid out i
  case $case in
    healthz) script=healthz.lua ;;
    get) script=sb_get.lua ;;
    list) script=sb_list.lua ;;
    create) script=sb_create.lua ;;
    create-invalid) script=sb_create_invalid.lua ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
  esac
  rm -f "$AB"/sb.db*
  if [[ $label == old ]]; then cp "$DB_OLD" "$AB/sb.db"; else cp "$DB_NEW" "$AB/sb.db"; fi
  # The copy's pages are still dirty: unflushed, the server's first sync of the database file
  # writes the whole copy back, and that run's p99 is the copy's, not the server's.
  sync "$AB/sb.db"
  # The checkpointer's debug lines say when its passes ran: tools/tail.py matches slow calls
  # against them.
  RUST_LOG="${RUST_LOG:-info,switchboard::startup=debug}" \
    SWITCHBOARD_DB="$AB/sb.db" taskset -c "$SERVER_CORE" "$bin" serve \
    --listen "127.0.0.1:$PORT" --default-limit 1000000/1s >"$AB/serve-$label.log" 2>&1 &
  pid=$!
  for ((i = 0; i < 200; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.05
  done
  out="$AB/wrk-$label-$case.txt"
  local cpu0 steal0
  cpu0=$(server_cpu_ns "$pid")
  steal0=$(steal_ticks)
  BENCH_WORK="$WORK" LUA_PATH="$HERE/lua/?.lua;;" taskset -c "$LOAD_CORE" \
    wrk -t1 -c64 -d"${SECS}s" --latency -s "$HERE/lua/$script" "http://127.0.0.1:$PORT" >"$out" 2>&1
  local cpu steal requests
  cpu=$(($(server_cpu_ns "$pid") - cpu0))
  steal=$(($(steal_ticks) - steal0))
  requests=$(awk '/requests in/ { print $1 }' "$out")
  local writer
  writer=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '
    /^switchboard_db_writer_commits_total/ { c = $2 } /^switchboard_db_writer_writes_total/ { w = $2 }
    /^switchboard_db_writer_busy_seconds_total/ { b = $2 } /^switchboard_db_writer_commit_seconds_total/ { s = $2 }
    /^switchboard_wal_restarts_total/ { r = $2 } /^switchboard_wal_checkpoint_seconds_total/ { k = $2 }
    END {
      if (c > 0) printf "writes/commit %.1f, writer busy %.2f s, committing %.2f s", w / c, b, s
      # Builds before these metrics have none: say so rather than print zeros.
      if (r != "") printf ", WAL restarts %d, checkpointer %.2f s", r, k
      else printf ", WAL restarts n/a"
    }')
  local wal drain=""
  wal=$(stat -c %s "$AB/sb.db-wal" 2>/dev/null || echo 0)
  if [[ $case == create && ${AB_DRAIN:-0} == 1 ]]; then
    # Until the outbox has nothing waiting: how long the webhooks of the burst took to go
    # out after it, and the server's CPU for the creates and their deliveries together.
    local t0 waiting
    t0=$(date +%s.%N)
    for ((i = 0; i < 1200; i++)); do
      waiting=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '
        /^switchboard_webhook_deliveries\{status="(pending|failed)"\}/ { n += $2 } END { print n + 0 }')
      ((waiting == 0)) && break
      sleep 0.1
    done
    drain=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" -v c="$(($(server_cpu_ns "$pid") - cpu0))" \
      -v n="$requests" -v w="$waiting" 'BEGIN {
        printf "drained %.1f s after (%d left), CPU %.1f us a create with its delivery", t1 - t0, w, c / n / 1000 }')
  fi
  printf '%-4s %-14s %10s req/s  p50 %8s  p99 %8s  CPU %6.1f us/req  stolen %4.1f s  WAL %5.1f MB  %s\n' \
    "$label" "$case" "$(awk '/Requests\/sec/ { print $2 }' "$out")" \
    "$(awk '$1 == "50%" { print $2 }' "$out")" "$(awk '$1 == "99%" { print $2 }' "$out")" \
    "$(awk -v c="$cpu" -v n="$requests" 'BEGIN { print (n > 0 ? c / n / 1000 : 0) }')" \
    "$(awk -v t="$steal" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" \
    "$(awk -v b="$wal" 'BEGIN { print b / 1e6 }')" "$writer"
  [[ -n $drain ]] && printf '     %s\n' "$drain"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  if [[ $case == create ]]; then
    printf '     %s\n' "$(python3 "$HERE/tools/tail.py" "$AB/serve-$label.log" POST)"
  fi
}

for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${CASES[@]}"; do
    one_run old "$OLD" "$c"
    one_run new "$NEW" "$c"
  done
done
