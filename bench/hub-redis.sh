#!/usr/bin/env bash
# The Redis engine measured against the memory engine (issue 12, point 7), in
# one run on the same machine with the same offered load:
#
#   memory-1  one node, memory engine (the default)
#   redis-1   one node, --engine redis
#   redis-3   three nodes, --engine redis, one Redis
#
# The load generator is `switchboard bench --pubsub centrifuge` (JSON): SUBSCRIBERS
# subscribers over CHANNELS channels, PUBLISHERS publishers at RATE publications/s in
# all (each rate of RATES in turn: a load the nodes carry, and one beyond what one
# core can deliver, so deliveries/s shows where each set-up saturates), each
# publication SIZE bytes. It always connects through HAProxy (round robin,
# the chaos tests' configuration), with one backend or three, so every scenario has
# the same path and the subscribers of redis-3 are spread over its nodes. Reported per
# scenario: deliveries/s, publish-to-delivery latency p50/p99 (µs, from the load
# generator), the server CPU per delivery (µs: all nodes' CPU from the moment every
# subscriber is connected to the end of the run, divided by every delivery in that
# time), each node's share of it, Redis's and
# HAProxy's CPU per delivery, and the ratio of node CPU per delivery to memory-1's
# (the issue's goal: at most 1.3x).
#
# Every node runs one tokio worker (TOKIO_WORKER_THREADS=1) pinned with Redis and
# HAProxy to SERVER_CPU; the load generator alone is pinned to LOADGEN_CPU (with
# HAProxy beside it, the load generator under SCHED_FIFO starved it and the latencies
# measured HAProxy's wait for a CPU). Node CPU is per process, so HAProxy's share of
# the core does not count as the nodes'; it shows in the latencies of every scenario
# alike. On a two-core machine the three nodes of redis-3 share one core, so
# deliveries/s cannot grow with nodes here; the per-node CPU per delivery is what
# tells how it grows on more cores (see docs/scaling.md).
#
# Knobs (environment):
#   SCENARIOS="memory-1 redis-1 redis-3"
#   SUBSCRIBERS=2000 CHANNELS=20 PUBLISHERS=2 RATES="500 2000" SIZE=100
#   DURATION=5 WARMUP=1 ROUNDS=1
#   SERVER_CPU=0 LOADGEN_CPU=1
#   BENCH_SCHED=fifo                    as in bench/run.sh: every process of the run under
#                                       chrt -f 1 (root), so other work on the machine does
#                                       not starve it; nice or none otherwise
#   SKIP_BUILD=1                        use target/release/switchboard as built
#   SWITCHBOARD=path LOADGEN=path
#   OUT=bench/results/hub-redis-<timestamp>
#
# Quick check: DURATION=1 WARMUP=0.5 SUBSCRIBERS=200 bench/hub-redis.sh
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT_DIR="$(dirname "$BENCH_DIR")"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

SCENARIOS=${SCENARIOS:-"memory-1 redis-1 redis-3"}
SUBSCRIBERS=${SUBSCRIBERS:-2000}
CHANNELS=${CHANNELS:-20}
PUBLISHERS=${PUBLISHERS:-2}
RATES=${RATES:-"500 2000"}
SIZE=${SIZE:-100}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
BENCH_SCHED=${BENCH_SCHED:-fifo}
OUT=${OUT:-"$BENCH_DIR/results/hub-redis-$(date -u +%Y%m%dT%H%M%SZ)"}
PATH="$PATH:/usr/sbin"

for tool in redis-server redis-cli haproxy jq curl taskset; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh (as root)" >&2; exit 1; }
done
SUBSCRIBERS=$(bench_fit_connections "$SUBSCRIBERS")
bench_sched_prefix

SWITCHBOARD=${SWITCHBOARD:-"$ROOT_DIR/target/release/switchboard"}
LOADGEN=${LOADGEN:-"$ROOT_DIR/target/release/switchboard-bench"}
if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "== building (release)" >&2
  (cd "$ROOT_DIR" && cargo build --release --quiet -p switchboard-cli --bin switchboard --bin switchboard-bench)
fi
[[ -x $SWITCHBOARD && -x $LOADGEN ]] || { echo "$SWITCHBOARD or $LOADGEN is not built" >&2; exit 1; }
"$SWITCHBOARD" serve --help | grep -q -- '--engine' ||
  { echo "$SWITCHBOARD has no --engine flag: the Redis engine is not wired into serve" >&2; exit 1; }

mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

REDIS_PORT=9460
HAPROXY_PORT=9470
node_port() { echo $((9480 + $1)); }

# Presence and join/leave off, as in bench/fanout.sh; history as embedded.
cat > "$WORK/serve.toml" <<CONF
[[hub.namespaces]]
name = "bench"
presence = false
join_leave = false
CONF

wait_ready() { # PORT PID
  for _ in $(seq 200); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ready") == 200 ]] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "nothing ready on port $1; logs in $OUT" >&2
  exit 1
}

start_redis() {
  "${SCHED[@]}" taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" > "$OUT/redis.log" 2>&1 &
  PIDS+=($!); REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server did not start" >&2; exit 1
}

start_node() { # INDEX ENGINE
  local port; port=$(node_port "$1")
  local engine_args=()
  if [[ $2 == redis ]]; then engine_args=(--engine redis --redis-url "redis://127.0.0.1:$REDIS_PORT" --node-name "node$1"); fi
  TOKIO_WORKER_THREADS=1 "${SCHED[@]}" taskset -c "$SERVER_CPU" "$SWITCHBOARD" serve --config "$WORK/serve.toml" \
    --listen "127.0.0.1:$port" --max-connections 20000 --connection-rate 0 "${engine_args[@]}" \
    > "$OUT/node$1-$SCENARIO.log" 2>&1 &
  PIDS+=($!); NODE_PIDS+=($!)
  wait_ready "$port" $!
}

start_haproxy() { # NODES
  {
    printf 'global\n    maxconn %s\n    nbthread 1\n' $(( ($(ulimit -n) - 100) / 2 ))
    printf 'defaults\n    mode http\n    timeout connect 1s\n    timeout client 60s\n    timeout server 60s\n    timeout tunnel 1h\n'
    printf 'frontend hub\n    bind 127.0.0.1:%s\n    default_backend nodes\n' "$HAPROXY_PORT"
    printf 'backend nodes\n    balance roundrobin\n    option httpchk GET /ready\n    http-check expect status 200\n'
    printf '    default-server inter 1s fall 1 rise 1\n'
    for i in $(seq "$1"); do printf '    server node%s 127.0.0.1:%s check\n' "$i" "$(node_port "$i")"; done
  } > "$WORK/haproxy.cfg"
  "${SCHED[@]}" taskset -c "$SERVER_CPU" haproxy -db -f "$WORK/haproxy.cfg" > "$OUT/haproxy-$SCENARIO.log" 2>&1 &
  PIDS+=($!); HAPROXY_PID=$!
  wait_ready "$HAPROXY_PORT" "$HAPROXY_PID"
}

cpu_us() { echo $(( $(proc_cpu_ns "$1") / 1000 )); }

