#!/usr/bin/env python3
"""Where a run's slow calls fall: during the WAL checkpointer's passes, or elsewhere.

    bench/tools/tail.py [--json] SERVER_LOG [METHOD]        (METHOD: POST by default)

Reads a server log (pretty or JSON) written with `RUST_LOG=info,switchboard::startup=debug`
(bench/ab.sh and bench/run.sh do so): the request lines (time answered, latency) and the checkpointer's "WAL to be started
over" lines (time logged at the end of its pass, and the pass's length). A call counts as
slowed by a pass when its time in the server overlaps the pass, or the AFTER_MS that follow
it (the writer copies the last pages back and starts the WAL over before its next batch).
Prints one line (or, with --json, the figures); server-side latencies, so a little below the
load generator's.
"""

import bisect
import json
import re
import sys
from datetime import datetime, timezone

AFTER_MS = 30.0

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")
METHOD = re.compile(r" method=(\S+)")
LATENCY = re.compile(r" latency_ms=([\d.]+)")
PASS = re.compile(r" pass_ms=([\d.]+)")
RESTART = "WAL to be started over"


def seconds(stamp):
    """Seconds since the epoch of the log's UTC timestamp (`...T12:00:00.123456Z`)."""
    return datetime.fromisoformat(stamp.rstrip("Z")).replace(tzinfo=timezone.utc).timestamp()


def fields(line):
    """(time, message is the restart line, method, latency_ms, pass_ms) of a log line in the
    pretty format (colours or not) or the JSON one; None for a line of neither."""
    line = line.strip()
    if line.startswith("{"):
        try:
            o = json.loads(line)
            t = seconds(o["timestamp"])
        except (ValueError, KeyError, TypeError):
            return None
        return t, o.get("message") == RESTART, o.get("method"), o.get("latency_ms"), o.get("pass_ms")
    line = ANSI.sub("", line)
    m = STAMP.match(line)
    if not m:
        return None
    number = lambda pattern: float(g.group(1)) if (g := pattern.search(line)) else None
    method = g.group(1) if (g := METHOD.search(line)) else None
    return seconds(m.group(1)), RESTART in line, method, number(LATENCY), number(PASS)


def read(path, method):
    calls, passes = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parsed = fields(line)
            if parsed is None:
                continue
            t, restart, m, latency_ms, pass_ms = parsed
            if restart:
                # Older builds do not log the pass's length: their windows hold the after only.
                length = pass_ms / 1000 if pass_ms is not None else None
                passes.append((t - (length or 0.0), t + AFTER_MS / 1000, length))
            elif m == method and latency_ms is not None:
                latency = latency_ms / 1000
                calls.append((t - latency, t, latency))
    return calls, passes


def overlapping(windows):
    """A test of whether a call overlaps one of `windows` (which never overlap each other
    by more than a pass's length: passes are half a second apart)."""
    windows = sorted(windows)
    starts = [a for a, _ in windows]

    def test(call):
        start, end = call[0], call[1]
        # Windows that begin before the call ends; the last few may still be open.
        i = bisect.bisect_left(starts, end)
        return any(windows[j][1] > start for j in range(max(0, i - 3), i))

    return test


def figures(path, method):
    calls, passes = read(path, method)
    if not calls:
        return None
    latencies = sorted(c[2] for c in calls)
    n = len(latencies)
    p50, p99 = latencies[n // 2], latencies[min(n - 1, int(n * 0.99))]
    slow = [c for c in calls if c[2] > p99]
    test = overlapping([(a, b) for a, b, _ in passes])
    lengths = sorted(length * 1000 for _, _, length in passes if length is not None)
    return {
        "method": method,
        "calls": n,
        "p50_ms": round(p50 * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "passes": len(passes),
        "pass_ms_min": round(lengths[0], 1) if lengths else None,
        "pass_ms_max": round(lengths[-1], 1) if lengths else None,
        "after_ms": AFTER_MS,
        "slow": len(slow),
        "slow_in_windows_pct": round(100 * sum(map(test, slow)) / max(1, len(slow)), 1),
        "all_in_windows_pct": round(100 * sum(map(test, calls)) / n, 1),
    }


def main():
    args = sys.argv[1:]
    as_json = bool(args) and args[0] == "--json"
    args = args[1:] if as_json else args
    if not args:
        sys.exit(__doc__)
    method = args[1] if len(args) > 1 else "POST"
    f = figures(args[0], method)
    if as_json:
        print(json.dumps(f))
        return
    if f is None:
        print(f"tail: no {method} calls in the log")
        return
    head = (
        f"tail: {f['calls']} {method} calls, server-side p50 {f['p50_ms']:.1f} ms, "
        f"p99 {f['p99_ms']:.1f} ms; "
    )
    if not f["passes"]:
        print(head + "no checkpointer pass asked for a WAL restart")
        return
    lengths = (
        f"each {f['pass_ms_min']:.0f}-{f['pass_ms_max']:.0f} ms"
        if f["pass_ms_min"] is not None
        else "their length not logged"
    )
    print(
        head + f"{f['passes']} checkpointer passes asked for a WAL restart ({lengths}); "
        f"{f['slow_in_windows_pct']:.0f}% of the {f['slow']} calls over the p99 overlapped such "
        f"a pass or the {AFTER_MS:.0f} ms after it, against {f['all_in_windows_pct']:.0f}% of "
        "all calls"
    )


if __name__ == "__main__":
    main()
