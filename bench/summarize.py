#!/usr/bin/env python3
"""Turns bench/run.sh's results.jsonl into markdown tables.

Usage: summarize.py results.jsonl [more.jsonl ...]. Rows of a later file
replace the same scenario's (or server's memory) rows of earlier files, so a
rerun of some scenarios can be combined with a full run; every row still
compares servers measured in the same run.

Per scenario and server: the MEDIAN over the rounds of messages/s, of the
server's CPU share and of the load generator's (its busy share when it
spins: CPU less empty polls), and of messages per second of server CPU,
with that figure's ratio to the best Rust peer crate (neither switchboard
nor baseline), to uWebSockets and to raw TCP. A row is flagged when the
server was not the bottleneck: server below 95% of a full core, or load
generator above 90% of one. A full core is CPU_CAP (environment; run.sh
sets 0.95 under SCHED_FIFO's RT throttling, else 1). Memory: RSS growth
per idle connection.
"""
import json
import os
import statistics
import sys
from collections import defaultdict

ORDER = ["switchboard", "baseline", "tungstenite", "fastwebsockets", "tokio-websockets", "uws", "raw-tcp"]
# "baseline": an earlier switchboard-echo build (BASELINE_ECHO in run.sh).
NOT_RUST_PEERS = {"switchboard", "baseline", "raw-tcp", "uws"}
LABELS = {
    "small": "100 conns × 16 B binary, 8 in flight",
    "medium": "100 conns × 1 KiB binary, 8 in flight",
    "large": "10 conns × 64 KiB binary, 2 in flight",
    "huge": "10 conns × 1 MiB binary, 1 in flight",
    "latency": "1 conn × 16 B, 1 in flight",
    "many": "1,000 conns × 16 B, 1 in flight",
    "text": "100 conns × 1 KiB text (UTF-8), 8 in flight",
}
SHORT = {
    "small": "16 B, 100 conns, 8 in flight",
    "medium": "1 KiB binary, 100 conns, 8 in flight",
    "large": "64 KiB, 10 conns, 2 in flight",
    "huge": "1 MiB, 10 conns",
    "latency": "16 B, 1 conn, 1 in flight",
    "many": "16 B, 1,000 conns, 1 in flight",
    "text": "1 KiB text, 100 conns, 8 in flight",
}
CPU_CAP = float(os.environ.get("CPU_CAP", "1"))
SERVER_BOUND = 0.95  # of a full core, at least
LOADGEN_SPARE = 0.90  # of a full core, at most


def server_share(row):
    report = row["report"]
    return report.get("server_cpu") or row.get("server_cpu")


def loadgen_share(report):
    busy = report.get("load_generator_busy")
    return busy if busy is not None else report.get("load_generator_cpu")


