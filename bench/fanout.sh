#!/usr/bin/env bash
# Side-by-side fan-out (pub/sub) benchmark: Switchboard's hub against
# nats-server (Go), mosquitto (C) and uWebSockets' pub/sub (C++), every one
# serving WebSocket subscribers in its own protocol, on the same machine in the
# same run. The load generator is `switchboard bench --pubsub PROTOCOL`.
#
# Every server runs pinned to one core (single-threaded where it allows:
# GOMAXPROCS=1 for nats-server, one tokio worker for Switchboard; mosquitto and
# uws-fanout are single-threaded), the load generator pinned to another. Each
# round runs every scenario against every server (rotated order); tables show
# the MEDIAN over the rounds. Every server gets the same offered load (the
# same publication rate), so latencies compare; throughput compares as
# deliveries per second of server CPU. Then IDLE_CONNECTIONS idle subscribers,
# each holding one subscription, measure each server's RSS per connection.
#
# Knobs (environment):
#   ROUNDS=3 DURATION=5 WARMUP=1       rounds, seconds measured / warmed up per run
#   SERVERS="switchboard nats mosquitto uws"
#   SCENARIOS="broadcast channels broadcast-1k"
#     broadcast     1 publisher -> 10,000 subscribers of 1 channel, 100 B, BROADCAST_RATE pub/s
#     channels      1,000 channels x 10 subscribers, 4 publishers, 100 B, CHANNELS_RATE pub/s
#     broadcast-1k  as broadcast with 1 KiB payloads, BROADCAST_1K_RATE pub/s
#   BROADCAST_RATE=10 CHANNELS_RATE=10000 BROADCAST_1K_RATE=5   (chosen so that the better of
#                                  nats-server and mosquitto is not saturated on a 2-core VM)
#   SUBSCRIBERS=10000                  subscribers in every scenario
#   IDLE_CONNECTIONS=10000 IDLE_CHANNELS=1000   memory measurement (0 connections: skip)
#   SERVER_CPU=0 LOADGEN_CPU=1         cores to pin to
#   BENCH_SCHED=fifo CPU_DMA_LATENCY=0 as in bench/run.sh (see there)
#   SKIP_BUILD=1                       use the binaries already built
#   SWITCHBOARD=path LOADGEN=path UWS_FANOUT=path   other binaries
#   BASELINE_SERVE=path                an earlier `switchboard` build, run as the extra
#                                      server "baseline" with the same settings (a
#                                      same-run before/after of a hot-path change; keep
#                                      both binaries in one directory, see bench/README.md):
#                                      BASELINE_SERVE=/tmp/old/switchboard SWITCHBOARD=/tmp/new/switchboard \
#                                        SERVERS="switchboard baseline" ROUNDS=4 bench/fanout.sh
#   OUT=bench/results/fanout-<timestamp>
#
# Peer settings (written to a temp dir; nothing system-wide): nats-server with a
# `websocket { no_tls: true }` listener, max_payload 8 MB, max_pending 1 GB and a
# 60 s write_deadline so it never cuts a subscriber off as a slow consumer in a
# run; mosquitto with a `protocol websockets` listener, max_queued_messages 0 and
# max_queued_bytes 0 (unlimited), plus a plain MQTT listener that is never used
# (Debian's mosquitto 2.0.11 refuses to start with only a websockets listener:
# "Unable to start any listening sockets"); uws-fanout with 16 MiB of
# backpressure per connection and no closing on it. Any delivery a server still
# drops shows up as `missing` in the table.
#
# Quick check: ROUNDS=1 DURATION=1 WARMUP=0.5 IDLE_CONNECTIONS=1000 bench/fanout.sh
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT_DIR="$(dirname "$BENCH_DIR")"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SERVERS=${SERVERS:-"switchboard nats mosquitto uws"}
if [[ -n ${BASELINE_SERVE:-} && " $SERVERS " != *" baseline "* ]]; then SERVERS="switchboard baseline ${SERVERS/switchboard/}"; fi
SCENARIOS=${SCENARIOS:-"broadcast channels broadcast-1k"}
BROADCAST_RATE=${BROADCAST_RATE:-10}
CHANNELS_RATE=${CHANNELS_RATE:-10000}
BROADCAST_1K_RATE=${BROADCAST_1K_RATE:-5}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
IDLE_CHANNELS=${IDLE_CHANNELS:-1000}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
BENCH_SCHED=${BENCH_SCHED:-fifo}
CPU_DMA_LATENCY=${CPU_DMA_LATENCY:-0}
OUT=${OUT:-"$BENCH_DIR/results/fanout-$(date -u +%Y%m%dT%H%M%SZ)"}