run_scenario() { # SCENARIO ROUND
  SCENARIO=$1
  local engine=${1%-*} nodes=${1#*-}
  NODE_PIDS=(); REDIS_PID=""
  [[ $engine == redis ]] && start_redis
  for i in $(seq "$nodes"); do start_node "$i" "$engine"; done
  start_haproxy "$nodes"
  sleep 1.5 # every node through its first health check
  local report="$OUT/$SCENARIO-rate$RATE-round$2.json" ready="$WORK/ready-$SCENARIO-$RATE-$2"
  "${SCHED[@]}" taskset -c "$LOADGEN_CPU" "$LOADGEN" --no-progress --json --pubsub centrifuge \
    --channel-prefix bench:ch -c "$SUBSCRIBERS" --channels "$CHANNELS" --publishers "$PUBLISHERS" \
    --rate "$RATE" -s "$SIZE" -d "$DURATION" -w "$WARMUP" --connect-concurrency 64 \
    --ready-file "$ready" "ws://127.0.0.1:$HAPROXY_PORT/connection/websocket" > "$report" &
  local loadgen=$!
  # CPU is counted from the moment every connection is open (connecting is
  # not a delivery cost) to the end of the run (warm-up, window and drain,
  # as delivered_total).
  while [[ ! -e $ready ]]; do
    kill -0 "$loadgen" 2>/dev/null || { echo "the load generator exited before connecting" >&2; exit 1; }
    sleep 0.05
  done
  local before=() i redis_before=0 haproxy_before
  for i in "${!NODE_PIDS[@]}"; do before[i]=$(cpu_us "${NODE_PIDS[i]}"); done
  [[ -n $REDIS_PID ]] && redis_before=$(cpu_us "$REDIS_PID")
  haproxy_before=$(cpu_us "$HAPROXY_PID")
  # A scenario beyond what the set-up delivers ends with deliveries still
  # queued, which the load generator counts as missing and exits non-zero
  # for: that is a result (the errors column), not a failed run.
  wait "$loadgen" || echo "   $SCENARIO at $RATE pub/s: the load generator's check failed (see the errors column)" >&2
  local node_cpu=() total=0 redis_cpu=0 haproxy_cpu
  for i in "${!NODE_PIDS[@]}"; do
    node_cpu[i]=$(( $(cpu_us "${NODE_PIDS[i]}") - before[i] )); total=$(( total + node_cpu[i] ))
  done
  [[ -n $REDIS_PID ]] && redis_cpu=$(( $(cpu_us "$REDIS_PID") - redis_before ))
  haproxy_cpu=$(( $(cpu_us "$HAPROXY_PID") - haproxy_before ))
  stop_all
  local shares; shares=$(IFS=,; echo "${node_cpu[*]}")
  jq -c --arg scenario "$SCENARIO" --argjson round "$2" --argjson rate "$RATE" --argjson node_cpu_us "$total" \
    --argjson redis_cpu_us "$redis_cpu" --argjson haproxy_cpu_us "$haproxy_cpu" --argjson per_node "[$shares]" \
    '{scenario: $scenario, round: $round, rate: $rate, subscribers_open, published, delivered_total, deliveries_per_sec,
      p50_us: .latency.p50_us, p99_us: .latency.p99_us, missing, duplicates, out_of_order, corrupt,
      publish_errors, connection_errors,
      node_cpu_us: $node_cpu_us, per_node_cpu_us: $per_node, redis_cpu_us: $redis_cpu_us,
      haproxy_cpu_us: $haproxy_cpu_us}' "$report" >> "$OUT/summary.jsonl"
}

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
: > "$OUT/summary.jsonl"
for round in $(seq "$ROUNDS"); do
  for RATE in $RATES; do
    for scenario in $SCENARIOS; do
      echo "== round $round: $scenario at $RATE pub/s" >&2
      run_scenario "$scenario" "$round"
    done
  done
done

{
  echo "hub-redis.sh, $STARTED, load at start $LOAD_AT_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$SUBSCRIBERS subscribers, $CHANNELS channels, $PUBLISHERS publishers, $RATES pub/s, $SIZE B, ${DURATION}s (+${WARMUP}s warm-up), $ROUNDS round(s); through HAProxy; scheduling $BENCH_SCHED"
  echo
  printf '%-9s %5s %6s %11s %9s %9s %11s %9s %20s %10s %10s %8s\n' scenario round pub/s deliveries/s p50_us p99_us node_us/del vs_mem per_node_share redis_us/del hapx_us/del errors
  jq -rs '
    . as $all | .[] | . as $row
    | ($all | map(select(.scenario == "memory-1" and .rate == $row.rate))
       | if length > 0 then (map(.node_cpu_us / .delivered_total) | add / length) else null end) as $mem
    | (.node_cpu_us / .delivered_total) as $cost
    | [ .scenario, .round, .rate, (.deliveries_per_sec | round), (.p50_us | round), (.p99_us | round), ($cost * 1000 | round / 1000),
        (if $mem then ($cost / $mem * 100 | round / 100 | tostring) + "x" else "-" end),
        ((.per_node_cpu_us | add) as $t | .per_node_cpu_us | map(. * 100 / $t | round | tostring + "%") | join("/")),
        (.redis_cpu_us / .delivered_total * 1000 | round / 1000),
        (.haproxy_cpu_us / .delivered_total * 1000 | round / 1000),
        (.missing + .duplicates + .out_of_order + .corrupt + .publish_errors + .connection_errors) ]
    | @tsv' "$OUT/summary.jsonl" |
    while IFS=$'\t' read -r s r rt d p50 p99 c v sh rc hc e; do
      printf '%-9s %5s %6s %11s %9s %9s %11s %9s %20s %10s %10s %8s\n' "$s" "$r" "$rt" "$d" "$p50" "$p99" "$c" "$v" "$sh" "$rc" "$hc" "$e"
    done
} | tee "$OUT/summary.txt"