def main(paths):
    runs = defaultdict(list)  # (scenario, server) -> [row]
    memory = {}
    scenarios = []
    rows = []
    for path in paths:
        file_rows = [json.loads(line) for line in open(path) if line.strip()]
        replaced = {r["scenario"] for r in file_rows if not r.get("memory")}
        replaced_memory = {r["server"] for r in file_rows if r.get("memory")}
        rows = [r for r in rows
                if (r["server"] not in replaced_memory if r.get("memory")
                    else r["scenario"] not in replaced)]
        rows += file_rows
    for row in rows:
        if row.get("memory"):
            memory[row["server"]] = row
            continue
        if row["scenario"] not in scenarios:
            scenarios.append(row["scenario"])
        runs[(row["scenario"], row["server"])].append(row)
    scenarios.sort(key=lambda name: list(LABELS).index(name) if name in LABELS else len(LABELS))
    servers = [s for s in ORDER if any(k[1] == s for k in runs) or s in memory]
    servers += sorted({k[1] for k in runs} - set(servers))

    def good(scenario, server):
        return [r for r in runs.get((scenario, server), []) if r["report"] is not None]

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    stats = {}  # (scenario, server) -> dict of medians
    for scenario in scenarios:
        for server in servers:
            done = good(scenario, server)
            if not done:
                continue
            reports = [r["report"] for r in done]
            latency = [r.get("latency") or {} for r in reports]
            stats[(scenario, server)] = {
                "rate": median([r["messages_per_sec"] for r in reports]),
                "server": median([server_share(r) for r in done]),
                "loadgen": median([loadgen_share(r) for r in reports]),
                "per_cpu": median([r["report"]["messages_per_sec"] / server_share(r)
                                   for r in done if server_share(r)]),
                "p50": median([l.get("p50_us") for l in latency]),
                "p99": median([l.get("p99_us") for l in latency]),
                "rounds": len(done),
            }

    problems = []
    for (scenario, server), done in sorted(runs.items()):
        for row in done:
            report = row["report"]
            if report is None:
                problems.append(f"{scenario} / {server}: a run failed")
            elif report["mismatches"] or report["connection_errors"]:
                problems.append(
                    f"{scenario} / {server}: {report['mismatches']} mismatches, "
                    f"{report['connection_errors']} connection errors ({report.get('first_error')})")

    def ratio(value, reference):
        return f"{value / reference:.2f}×" if value and reference else "–"

    def percent(share):
        return "–" if share is None else f"{share * 100:.0f}%"

    print(f"Per scenario and server, medians over the rounds. **msg/s per server CPU**: "
          f"messages/s ÷ the server's share of a core over the window; ratios of that "
          f"figure to the best Rust peer crate, to uWebSockets and to raw TCP. Load gen: "
          f"the load generator's busy share (CPU less polls that found nothing). A full "
          f"core is {CPU_CAP:.2f} here; **bound** is ✓ when the server used at least "
          f"{SERVER_BOUND:.0%} of it and the load generator at most {LOADGEN_SPARE:.0%}, "
          f"✗ otherwise (then the row does not measure the server alone).")
    print()
    print("| scenario | server | msg/s | server CPU | load gen CPU | msg/s per server CPU "
          "| vs best Rust peer | vs uWS | vs raw TCP | p50 / p99 µs | bound |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|")
    flagged = []
    for scenario in scenarios:
        present = [s for s in servers if (scenario, s) in stats]
        per_cpu = {s: stats[(scenario, s)]["per_cpu"] for s in present}
        peers = [per_cpu[s] for s in present if s not in NOT_RUST_PEERS and per_cpu[s]]
        best_peer = max(peers) if peers else None
        for server in present:
            st = stats[(scenario, server)]
            bound = (st["server"] is not None and st["loadgen"] is not None
                     and st["server"] >= SERVER_BOUND * CPU_CAP
                     and st["loadgen"] <= LOADGEN_SPARE * CPU_CAP)
            if not bound:
                flagged.append(f"{SHORT.get(scenario, scenario)} / {server}")
            latency = ("–" if st["p50"] is None
                       else f"{st['p50']:,.0f} / {st['p99']:,.0f}")
            print(f"| {SHORT.get(scenario, scenario)} | {server} | {st['rate']:,.0f} "
                  f"| {percent(st['server'])} | {percent(st['loadgen'])} "
                  f"| {st['per_cpu']:,.0f} | {ratio(st['per_cpu'], best_peer)} "
                  f"| {ratio(st['per_cpu'], per_cpu.get('uws'))} "
                  f"| {ratio(st['per_cpu'], per_cpu.get('raw-tcp'))} | {latency} "
                  f"| {'✓' if bound else '✗'} |")

    print()
    print("Messages per second of server CPU (median), the summary; in brackets the "
          "ratio to the best Rust peer crate; ✗: not server-bound (see above).")
    print()
    print("| scenario | " + " | ".join(servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for scenario in scenarios:
        present = [s for s in servers if (scenario, s) in stats]
        peers = [stats[(scenario, s)]["per_cpu"] for s in present
                 if s not in NOT_RUST_PEERS and stats[(scenario, s)]["per_cpu"]]
        best_peer = max(peers) if peers else None
        cells = []
        for server in servers:
            st = stats.get((scenario, server))
            if st is None or st["per_cpu"] is None:
                cells.append("–")
                continue
            mark = " ✗" if f"{SHORT.get(scenario, scenario)} / {server}" in flagged else ""
            cells.append(f"{st['per_cpu']:,.0f} ({ratio(st['per_cpu'], best_peer)}){mark}")
        print(f"| {SHORT.get(scenario, scenario)} | " + " | ".join(cells) + " |")

    if memory:
        print()
        print("Memory per idle connection (server RSS growth while holding the connections open).")
        print()
        print("| server | connections | RSS before | RSS after | per connection |")
        print("|---|---:|---:|---:|---:|")
        for server in servers:
            row = memory.get(server)
            if not row:
                continue
            opened = row["connections"] or 0
            grown = (row["rss_after_kib"] - row["rss_before_kib"]) * 1024
            per = f"{grown / opened / 1024:.1f} KiB" if opened else "–"
            print(f"| {server} | {opened:,} | {row['rss_before_kib'] / 1024:.1f} MiB "
                  f"| {row['rss_after_kib'] / 1024:.1f} MiB | {per} |")
    print()
    if flagged:
        print("Not server-bound: " + "; ".join(flagged) + ".")
    else:
        print("Every row was server-bound.")
    if problems:
        print()
        print("Problems:")
        for problem in problems:
            print(f"- {problem}")


if __name__ == "__main__":
    main(sys.argv[1:])