bench_hold_cpu_dma_latency
bench_sched_prefix
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SUBSCRIBERS=$(bench_fit_connections "$SUBSCRIBERS")
IDLE_CONNECTIONS=$(bench_fit_connections "$IDLE_CONNECTIONS")

# ------------------------------------------------------------------ binaries
install_peers() {
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v mosquitto >/dev/null || missing+=(mosquitto)
  (( ${#missing[@]} )) || return 0
  [[ $(id -u) == 0 ]] || { echo "install ${missing[*]} (apt) or run as root" >&2; exit 1; }
  # As scripts/install-deps.sh: never let apt start their system services.
  local added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; added_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || true
  if (( added_policy )); then rm -f /usr/sbin/policy-rc.d; fi
}
if [[ " $SERVERS " == *" nats "* || " $SERVERS " == *" mosquitto "* ]]; then install_peers; fi
PATH="$PATH:/usr/sbin"

SWITCHBOARD=${SWITCHBOARD:-"$ROOT_DIR/target/release/switchboard"}
LOADGEN=${LOADGEN:-"$ROOT_DIR/target/release/switchboard-bench"}
UWS_FANOUT=${UWS_FANOUT:-"$BENCH_DIR/target/uwebsockets/uws-fanout"}
if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "== building (release)" >&2
  (cd "$ROOT_DIR" && cargo build --release --quiet -p switchboard-cli --bin switchboard --bin switchboard-bench)
  if [[ " $SERVERS " == *" uws "* && ! -x $UWS_FANOUT ]]; then
    "$BENCH_DIR/uws-fanout/build.sh" "$(dirname "$UWS_FANOUT")" >/dev/null
  fi
fi
[[ -x $LOADGEN ]] || { echo "the load generator $LOADGEN is not built" >&2; exit 1; }

# ------------------------------------------------------------------ servers
CONF_DIR=$(mktemp -d)
server_port() {
  case $1 in switchboard) echo 9410 ;; nats) echo 9411 ;; mosquitto) echo 9412 ;; uws) echo 9414 ;; baseline) echo 9415 ;;
    *) echo "unknown server $1" >&2; exit 1 ;; esac
}
server_protocol() {
  case $1 in switchboard | baseline) echo centrifuge ;; nats) echo nats ;; mosquitto) echo mqtt ;; uws) echo uws ;; esac
}
# Extra load generator arguments per server.
server_args() { if [[ $1 == switchboard || $1 == baseline ]]; then echo "--channel-prefix bench:ch"; fi; }
server_url() {
  if [[ $1 == switchboard || $1 == baseline ]]; then echo "ws://127.0.0.1:$(server_port "$1")/connection/websocket"; else echo "ws://127.0.0.1:$(server_port "$1")/"; fi
}
server_available() {
  case $1 in
    switchboard) [[ -x $SWITCHBOARD ]] ;;
    baseline) [[ -x ${BASELINE_SERVE:-} ]] ;;
    nats) command -v nats-server >/dev/null ;;
    mosquitto) command -v mosquitto >/dev/null ;;
    uws) [[ -x $UWS_FANOUT ]] ;;
    *) return 1 ;;
  esac
}
write_configs() {
  # Switchboard: channels bench:chN in a `bench` namespace without presence and
  # join/leave pushes (the peers have neither; with join/leave on, every one of
  # 10,000 subscribes would be pushed to every other subscriber). History and
  # recovery stay as embedded (100 publications, 5 minutes).
  cat > "$CONF_DIR/switchboard.toml" <<CONF
[[hub.namespaces]]
name = "bench"
presence = false
join_leave = false
CONF
  cat > "$CONF_DIR/nats.conf" <<CONF
listen: "127.0.0.1:9421"
max_payload: 8MB
max_pending: 1GB
write_deadline: "60s"
websocket { listen: "127.0.0.1:$(server_port nats)", no_tls: true }
CONF
  cat > "$CONF_DIR/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
max_queued_messages 0
max_queued_bytes 0
persistence false
listener 9422 127.0.0.1
listener $(server_port mosquitto) 127.0.0.1
protocol websockets
CONF
}
write_configs

