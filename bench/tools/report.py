#!/usr/bin/env python3
"""Builds the benchmark table from bench/work/results.jsonl (written by bench/run.sh).

usage: report.py RESULTS.jsonl OUT.md   (prints the same Markdown on stdout)
"""
import json
import statistics
import sys

CASES = [  # (server, case, label)
    ("switchboard", "healthz", "GET /healthz"),
    ("switchboard", "point_read", "GET /api/v1/leads/{id}"),
    ("pocketbase", "point_read", "GET /api/collections/leads/records/{id}"),
    ("switchboard", "list", "GET /api/v1/leads?limit=50"),
    ("pocketbase", "list", "GET /api/collections/leads/records?perPage=50"),
    ("switchboard", "create", "POST /api/v1/leads (FULL, webhook subscribed)"),
    ("pocketbase", "create", "POST /api/collections/leads/records"),
]


def load(path):
    runs, metrics = {}, {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] == "wrk":
                runs.setdefault((r["server"], r["case"]), []).append(r)
            else:
                metrics[r["name"]] = r["value"]
    return runs, metrics


def ms(us):
    return f"{us / 1000:.2f}" if us < 100_000 else f"{us / 1000:.0f}"


def mb(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def mean_rps(runs, key):
    rs = runs.get(key) or []
    return statistics.mean(r["result"]["rps"] for r in rs) if rs else None


def worst(runs, key, field):
    rs = runs.get(key) or []
    return max(r["result"][field] for r in rs) if rs else None


def verdict(value, target, higher_is_better=True):
    if value is None:
        return "not measured"
    ok = value >= target if higher_is_better else value < target
    if ok:
        return "meets"
    if higher_is_better:
        return f"misses by {(1 - value / target) * 100:.0f}%"
    if value < 2 * target:
        return f"misses: {(value / target - 1) * 100:.0f}% over"
    return f"misses: {value / target:.1f}x the target"


def build(runs, m):
    out = []
    w = out.append
    w(f"Switchboard vs PocketBase {m.get('pocketbase_version', '?')}, "
      f"wrk {m.get('wrk_connections', 64)} keep-alive connections, {m.get('bench_seconds', '?')} s "
      f"per run, each case run twice, interleaved; server on core 0, wrk on core 1.")
    w("")
    w("| case | server | req/s (run 1 / run 2) | mean req/s | p50 ms | p99 ms | non-2xx / errors |")
    w("|---|---|---|---|---|---|---|")
    marked = False
    for server, case, label in CASES:
        rs = runs.get((server, case)) or []
        if not rs:
            w(f"| {label} | {server} | not run | | | | |")
            continue
        rps = " / ".join(f"{r['result']['rps']:,.0f}" + ("*" if r.get("busy_at_start") else "")
                         for r in rs)
        marked = marked or any(r.get("busy_at_start") for r in rs)
        p50 = " / ".join(ms(r["result"]["p50_us"]) for r in rs)
        p99 = " / ".join(ms(r["result"]["p99_us"]) for r in rs)
        bad = sum(r["result"]["non2xx"] for r in rs)
        errs = sum(r["result"][k] for r in rs
                   for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
        w(f"| {label} | {server} | {rps} | {statistics.mean(r['result']['rps'] for r in rs):,.0f} "
          f"| {p50} | {p99} | {bad} / {errs} |")
    if marked:
        w("")
        w("\\* started while a server was still busy (e.g. Switchboard delivering the webhook "
          "backlog of its create run on the same core): that run is disturbed.")
    w("")

    sb = lambda c: mean_rps(runs, ("switchboard", c))  # noqa: E731
    pb = lambda c: mean_rps(runs, ("pocketbase", c))  # noqa: E731
    div = lambda a, b: None if a is None or b in (None, 0) else a / b  # noqa: E731
    p99 = lambda s, c: worst(runs, (s, c), "p99_us")  # noqa: E731
    rows = [
        ("point read / /healthz (Switchboard)", div(sb("point_read"), sb("healthz")), 0.50, True, "{:.0%}", ">= 50%"),
        ("list: Switchboard / PocketBase", div(sb("list"), pb("list")), 20, True, "{:.1f}x", ">= 20x"),
        ("creates: Switchboard / PocketBase", div(sb("create"), pb("create")), 15, True, "{:.1f}x", ">= 15x"),
        ("point read: Switchboard / PocketBase view", div(sb("point_read"), pb("point_read")), 15, True, "{:.1f}x", ">= 15x"),
        ("creates/s (Switchboard, durable)", sb("create"), 25_000, True, "{:,.0f}", ">= 25,000"),
        ("create p99, worse run (Switchboard)", None if p99("switchboard", "create") is None else p99("switchboard", "create") / 1000, 10, False, "{:.2f} ms", "< 10 ms"),
        ("create p99: PocketBase / Switchboard", div(p99("pocketbase", "create"), p99("switchboard", "create")), 50, True, "{:.1f}x", ">= 50x"),
        ("point read p99: PocketBase / Switchboard", div(p99("pocketbase", "point_read"), p99("switchboard", "point_read")), None, True, "{:.1f}x", ""),
        ("list p99: PocketBase / Switchboard", div(p99("pocketbase", "list"), p99("switchboard", "list")), None, True, "{:.1f}x", ""),
    ]
    w("| ratio (means of the two runs; p99: the worse run) | measured | target | |")
    w("|---|---|---|---|")
    for name, v, target, hib, fmt, tdesc in rows:
        shown = "n/a" if v is None else fmt.format(v)
        w(f"| {name} | {shown} | {tdesc} | {'' if target is None else verdict(v, target, hib)} |")
    w("")

    kb = lambda k: m.get(k)  # noqa: E731
    w("| figure | Switchboard | PocketBase | target (Switchboard) | |")
    w("|---|---|---|---|---|")
    idle = kb("sb_idle_rss_kb")
    peak = kb("sb_peak_rss_kb")
    w(f"| idle RSS (started, before load) | {mb(idle)} | {mb(kb('pb_idle_rss_kb'))} | < 15 MB | "
      f"{verdict(None if idle is None else idle / 1024, 15, False)} |")
    w(f"| peak RSS under load (VmHWM) | {mb(peak)} | {mb(kb('pb_peak_rss_kb'))} | < 40 MB | "
      f"{verdict(None if peak is None else peak / 1024, 40, False)} |")
    w(f"| RSS after the load, idle | {mb(kb('sb_after_rss_kb'))} | {mb(kb('pb_after_rss_kb'))} | | |")
    size = kb("sb_binary_bytes")
    w(f"| stripped binary | {size / 1e6:.1f} MB | {kb('pb_binary_bytes') / 1e6:.1f} MB | < 15 MB | "
      f"{verdict(size / 1e6, 15, False)} |" if size else "| stripped binary | n/a | | | |")
    st = kb("sb_startup")
    pst = kb("pb_startup")
    if st:
        w(f"| exec to first 200 (median of {len(st['runs_ms'])}) | {st['median_ms']:.1f} ms "
          f"| {pst['median_ms']:.1f} ms | < 100 ms | {verdict(st['median_ms'], 100, False)} |"
          if pst else f"| exec to first 200 | {st['median_ms']:.1f} ms | n/a | < 100 ms | "
          f"{verdict(st['median_ms'], 100, False)} |")
    wal = [v for k, v in sorted(m.items()) if k.startswith("sb_wal_bytes_after_create_")]
    if wal:
        w(f"| WAL size after each create run | {' / '.join(f'{b / 1e6:.1f} MB' for b in wal)} "
          f"| {' / '.join(f'{b / 1e6:.1f} MB' for k, b in sorted(m.items()) if k.startswith('pb_wal_bytes_after_create_'))} | kept while writes stream in (cut back past 268.4 MB) | |")
    settle = [v for k, v in sorted(m.items()) if k.startswith("sb_settle_s_after_create_")]
    if settle:
        w(f"| server busy after each create run (webhook backlog) | "
          f"{' / '.join(f'{s:.1f} s' for s in settle)} | | | |")
    tail = m.get("sb_create_tail")
    if tail and tail.get("slow"):
        w(f"| creates over their p99 (server-side, {tail['p99_ms']:.1f} ms) that overlapped a "
          f"checkpoint pass asking for a WAL restart, or the {tail.get('after_ms', 30):.0f} ms "
          f"after it | "
          f"{tail['slow_in_windows_pct']:.0f}% of {tail['slow']:,}, against "
          f"{tail['all_in_windows_pct']:.0f}% of all creates | | | |")
    ob = [v for k, v in sorted(m.items()) if k.startswith("sb_outbox_after_create_")]
    if ob:
        # Deliveries the server has not made from their events yet are waiting too.
        pending = " / ".join(
            f"{o.get('pending', 0) + o.get('failed', 0) + o.get('not_made_yet', 0):,}" for o in ob)
        w(f"| deliveries still pending when the next case started | {pending} | | 0 | |")
    if "sink_received" in m:
        hint = " (no delivery worker answered?)" if m["sink_received"] == 0 else ""
        w(f"| webhook deliveries received by the sink (whole run) | {m['sink_received']:,} "
          f"for {m.get('sb_creates_total', 0):,} creates answered within the runs{hint} | | | |")
    if "sb_deliveries" in m:
        d = ", ".join(f"{k} {v:,}" for k, v in sorted(m["sb_deliveries"].items())) or "none"
        w(f"| outbox at the end (webhook_deliveries by status) | {d} | | | |")
    w("")

    mixed = [(c, (runs.get(("switchboard", f"mixed_{c}")) or [None])[0])
             for c in ("point_read", "create")]
    if all(r for _, r in mixed):
        w("| mixed load (Switchboard): point reads and creates at once, half the connections each "
          "| req/s | p50 ms | p99 ms | non-2xx / errors |")
        w("|---|---|---|---|---|")
        for c, r in mixed:
            x = r["result"]
            errors = x["connect_errors"] + x["read_errors"] + x["write_errors"] + x["timeouts"]
            label = "GET /api/v1/leads/{id}" if c == "point_read" else "POST /api/v1/leads"
            w(f"| {label} | {x['rps']:,.0f} | {ms(x['p50_us'])} | {ms(x['p99_us'])} "
              f"| {x['non2xx']} / {errors} |")
        if "sb_mixed_wal_max_bytes" in m:
            w(f"| WAL file, largest during the run (read every 0.5 s) "
              f"| {m['sb_mixed_wal_max_bytes'] / 1e6:.1f} MB | | "
              f"| kept while writes stream in (cut back past 268.4 MB), and past 33.8 MB once they slow down |")
        w("")

    floods = [("tokens", "distinct invalid tokens (valid checksum, unknown)"),
              ("xff", "distinct X-Forwarded-For addresses (--trusted-proxy 127.0.0.1)")]
    if any(f"flood_{f}_before_kb" in m for f, _ in floods):
        w("| flood (Switchboard) | requests sent, all distinct | answers | RSS before "
          "| after flood 1 | after flood 2 | peak (VmHWM) |")
        w("|---|---|---|---|---|---|---|")
        for f, label in floods:
            if f"flood_{f}_before_kb" not in m:
                continue
            tally = {}
            for r in runs.get(("switchboard", f"flood_{f}"), []):
                for st, n in (r.get("statuses") or {}).items():
                    tally[st] = tally.get(st, 0) + n
            answers = ", ".join(f"{n:,} x {st}" for st, n in sorted(tally.items())) or "?"
            w(f"| {label} | {m.get(f'flood_{f}_requests', 0):,} | {answers} "
              f"| {mb(m[f'flood_{f}_before_kb'])} "
              f"| {mb(m.get(f'flood_{f}_after1_kb'))} | {mb(m.get(f'flood_{f}_after2_kb'))} "
              f"| {mb(m.get(f'flood_{f}_hwm_kb'))} |")
        w("")

    ap = {k[len("authpath_"):]: v for k, v in m.items() if k.startswith("authpath_")}
    if ap:
        w("| auth path micro-benchmark (bench/authpath) | median ns/op | target |")
        w("|---|---|---|")
        labels = {"parse": "parse (shape + CRC32 checksum)", "sha256": "SHA-256",
                  "cache_hit": "moka cache hit", "authpath": "parse + checksum + SHA-256 + cache hit",
                  "guard": "... + expiry, allow-lists, account gate, rate limiter"}
        for k in ("parse", "sha256", "cache_hit", "authpath", "guard"):
            if k in ap:
                t = f"< 2000 ns: {verdict(ap[k], 2000, False)}" if k == "authpath" else ""
                w(f"| {labels[k]} | {ap[k]:.0f} | {t} |")
        w("")

    w("Machine and versions: " + "; ".join(f"{k}: {m[k]}" for k in
      ("machine", "kernel", "disk", "rustc", "switchboard_commit", "wrk_version", "loadavg_at_start", "malloc_arena_max")
      if k in m))
    if m.get("note"):
        w("")
        w(m["note"])
    return "\n".join(out) + "\n"


def main():
    runs, metrics = load(sys.argv[1])
    text = build(runs, metrics)
    with open(sys.argv[2], "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
