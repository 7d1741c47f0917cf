#!/usr/bin/env python3
"""Sets PocketBase up for bench/run.sh, through its REST API (the superuser already exists,
made with `pocketbase superuser upsert`):

  setup_pb.py URL SUPERUSER_EMAIL PASSWORD N OUT.lua

- a `leads` base collection with the same fields as Switchboard's leads, and list, view and
  create rules that require an authenticated record (`@request.auth.id != ""`);
- a regular user in the built-in `users` auth collection, and an impersonate token for it
  (POST /api/collections/users/impersonate/{id}, superuser only, 24 h);
- N leads, through the batch API (enabled for the seeding only, then disabled again, as it
  is by default);
- OUT.lua: the user token and the lead ids, for the wrk scripts.
"""
import http.client
import json
import sys
from urllib.parse import urlsplit

RULE = '@request.auth.id != ""'


class Api:
    def __init__(self, url):
        u = urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self.token = None

    def call(self, method, path, body=None, expect=(200,)):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = self.token
        self.conn.request(method, path, body=None if body is None else json.dumps(body),
                          headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status not in expect:
            raise SystemExit(f"PocketBase {method} {path} answered {r.status}: {raw[:400]!r}")
        return json.loads(raw) if raw else None


def main():
    url, email, password, n, out = sys.argv[1:6]
    n = int(n)
    api = Api(url)
    auth = api.call("POST", "/api/collections/_superusers/auth-with-password",
                    {"identity": email, "password": password})
    api.token = auth["token"]

    api.call("POST", "/api/collections", {
        "name": "leads", "type": "base",
        "listRule": RULE, "viewRule": RULE, "createRule": RULE,
        "fields": [
            {"name": "name", "type": "text", "required": True},
            {"name": "email", "type": "email"},
            {"name": "phone", "type": "text"},
            {"name": "source", "type": "text"},
            {"name": "status", "type": "select", "maxSelect": 1,
             "values": ["new", "contacted", "quoted", "won", "lost"]},
            {"name": "notes", "type": "text"},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
    })

    user = api.call("POST", "/api/collections/users/records", {
        "email": "agent@bench.invalid", "password": "bench-agent-pass",
        "passwordConfirm": "bench-agent-pass", "name": "Bench agent"})
    imp = api.call("POST", f"/api/collections/users/impersonate/{user['id']}",
                   {"duration": 86400})
    user_token = imp["token"]

    api.call("PATCH", "/api/settings",
             {"batch": {"enabled": True, "maxRequests": 500, "timeout": 120, "maxBodySize": 0}})
    ids = []
    done = 0
    while done < n:
        size = min(500, n - done)
        reqs = []
        for _ in range(size):
            done += 1
            reqs.append({"method": "POST", "url": "/api/collections/leads/records", "body": {
                "name": f"Seed Lead {done}", "email": f"seed{done}@bench.invalid",
                "phone": "+15550100", "source": "seed", "status": "new",
                "notes": "seeded by bench/run.sh"}})
        res = api.call("POST", "/api/batch", {"requests": reqs})
        for r in res:
            if r["status"] != 200:
                raise SystemExit(f"PocketBase batch item answered {r['status']}: {r['body']}")
            ids.append(r["body"]["id"])
    api.call("PATCH", "/api/settings", {"batch": {"enabled": False}})

    # The user token works and sees the records.
    api.token = user_token
    page = api.call("GET", "/api/collections/leads/records?perPage=1")
    if page["totalItems"] != n:
        raise SystemExit(f"the user token sees {page['totalItems']} leads, expected {n}")

    with open(out, "w") as f:
        f.write('return {\n  token = "%s",\n  ids = {\n' % user_token)
        for i in range(0, len(ids), 20):
            f.write("    " + ", ".join(f'"{x}"' for x in ids[i:i + 20]) + ",\n")
        f.write("  },\n}\n")
    print(json.dumps({"leads": len(ids), "user": user["id"]}))


if __name__ == "__main__":
    main()