SERVER_PID=""
cleanup() { if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; }
trap 'cleanup; rm -rf "$CONF_DIR"' EXIT

# start_server NAME [PREFIX...]: starts NAME pinned to SERVER_CPU under PREFIX.
start_server() {
  local server=$1 log="$OUT/server.log" ready
  shift
  : > "$log"
  case $server in
    switchboard | baseline)
      local binary=$SWITCHBOARD
      [[ $server == baseline ]] && binary=$BASELINE_SERVE
      # One tokio worker: taskset makes available_parallelism() 1, and
      # TOKIO_WORKER_THREADS pins it should serve build its runtime differently.
      TOKIO_WORKER_THREADS=1 "$@" taskset -c "$SERVER_CPU" "$binary" serve --config "$CONF_DIR/switchboard.toml" --listen "127.0.0.1:$(server_port "$server")" --max-connections 20000 > "$log" 2>&1 &
      ready=listening ;;
    nats) GOMAXPROCS=1 "$@" taskset -c "$SERVER_CPU" nats-server -c "$CONF_DIR/nats.conf" > "$log" 2>&1 & ready="Server is ready" ;;
    mosquitto) "$@" taskset -c "$SERVER_CPU" mosquitto -c "$CONF_DIR/mosquitto.conf" > "$log" 2>&1 & ready=running ;;
    uws) "$@" taskset -c "$SERVER_CPU" "$UWS_FANOUT" "$(server_port uws)" > "$log" 2>&1 & ready=listening ;;
  esac
  SERVER_PID=$!
  wait_for_log "$log" "$ready" "$SERVER_PID" || { echo "$server did not start" >&2; exit 1; }
}
stop_server() { cleanup; SERVER_PID=""; }

# scenario name -> load generator arguments
scenario_args() {
  case $1 in
    broadcast) echo "-c $SUBSCRIBERS --channels 1 --publishers 1 --rate $BROADCAST_RATE -s 100" ;;
    channels) echo "-c $SUBSCRIBERS --channels $(( SUBSCRIBERS / 10 )) --publishers 4 --rate $CHANNELS_RATE -s 100" ;;
    broadcast-1k) echo "-c $SUBSCRIBERS --channels 1 --publishers 1 --rate $BROADCAST_1K_RATE -s 1KiB" ;;
    *) echo "unknown scenario $1" >&2; exit 1 ;;
  esac
}
loadgen() { "${SCHED[@]}" taskset -c "$LOADGEN_CPU" "$LOADGEN" --no-progress --json "$@"; }

available=()
for server in $SERVERS; do
  if server_available "$server"; then available+=("$server"); else echo "skipping $server: not installed or built" >&2; fi
