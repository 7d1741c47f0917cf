#!/usr/bin/env python3
"""Time from exec to the first 200 from a health URL, several times; prints the median.

usage: startup.py RUNS PORT HEALTH_PATH CORE -- COMMAND...
The command is started pinned to CORE (affinity set between fork and exec); this poller
should itself run on another core. Each run ends with SIGTERM and a wait."""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def ok(port, path):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def one(cmd, port, path, core):
    pin = lambda: os.sched_setaffinity(0, {core})  # noqa: E731
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, preexec_fn=pin, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if ok(port, path):
                return (time.perf_counter() - t0) * 1000.0
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode} before answering")
            if time.perf_counter() - t0 > 30:
                raise SystemExit("no 200 within 30 s")
            time.sleep(0.0005)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    runs, port, path, core = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    times = [one(cmd, port, path, core) for _ in range(runs)]
    print(json.dumps({"median_ms": statistics.median(times),
                      "runs_ms": [round(t, 1) for t in times]}))


if __name__ == "__main__":
    main()
