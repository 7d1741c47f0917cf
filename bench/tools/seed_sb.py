#!/usr/bin/env python3
"""Seeds Switchboard for bench/run.sh.

  seed_sb.py tokens BIN DB N OUT.json     N agent users, one token each (through the CLI,
                                          before the server starts)
  seed_sb.py leads URL TOKENS.json PER OUT.lua
                                          PER leads per token through POST /api/v1/leads/batch
                                          (each token's leads are owned by its user); writes
                                          the tokens and their lead ids for the wrk scripts
"""
import http.client
import json
import subprocess
import sys
from urllib.parse import urlsplit


def cli(bin_, db, *args):
    out = subprocess.run([bin_, "--db", db, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def tokens(bin_, db, n, out):
    made = []
    for i in range(n):
        email = f"agent{i:03d}@bench.invalid"
        cli(bin_, db, "user", "add", "--email", email, "--name", f"Bench agent {i}", "--json")
        t = cli(bin_, db, "token", "create", "--user", email, "--name", f"bench-{i:03d}",
                "--scope", "leads:read", "--scope", "leads:write", "--json")
        made.append({"email": email, "token": t["token"]})
    with open(out, "w") as f:
        json.dump(made, f)


def leads(url, tokens_file, per, out):
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    with open(tokens_file) as f:
        toks = json.load(f)
    data = []
    n = 0
    for t in toks:
        ids = []
        remaining = per
        while remaining > 0:
            size = min(remaining, 500)
            records = []
            for _ in range(size):
                n += 1
                records.append({"name": f"Seed Lead {n}", "email": f"seed{n}@bench.invalid",
                                "phone": "+15550100", "source": "seed", "status": "new",
                                "notes": "seeded by bench/run.sh"})
            conn.request("POST", "/api/v1/leads/batch", body=json.dumps({"records": records}),
                         headers={"Authorization": f"Bearer {t['token']}",
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 201:
                raise SystemExit(f"batch create answered {r.status}: {body[:300]!r}")
            ids += [rec["id"] for rec in json.loads(body)["data"]]
            remaining -= size
        data.append({"token": t["token"], "ids": ids})
    with open(out, "w") as f:
        f.write("return {\n")
        for d in data:
            f.write('  { token = "%s", ids = { %s } },\n' % (d["token"], ", ".join(map(str, d["ids"]))))
        f.write("}\n")
    print(json.dumps({"tokens": len(data), "leads": n}))


def main():
    cmd = sys.argv[1]
    if cmd == "tokens":
        tokens(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif cmd == "leads":
        leads(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