done
(( ${#available[@]} )) || { echo "no server to run" >&2; exit 1; }

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

echo "== $ROUNDS round(s) x ${DURATION}s (+${WARMUP}s warm-up), servers: ${available[*]}" >&2
for round in $(seq "$ROUNDS"); do
  shift_by=$(( (round - 1) % ${#available[@]} ))
  order=("${available[@]:$shift_by}" "${available[@]:0:$shift_by}")
  for scenario in $SCENARIOS; do
    for server in "${order[@]}"; do
      start_server "$server" "${SCHED[@]}"
      # Server CPU is counted over the load generator's measurement window
      # only: it writes the ready file once subscribed, and the window starts
      # after the warm-up; connect time is not fan-out work.
      ready="$OUT/ready"; rm -f "$ready"
      # shellcheck disable=SC2046
      loadgen "$(server_url "$server")" --pubsub "$(server_protocol "$server")" $(server_args "$server") $(scenario_args "$scenario") \
        -d "$DURATION" -w "$WARMUP" --ready-file "$ready" > "$OUT/loadgen.json" 2>"$OUT/loadgen.err" &
      loadgen_pid=$!
      for _ in $(seq 1200); do [[ -e $ready ]] && break; kill -0 "$loadgen_pid" 2>/dev/null || break; sleep 0.05; done
      # Publishers connect right after the ready file; the warm-up follows.
      sleep "$WARMUP"; sleep 0.1
      cpu_before=$(proc_cpu_ns "$SERVER_PID"); wall_before=$(date +%s%N)
      sleep "$DURATION"
      cpu_after=$(proc_cpu_ns "$SERVER_PID"); wall_after=$(date +%s%N)
      wait "$loadgen_pid" || true
      report=$(cat "$OUT/loadgen.json")
      [[ -n $report ]] || { echo "round $round $scenario $server: load generator failed: $(cat "$OUT/loadgen.err")" >&2; report=null; }
      server_cpu=$(awk -v c=$(( cpu_after - cpu_before )) -v w=$(( wall_after - wall_before )) 'BEGIN { printf "%.3f", c / w }')
      stop_server
      printf '{"round":%s,"scenario":"%s","server":"%s","server_cpu":%s,"report":%s}\n' "$round" "$scenario" "$server" "$server_cpu" "$report" >> "$RESULTS"
      echo "round $round  $(printf '%-13s %-12s' "$scenario" "$server") $(jq -r 'if . == null then "failed" else "\(.deliveries_per_sec|floor) deliveries/s, cpu server '"$server_cpu"' client \(.load_generator_cpu // 0 | . * 1000 | floor / 1000), p99 \(.latency.p99_us // 0) us, missing \(.missing), errors \(.connection_errors)" end' <<<"$report")" >&2
    done
  done
done

if (( IDLE_CONNECTIONS > 0 )); then
  echo "== memory per idle subscribed connection ($IDLE_CONNECTIONS connections on $IDLE_CHANNELS channels)" >&2
  for server in "${available[@]}"; do
    start_server "$server"
    sleep 0.5
    before=$(rss_kib "$SERVER_PID")
    ready="$OUT/ready"; rm -f "$ready"
    # shellcheck disable=SC2046
    taskset -c "$LOADGEN_CPU" "$LOADGEN" --no-progress --json "$(server_url "$server")" --pubsub "$(server_protocol "$server")" $(server_args "$server") \
      --idle -c "$IDLE_CONNECTIONS" --channels "$IDLE_CHANNELS" -s 100 -d 120 --ready-file "$ready" > "$OUT/idle.json" 2>"$OUT/loadgen.err" &
    idle_pid=$!
    for _ in $(seq 2400); do [[ -e $ready ]] && break; kill -0 "$idle_pid" 2>/dev/null || break; sleep 0.05; done
    opened=$(cat "$ready" 2>/dev/null || echo 0)
    sleep 2 # let the server settle
    after=$(rss_kib "$SERVER_PID")
    kill "$idle_pid" 2>/dev/null || true; wait "$idle_pid" 2>/dev/null || true
    stop_server
    printf '{"memory":true,"server":"%s","connections":%s,"channels":%s,"rss_before_kib":%s,"rss_after_kib":%s}\n' "$server" "$opened" "$IDLE_CHANNELS" "$before" "$after" >> "$RESULTS"
    echo "memory  $(printf '%-12s' "$server") $opened subscribed connections: RSS $before KiB -> $after KiB" >&2
  done
fi

{
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
  echo "Run: started $STARTED, ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s, servers on CPU $SERVER_CPU, load generator on CPU $LOADGEN_CPU, BENCH_SCHED=$BENCH_SCHED, CPU_DMA_LATENCY=$CPU_DMA_LATENCY, load average at start: $LOAD_AT_START"
  echo "Rates: broadcast $BROADCAST_RATE pub/s, channels $CHANNELS_RATE pub/s, broadcast-1k $BROADCAST_1K_RATE pub/s; $SUBSCRIBERS subscribers"
  echo
  python3 "$BENCH_DIR/summarize_fanout.py" "$RESULTS"
} | tee "$OUT/table.md"
