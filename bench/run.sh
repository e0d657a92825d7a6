#!/usr/bin/env bash
# Side-by-side echo benchmark: Switchboard against peer crates, uWebSockets and
# a raw-TCP echo, on the same machine in the same run.
#
# Every server runs pinned to one core, the load generator (echo-loadgen,
# src/bin/echo-loadgen) pinned to the other. Servers are interleaved: each
# round runs every scenario against every server (in a rotated order), and
# the table shows the MEDIAN over the rounds. Then 10,000 idle connections
# are opened to each server to measure its memory per idle connection.
#
# The load generator is built to leave the server as the bottleneck: frames
# are pre-encoded (one buffer of W masked copies, one write per batch), echoes
# go through a minimal parser (every echo's length, a sample's content),
# unsampled large payloads are discarded in the kernel (MSG_TRUNC), and by
# default it polls without sleeping (--spin), so the server never pays for
# waking it. It reports its own CPU (and, of it, the share not spent in empty
# polls: "busy") and the server's CPU over the measurement window, and the
# table flags rows where the server was not the bottleneck.
#
# Knobs (environment):
#   ROUNDS=3 DURATION=5 WARMUP=1   rounds, seconds measured / warmed up per run
#   IDLE_CONNECTIONS=10000         connections for the memory measurement (0: skip)
#   SERVERS="switchboard tungstenite fastwebsockets tokio-websockets uws raw-tcp"
#   SCENARIOS="small medium large huge latency many text"
#   SERVER_CPU=0 LOADGEN_CPU=1     cores to pin to
#   BENCH_SCHED=fifo               how both processes are scheduled (see below): fifo | nice | none
#   CPU_DMA_LATENCY=0              idle-state latency bound held during the run (see below): µs | none
#   SKIP_BUILD=1                   use the binaries already built
#   BIN_DIR=dir                    take the servers and echo-loadgen from dir (e.g. the
#                                  release build of a clean checkout; implies nothing
#                                  about SKIP_BUILD)
#   LOADGEN=path                   another echo-loadgen binary
#   LOADGEN_FLAGS="--spin"         extra load generator flags ("" lets it sleep in epoll;
#                                  --read-all copies every echoed byte)
#   UWS_ECHO=path                  uWebSockets' EchoServer example (default
#                                  bench/target/uwebsockets/uws-echo, built by
#                                  ../shared/anchors/uwebsockets/build.sh if missing)
#   BASELINE_ECHO=path             an earlier switchboard-echo build, run as the
#                                  extra server "baseline" (before/after a change
#                                  to a hot path, in the same run):
#                                  BASELINE_ECHO=/tmp/old-echo SERVERS="switchboard baseline" bench/run.sh
#   OUT=bench/results/<timestamp>  where raw JSON results and the table go
#
# Scheduling: on a machine shared with other CPU-heavy work, an echo benchmark
# at normal priority mostly measures how long each wake-up waits for a busy
# core (we saw 4-6x lower, wildly varying numbers even at nice -20: fair-class
# wake-ups do not preempt promptly on this kernel). BENCH_SCHED=fifo (the
# default as root) runs server and load generator as SCHED_FIFO priority 1
# (`chrt -f 1`) so they run the moment they are woken; the kernel's RT
# throttling (sched_rt_runtime_us) still leaves 5% of each core to everything
# else, so a saturated process shows about 95% of its core, which the table
# treats as a full core. Large windows of in-flight data can then stall on
# CFS-scheduled kernel work for up to a second, which is why the
# large-message scenarios keep 1-2 messages in flight. BENCH_SCHED=nice uses
# nice -20; none leaves scheduling alone. The memory measurement always runs
# at normal priority.
#
# Idle states: on a VM an idle vCPU halts, and waking it is a VM exit plus a
# host reschedule, paid by whoever sends the byte that wakes it. Holding
# /dev/cpu_dma_latency at 0 (the kernel's PM QoS interface, what tuned's
# latency-performance profiles do) keeps idle CPUs polling instead of
# halting, for every server alike; the bound lasts while this script holds
# the file open. CPU_DMA_LATENCY=none leaves idle states alone.
#
# Quick check: ROUNDS=1 DURATION=1 WARMUP=0.3 IDLE_CONNECTIONS=1000 bench/run.sh
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT_DIR="$(dirname "$BENCH_DIR")"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
SERVERS=${SERVERS:-"switchboard tungstenite fastwebsockets tokio-websockets uws raw-tcp"}
if [[ -n ${BASELINE_ECHO:-} && " $SERVERS " != *" baseline "* ]]; then SERVERS="switchboard baseline ${SERVERS/switchboard/}"; fi
SCENARIOS=${SCENARIOS:-"small medium large huge latency many text"}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
BENCH_SCHED=${BENCH_SCHED:-fifo}
OUT=${OUT:-"$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)"}

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
CPU_DMA_LATENCY=${CPU_DMA_LATENCY:-0}
bench_hold_cpu_dma_latency
# Prefix that applies BENCH_SCHED to a command.
bench_sched_prefix
# 10,000 connections need 10,000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
IDLE_CONNECTIONS=$(bench_fit_connections "$IDLE_CONNECTIONS")

