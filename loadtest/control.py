"""Drives the load test: seeds, starts wrk, revokes tokens and downgrades an account while it
runs, samples RSS, and checks the promises. Standard library only."""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BIN, SECONDS = sys.argv[1], int(sys.argv[2])
PORT = 18300
WORK = tempfile.mkdtemp(prefix="sb-load-")
DB = os.path.join(WORK, "load.db")


def cli(*args):
    out = subprocess.run([BIN, "--db", DB, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if "--json" in args else out.stdout


def status_of(token, path="/api/v1/leads?limit=1"):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def gauges():
    """The memory-related gauges of /metrics: what grew, when RSS grows."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    out = {}
    for line in text.splitlines():
        for name, key in (('switchboard_cache_entries{cache="', None),
                          ("switchboard_call_records_queued ", "records_queued"),
                          ("switchboard_resident_memory_bytes ", "rss_mib")):
            if line.startswith(name):
                if key is None:
                    key = line[len(name):].split('"', 1)[0]
                value = float(line.rsplit(" ", 1)[1])
                out[key] = round(value / 2**20, 1) if key == "rss_mib" else int(value)
    for suffix in ("", "-wal"):
        try:
            out["db" + suffix.replace("-", "_") + "_mib"] = round(os.path.getsize(DB + suffix) / 2**20, 1)
        except OSError:
            pass
    return out


def main():
    cli("account", "create", "acme", "--json")
    tokens = []
    for account in ("default", "acme"):
        for i in range(50):
            email = f"agent{i}@{account}.example"
            cli("user", "add", "--email", email, "--account", account, "--role", "admin", "--json")
            t = cli("token", "create", "--user", email, "--name", "load", *sum((["--scope", s] for s in
                    ("leads:read", "leads:write")), []), "--json")
            tokens.append((account, t["token"], t["prefix"]))
    acme_probe = [t for a, t, _ in tokens if a == "acme"][0]
    # Tokens kept for the controller's own probes are not used by wrk.
    victims = [t for t in tokens if t[0] == "default"][:10]
    tokens_file = os.path.join(WORK, "tokens.txt")
    with open(tokens_file, "w") as f:
        f.write("\n".join([t for _, t, _ in tokens]))
    server = subprocess.Popen([BIN, "--db", DB, "serve", "--listen", f"127.0.0.1:{PORT}",
                               "--default-limit", "1000000/1s",
                               # all load comes from one address: do not let revoked tokens in the
                               # mix trip the per-address failed-authentication limiter
                               "--failed-auth-limit", "1000000/1s"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                if status_of(victims[0][1]) == 200:
                    break
            except OSError:
                time.sleep(0.05)
        seeder = [t for a, t, _ in tokens if a == "default"][-1]
        for _ in range(4):
            body = json.dumps({"records": [{"name": f"seed {i}"} for i in range(500)]})
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            conn.request("POST", "/api/v1/leads/batch", body=body, headers={
                "Authorization": f"Bearer {seeder}", "Content-Type": "application/json"})
            assert conn.getresponse().status == 201
            conn.close()
        env = dict(os.environ, LOAD_TOKENS_FILE=tokens_file)
        wrk = subprocess.Popen(["wrk", "-t2", "-c64", f"-d{SECONDS}s", "--latency", "-s",
                                os.path.join(os.path.dirname(__file__), "mixed.lua"),
                                f"http://127.0.0.1:{PORT}"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        rss, revocations, downgrade = [], [], None
        start = time.time()
        stop = threading.Event()

        snapshots = []

        def sample():
            every = max(SECONDS // 10, 1)
            while not stop.is_set():
                at = round(time.time() - start)
                rss.append((at, rss_kib(server.pid)))
                if at // every >= len(snapshots):
                    try:
                        snapshots.append((at, gauges()))
                    except OSError:
                        pass
                stop.wait(1.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        step = max(SECONDS // (len(victims) + 2), 1)
        for i, (_, token, prefix) in enumerate(victims):
            time.sleep(step)
            t0 = time.time()
            cli("token", "revoke", prefix)
            while status_of(token) != 401:
                time.sleep(0.01)
            revocations.append(time.time() - t0)
            if i == len(victims) // 2:
                t0 = time.time()
                cli("account", "update", "acme", "--status", "past_due")
                while status_of(acme_probe) != 402:
                    time.sleep(0.01)
                downgrade = time.time() - t0
                cli("account", "update", "acme", "--status", "active")
        out, err = wrk.communicate()
        stop.set()
        sampler.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(WORK, ignore_errors=True)
    if "STATUS_COUNTS " not in err:
        sys.exit(f"wrk failed: {out}\n{err}")
    counts = json.loads(err.split("STATUS_COUNTS ", 1)[1].split("\n", 1)[0])
    latency = err.split("LATENCY ", 1)[1].split("\n", 1)[0]
    fivexx = sum(n for s, n in counts.items() if int(s) >= 500)
    print(f"duration {SECONDS}s, 64 connections, 100 tokens, {latency}")
    print("status counts:", counts)
    print("revocation -> first 401 (s): max %.3f, mean %.3f over %d" %
          (max(revocations), sum(revocations) / len(revocations), len(revocations)))
    print("downgrade -> first 402 (s): %.3f" % downgrade)
    minute = max(len(rss) // 10, 1)
    print("RSS (MiB) every %ds: %s" % (minute, " ".join("%.1f" % (k / 1024) for _, k in rss[::minute])))
    early = sum(k for _, k in rss[len(rss) // 5: len(rss) // 5 + minute]) / minute
    late = sum(k for _, k in rss[-minute:]) / minute
    print("RSS early %.1f MiB, late %.1f MiB" % (early / 1024, late / 1024))
    print("gauges over the run (s: /metrics caches, queued records, RSS, database and WAL MiB):")
    for at, g in snapshots:
        print("  %4ds %s" % (at, " ".join(f"{k}={v}" for k, v in g.items())))
    ok = fivexx == 0 and max(revocations) < 1.0 and downgrade < 1.0 and late <= early * 1.25 + 4096
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


main()
