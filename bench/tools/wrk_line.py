#!/usr/bin/env python3
"""One line per wrk run for the console, with a warning when the run is not clean.

usage: wrk_line.py SERVER CASE ROUND RESULT_JSON STATUSES_JSON|null [EXPECTED_STATUSES]
EXPECTED_STATUSES (comma-separated) is given for the floods, whose scripts tally statuses;
any other status is flagged. Without it any non-2xx answer is flagged."""
import json
import sys


def main():
    s, c, r, line, statuses = sys.argv[1:6]
    expected = sys.argv[6] if len(sys.argv) > 6 else ""
    x = json.loads(line)
    errors = x["connect_errors"] + x["read_errors"] + x["write_errors"] + x["timeouts"]
    msg = (f"    {s:<11} {c:<12} run {r:<3} {x['rps']:>10,.0f} req/s"
           f"  p50 {x['p50_us'] / 1000:7.2f} ms  p99 {x['p99_us'] / 1000:8.2f} ms")
    if expected:
        st = json.loads(statuses) or {}
        msg += "  answers " + json.dumps(st)
        if set(st) - set(expected.split(",")):
            msg += f"  WARNING: expected only {expected}"
    elif x["non2xx"]:
        msg += f"  WARNING: {x['non2xx']} non-2xx answers"
    if errors:
        msg += f"  WARNING: {errors} socket errors/timeouts"
    print(msg)


if __name__ == "__main__":
    main()