UWS_ECHO=${UWS_ECHO:-"$BENCH_DIR/target/uwebsockets/uws-echo"}
if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "== building (release)" >&2
  (cd "$BENCH_DIR" && cargo build --release --quiet)
  if [[ " $SERVERS " == *" uws "* && ! -x $UWS_ECHO ]]; then
    echo "== building uWebSockets' EchoServer example" >&2
    "$ROOT_DIR/../shared/anchors/uwebsockets/build.sh" "$(dirname "$UWS_ECHO")" >&2
  fi
fi
SERVER_BIN=${BIN_DIR:-"$BENCH_DIR/target/release"}
LOADGEN=${LOADGEN:-"$SERVER_BIN/echo-loadgen"}
LOADGEN_FLAGS=${LOADGEN_FLAGS---spin}
# Share of a core a saturated process can get: SCHED_FIFO tasks are throttled
# to sched_rt_runtime_us per sched_rt_period_us (95% by default).
if [[ $BENCH_SCHED == fifo && -r /proc/sys/kernel/sched_rt_runtime_us ]] && (( $(cat /proc/sys/kernel/sched_rt_runtime_us) > 0 )); then
  CPU_CAP=$(awk '{ printf "%.3f", $1 / '"$(cat /proc/sys/kernel/sched_rt_period_us)"' }' /proc/sys/kernel/sched_rt_runtime_us)
else
  CPU_CAP=1
fi
export CPU_CAP

# server name -> binary, port, URL scheme
server_binary() {
  case $1 in
    baseline) echo "${BASELINE_ECHO:-}" ;;
    uws) echo "$UWS_ECHO" ;;
    *) echo "$SERVER_BIN/$1-echo" ;;
  esac
}
server_port() {
  case $1 in
    switchboard) echo 9301 ;; tungstenite) echo 9302 ;; fastwebsockets) echo 9303 ;;
    tokio-websockets) echo 9304 ;; raw-tcp) echo 9305 ;; baseline) echo 9306 ;; uws) echo 9307 ;; *) echo "unknown server $1" >&2; exit 1 ;;
  esac
}
server_url() {
  if [[ $1 == raw-tcp ]]; then echo "tcp://127.0.0.1:$(server_port "$1")/"; else echo "ws://127.0.0.1:$(server_port "$1")/bench"; fi
}
mode_flags() { if [[ $1 == raw-tcp ]]; then echo "--raw-tcp"; fi; }

# scenario name -> load generator arguments and a label for the table
scenario_args() {
  case $1 in
    small) echo "-c 100 -s 16 -n 8" ;;
    medium) echo "-c 100 -s 1KiB -n 8" ;;
    large) echo "-c 10 -s 64KiB -n 2" ;;
    huge) echo "-c 10 -s 1MiB -n 1" ;;
    latency) echo "-c 1 -s 16 -n 1" ;;
    many) echo "-c 1000 -s 16 -n 1" ;;
    text) echo "-c 100 -s 1KiB -n 8 --text" ;;
    *) echo "unknown scenario $1" >&2; exit 1 ;;
  esac
}

available=()
for server in $SERVERS; do
  if [[ -x $(server_binary "$server") ]]; then
    available+=("$server")
  else
    echo "skipping $server: $(server_binary "$server") is not built" >&2
  fi
