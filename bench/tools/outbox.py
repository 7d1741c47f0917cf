#!/usr/bin/env python3
"""Switchboard's webhook outbox, read-only (WAL: no lock held on the running server).

usage: outbox.py DB    prints {"pending": N, "delivered": N, ...}: deliveries by status, and
                       "not_made_yet": the deliveries of events the server has not made yet
                       (it makes them from the events after the change's commit)"""
import json
import sqlite3
import sys


def main():
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
    try:
        out = dict(db.execute(
            "SELECT status, count(*) FROM webhook_deliveries GROUP BY status").fetchall())
        waiting = db.execute(
            "SELECT count(*) FROM webhook_events ev, json_each(ev.endpoint_ids) "
            "WHERE ev.id > (SELECT upto FROM webhook_fanout)").fetchone()[0]
        if waiting:
            out["not_made_yet"] = waiting
        print(json.dumps(out))
    except sqlite3.Error as e:
        print(json.dumps({"unreadable": str(e)}))


if __name__ == "__main__":
    main()
