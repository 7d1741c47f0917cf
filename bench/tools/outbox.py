#!/usr/bin/env python3
"""Switchboard's webhook outbox, read-only (WAL: no lock held on the running server).

usage: outbox.py DB    prints {"pending": N, "delivered": N, ...}: deliveries by status"""
import json
import sqlite3
import sys


def main():
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        print(json.dumps(dict(rows.fetchall())))
    except sqlite3.Error as e:
        print(json.dumps({"unreadable": str(e)}))


if __name__ == "__main__":
    main()