done
[[ -x $LOADGEN ]] || { echo "the load generator $LOADGEN is not built" >&2; exit 1; }

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
SERVER_PID=""
cleanup() { if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

start_server() {
  local server=$1 log="$OUT/server.log"
  shift
  : > "$log"
  # SIGPIPE ignored, as servers do: uWebSockets' example does not, and died
  # of it when a load generator closed a connection with echoes unread (Rust
  # binaries ignore it already). The subshell execs, so $! is the server.
  (trap '' PIPE; exec "$@" taskset -c "$SERVER_CPU" "$(server_binary "$server")" "$(server_port "$server")") > "$log" 2>&1 &
  SERVER_PID=$!
  # "listening" (ours) or "Listening" (uWebSockets).
  wait_for_log "$log" istening "$SERVER_PID" || { echo "$server did not start" >&2; exit 1; }
}
stop_server() { cleanup; SERVER_PID=""; }
server_rss_kib() { rss_kib "$SERVER_PID"; }
# Nanoseconds the server's (only) thread has been on a CPU.
server_cpu_ns() { thread_cpu_ns "$SERVER_PID"; }
# shellcheck disable=SC2086 # LOADGEN_FLAGS is a list of flags
loadgen() { "${SCHED[@]}" taskset -c "$LOADGEN_CPU" "$LOADGEN" --json $LOADGEN_FLAGS "$@"; }

echo "== $ROUNDS round(s) x ${DURATION}s (+${WARMUP}s warm-up), servers: ${available[*]}" >&2
for round in $(seq "$ROUNDS"); do
  # Rotate the server order each round so that no server always runs first.
  order=("${available[@]:$(( (round - 1) % ${#available[@]} ))}" "${available[@]:0:$(( (round - 1) % ${#available[@]} ))}")
  for scenario in $SCENARIOS; do
    for server in "${order[@]}"; do
      start_server "$server" "${SCHED[@]}"
      cpu_before=$(server_cpu_ns); wall_before=$(date +%s%N)
      # shellcheck disable=SC2046
      if report=$(loadgen "$(server_url "$server")" $(mode_flags "$server") $(scenario_args "$scenario") -d "$DURATION" -w "$WARMUP" --server-pid "$SERVER_PID" 2>"$OUT/loadgen.err"); then
        :
      else
        echo "round $round $scenario $server: load generator failed: $(cat "$OUT/loadgen.err")" >&2
        report=${report:-null}
      fi
      # Share of one core the server used over the whole run (connect and
      # warm-up included): only a fallback for a report without server_cpu
      # (the load generator measures it over its window).
      server_cpu=$(awk -v c=$(( $(server_cpu_ns) - cpu_before )) -v w=$(( $(date +%s%N) - wall_before )) 'BEGIN { printf "%.3f", c / w }')
      stop_server
      printf '{"round":%s,"scenario":"%s","server":"%s","server_cpu":%s,"report":%s}\n' "$round" "$scenario" "$server" "$server_cpu" "$report" >> "$RESULTS"
      echo "round $round  $(printf '%-8s %-17s' "$scenario" "$server") $(jq -r 'if . == null then "failed" else "\(.messages_per_sec|floor) msg/s, cpu server \(.server_cpu // '"$server_cpu"' | . * 1000 | floor / 1000) loadgen \(.load_generator_cpu // 0 | . * 1000 | floor / 1000) (busy \(.load_generator_busy // 0 | . * 1000 | floor / 1000)), p50 \(.latency.p50_us // 0) us, mismatches \(.mismatches), errors \(.connection_errors)" end' <<<"$report")" >&2
    done
  done
done

if (( IDLE_CONNECTIONS > 0 )); then
  echo "== memory per idle connection ($IDLE_CONNECTIONS connections)" >&2
  for server in "${available[@]}"; do
    start_server "$server"
    sleep 0.2
    before=$(server_rss_kib)
    ready="$OUT/ready"; rm -f "$ready"
    # shellcheck disable=SC2046
    taskset -c "$LOADGEN_CPU" "$LOADGEN" --json "$(server_url "$server")" $(mode_flags "$server") \
      --idle -c "$IDLE_CONNECTIONS" -d 60 --ready-file "$ready" > "$OUT/idle.json" 2>"$OUT/loadgen.err" &
    idle_pid=$!
    for _ in $(seq 600); do [[ -e $ready ]] && break; kill -0 "$idle_pid" 2>/dev/null || break; sleep 0.05; done
    opened=$(cat "$ready" 2>/dev/null || echo 0)
    sleep 1 # let the server finish accepting and settle
    after=$(server_rss_kib)
    kill "$idle_pid" 2>/dev/null || true; wait "$idle_pid" 2>/dev/null || true
    stop_server
    printf '{"memory":true,"server":"%s","connections":%s,"rss_before_kib":%s,"rss_after_kib":%s}\n' "$server" "$opened" "$before" "$after" >> "$RESULTS"
    echo "memory  $(printf '%-17s' "$server") $opened connections: RSS $before KiB -> $after KiB" >&2
  done
fi

{
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
  echo "Run: started $STARTED, ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s, servers on CPU $SERVER_CPU, load generator on CPU $LOADGEN_CPU ($(basename "$LOADGEN") $LOADGEN_FLAGS), BENCH_SCHED=$BENCH_SCHED (a full core = $CPU_CAP), CPU_DMA_LATENCY=$CPU_DMA_LATENCY, load average at start: $LOAD_AT_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  python3 "$BENCH_DIR/summarize.py" "$RESULTS"
} | tee "$OUT/table.md"
