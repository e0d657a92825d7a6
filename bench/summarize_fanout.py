#!/usr/bin/env python3
"""Turns bench/fanout.sh's results.jsonl into markdown tables.

Usage: summarize_fanout.py results.jsonl

Per scenario, one row per server with MEDIANS over the rounds:
deliveries/s, the server's CPU share over the measurement window (1.0 = one
core busy), deliveries per second of server CPU (deliveries/s divided by that
share: the throughput figure that does not depend on the offered rate), the
load generator's CPU share, publish-to-delivery p50/p99/p99.9, and the sum of
every error (missing, duplicate, out of order, corrupt deliveries, refused
publications, failed connections) over all rounds. Then Switchboard's ratios
to the targets: deliveries per CPU-second against the better of nats-server
and mosquitto (target >= 1.5) and against uWebSockets (target >= 0.8), and p99
against the better of nats-server and mosquitto (target <= 1.0).
Memory: RSS growth per idle connection holding one subscription.
"""
import json
import statistics
import sys
from collections import defaultdict

ORDER = ["switchboard", "baseline", "nats", "mosquitto", "uws"]
LABELS = {
    "broadcast": "1 publisher → 10,000 subscribers of 1 channel, 100 B",
    "channels": "1,000 channels × 10 subscribers, 4 publishers, 100 B",
    "broadcast-1k": "1 publisher → 10,000 subscribers of 1 channel, 1 KiB",
}
ERROR_KEYS = ["missing", "duplicates", "out_of_order", "corrupt", "publish_errors", "connection_errors"]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    runs = defaultdict(list)  # (scenario, server) -> [(server_cpu, report)]
    memory = {}
    scenarios = []
    for row in rows:
        if row.get("memory"):
            memory[row["server"]] = row
            continue
        if row["scenario"] not in scenarios:
            scenarios.append(row["scenario"])
        runs[(row["scenario"], row["server"])].append((row.get("server_cpu"), row["report"]))
    servers = [s for s in ORDER if any(k[1] == s for k in runs) or s in memory]
    servers += sorted({k[1] for k in runs} - set(servers))

    for scenario in scenarios:
        print(f"### {scenario}: {LABELS.get(scenario, scenario)}")
        print()
        print("| server | deliveries/s | server CPU | deliveries/s per server CPU | load gen CPU | p50 µs | p99 µs | p99.9 µs | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        summary = {}
        for server in servers:
            samples = runs.get((scenario, server))
            if not samples:
                continue
            reports = [r for _, r in samples if r is not None]
            failed = len(samples) - len(reports)
            per_cpu = [r["deliveries_per_sec"] / cpu for cpu, r in samples
                       if r is not None and cpu and cpu > 0]
            s = {
                "dps": median([r["deliveries_per_sec"] for r in reports]),
                "cpu": median([cpu for cpu, r in samples if r is not None]),
                "per_cpu": median(per_cpu),
                "gen": median([r.get("load_generator_cpu") for r in reports]),
                "p50": median([(r.get("latency") or {}).get("p50_us") for r in reports]),
                "p99": median([(r.get("latency") or {}).get("p99_us") for r in reports]),
                "p999": median([(r.get("latency") or {}).get("p99_9_us") for r in reports]),
                "errors": sum(r.get(k, 0) for r in reports for k in ERROR_KEYS),
            }
            summary[server] = s
            errors = f"{s['errors']:,}" + (f" ({failed} failed runs)" if failed else "")
            print(f"| {server} | {fmt(s['dps'])} | {fmt(s['cpu'], 2)} | {fmt(s['per_cpu'])} | "
                  f"{fmt(s['gen'], 2)} | {fmt(s['p50'], 1)} | {fmt(s['p99'], 1)} | {fmt(s['p999'], 1)} | {errors} |")
        print()
        ratios(summary)
        paired(runs.get((scenario, "switchboard")), runs.get((scenario, "baseline")))
    if memory:
        print("### memory: idle connections, each holding one subscription")
        print()
        print("| server | connections | channels | RSS before (KiB) | RSS after (KiB) | per connection |")
        print("|---|---:|---:|---:|---:|---:|")
        for server in servers:
            row = memory.get(server)
            if row is None:
                continue
            grown = row["rss_after_kib"] - row["rss_before_kib"]
            per = f"{grown * 1024 / row['connections'] / 1024:.2f} KiB" if row["connections"] else "–"
            print(f"| {server} | {row['connections']:,} | {row.get('channels', '–')} | {row['rss_before_kib']:,} | "
                  f"{row['rss_after_kib']:,} | {per} |")
        print()


def per_cpu_of(sample):
    cpu, report = sample
    if report is None or not cpu or cpu <= 0:
        return None
    return report["deliveries_per_sec"] / cpu


def paired(ours, baseline):
    """A same-run A/B (BASELINE_SERVE): each round's ratio, then their median."""
    if not ours or not baseline:
        return
    rounds = [(per_cpu_of(a), per_cpu_of(b)) for a, b in zip(ours, baseline)]
    ratios_by_round = [a / b for a, b in rounds if a and b]
    if not ratios_by_round:
        return
    listed = ", ".join(f"{ratio:.2f}x" for ratio in ratios_by_round)
    print(f"- switchboard vs baseline, deliveries per CPU-second, round by round: {listed}; "
          f"median {statistics.median(ratios_by_round):.2f}x")
    print()


def ratios(summary):
    """Switchboard against the issue's targets, when all parties ran."""
    ours = summary.get("switchboard")
    brokers = [summary[s] for s in ("nats", "mosquitto") if s in summary and summary[s]["per_cpu"]]
    if not ours or not ours["per_cpu"]:
        return
    lines = []
    if brokers:
        best = max(b["per_cpu"] for b in brokers)
        lines.append(f"deliveries per CPU-second vs the better of nats-server and mosquitto: "
                     f"{ours['per_cpu'] / best:.2f}x (target ≥ 1.5x)")
        best_p99 = min((b["p99"] for b in brokers if b["p99"]), default=None)
        if best_p99 and ours["p99"]:
            lines.append(f"p99 vs the better of nats-server and mosquitto: {ours['p99'] / best_p99:.2f}x (target ≤ 1.0x)")
    uws = summary.get("uws")
    if uws and uws["per_cpu"]:
        lines.append(f"deliveries per CPU-second vs uWebSockets: {ours['per_cpu'] / uws['per_cpu']:.2f}x (target ≥ 0.8x)")
    for line in lines:
        print(f"- {line}")
    if lines:
        print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: summarize_fanout.py results.jsonl")
    main(sys.argv[1])
