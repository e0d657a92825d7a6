#!/usr/bin/env python3
"""Turns bench/run.sh's results.jsonl into markdown tables.

Usage: summarize.py results.jsonl [more.jsonl ...]. Rows of a later file
replace the same scenario's (or server's memory) rows of earlier files, so a
rerun of some scenarios can be combined with a full run; every row still
compares servers measured in the same run.

Throughput: the MEDIAN messages/s over the rounds per scenario and server,
with each server's ratio to the best peer crate (neither switchboard nor
raw TCP) and to raw TCP. Memory: RSS growth per idle connection.
"""
import json
import statistics
import sys
from collections import defaultdict

ORDER = ["switchboard", "baseline", "tungstenite", "fastwebsockets", "tokio-websockets", "raw-tcp"]
# "baseline": an earlier switchboard-echo build (BASELINE_ECHO in run.sh).
NOT_PEERS = {"switchboard", "baseline", "raw-tcp"}
LABELS = {
    "small": "100 conns × 16 B binary, 8 in flight",
    "medium": "100 conns × 1 KiB binary, 8 in flight",
    "large": "10 conns × 64 KiB binary, 2 in flight",
    "huge": "10 conns × 1 MiB binary, 1 in flight",
    "latency": "1 conn × 16 B, 1 in flight",
    "many": "1,000 conns × 16 B, 1 in flight",
    "text": "100 conns × 1 KiB text (UTF-8), 8 in flight",
}


def main(paths):
    runs = defaultdict(list)  # (scenario, server) -> [report]
    memory = {}
    scenarios = []
    cpu = defaultdict(list)  # (scenario, server) -> [(server share, load generator share)]
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
        runs[(row["scenario"], row["server"])].append(row["report"])
        if row["report"] is not None:
            cpu[(row["scenario"], row["server"])].append(
                (row.get("server_cpu"), row["report"].get("load_generator_cpu")))
    scenarios.sort(key=lambda name: list(LABELS).index(name) if name in LABELS else len(LABELS))
    servers = [s for s in ORDER if any(k[1] == s for k in runs) or s in memory]
    servers += sorted({k[1] for k in runs} - set(servers))

    def median(scenario, server, key):
        values = [r[key] for r in runs.get((scenario, server), []) if r is not None]
        return statistics.median(values) if values else None

    def p50(scenario, server):
        values = [r["latency"]["p50_us"] for r in runs.get((scenario, server), [])
                  if r is not None and r.get("latency")]
        return statistics.median(values) if values else None

    problems = []
    for (scenario, server), reports in sorted(runs.items()):
        for report in reports:
            if report is None:
                problems.append(f"{scenario} / {server}: a run failed")
            elif report["mismatches"] or report["connection_errors"]:
                problems.append(
                    f"{scenario} / {server}: {report['mismatches']} mismatches, "
                    f"{report['connection_errors']} connection errors ({report.get('first_error')})")

    print("Median messages/s (echoes received and verified per second); "
          "in brackets: ratio to the best peer crate / ratio to raw TCP.")
    print()
    print("| scenario | " + " | ".join(servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for scenario in scenarios:
        rates = {s: median(scenario, s, "messages_per_sec") for s in servers}
        peers = [rates[s] for s in servers if s not in NOT_PEERS and rates[s]]
        best_peer = max(peers) if peers else None
        raw = rates.get("raw-tcp")
        cells = []
        for server in servers:
            rate = rates[server]
            if rate is None:
                cells.append("–")
                continue
            ratios = [f"{rate / best_peer:.2f}×" if best_peer else "–",
                      f"{rate / raw:.2f}×" if raw else "–"]
            cells.append(f"{rate:,.0f} ({' / '.join(ratios)})")
        print(f"| {LABELS.get(scenario, scenario)} | " + " | ".join(cells) + " |")
        if scenario == "latency":
            cells = []
            for server in servers:
                value = p50(scenario, server)
                cells.append("–" if value is None else f"{value:.1f} µs")
            print("| ↳ round-trip p50 | " + " | ".join(cells) + " |")
    def print_table_start(caption):
        print()
        print(caption)
        print()
        print("| scenario | " + " | ".join(servers) + " |")
        print("|---|" + "---:|" * len(servers))

    print_table_start(
        "CPU used, as a share of one core (median): server / load generator. A server "
        "near 100% is the bottleneck; a load generator near 100% means the row measures "
        "the load generator as much as the server.")
    for scenario in scenarios:
        cells = []
        for server in servers:
            samples = cpu.get((scenario, server), [])
            shares = [statistics.median([x for x in column if x is not None] or [float("nan")])
                      for column in zip(*samples)] if samples else []
            cells.append(" / ".join(f"{x * 100:.0f}%" for x in shares) if shares else "–")
        print(f"| {LABELS.get(scenario, scenario)} | " + " | ".join(cells) + " |")
    print_table_start(
        "Server efficiency: messages per second of server CPU (median over rounds of "
        "messages/s ÷ the server's share of a core); in brackets: ratio to the best peer "
        "crate. Where the load generator is the limit (near 100% above), every server "
        "idles part of the time and messages/s cannot tell them apart; this can.")
    for scenario in scenarios:
        per_cpu = {}
        for server in servers:
            values = [r["messages_per_sec"] / share
                      for r, (share, _) in zip(
                          [r for r in runs.get((scenario, server), []) if r is not None],
                          cpu.get((scenario, server), []))
                      if share]
            per_cpu[server] = statistics.median(values) if values else None
        peers = [per_cpu[s] for s in servers if s not in NOT_PEERS and per_cpu[s]]
        best_peer = max(peers) if peers else None
        cells = []
        for server in servers:
            value = per_cpu[server]
            if value is None:
                cells.append("–")
            else:
                ratio = f" ({value / best_peer:.2f}×)" if best_peer else ""
                cells.append(f"{value:,.0f}{ratio}")
        print(f"| {LABELS.get(scenario, scenario)} | " + " | ".join(cells) + " |")
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
    if problems:
        print()
        print("Problems:")
        for problem in problems:
            print(f"- {problem}")


if __name__ == "__main__":
    main(sys.argv[1:])
