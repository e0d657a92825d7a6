# Shell pieces shared by bench/run.sh (echo) and bench/fanout.sh (pub/sub).
# Source it; it defines functions only (nothing runs on source).

# bench_hold_cpu_dma_latency: holds /dev/cpu_dma_latency at $CPU_DMA_LATENCY µs
# for as long as this shell lives (the kernel's PM QoS bound lasts while the file
# is open), so idle CPUs poll instead of halting; see run.sh for why. Sets
# CPU_DMA_LATENCY=none when the file cannot be opened (not root).
bench_hold_cpu_dma_latency() {
  if [[ $CPU_DMA_LATENCY != none ]]; then
    # (No `2>/dev/null` on the exec: it would silence this shell's stderr for good.)
    if [[ -w /dev/cpu_dma_latency ]] && exec {BENCH_QOS_FD}>/dev/cpu_dma_latency; then
      # One write of a hex string; the bound holds until the descriptor closes.
      printf '%x' "$CPU_DMA_LATENCY" >&"$BENCH_QOS_FD"
    else
      echo "cannot open /dev/cpu_dma_latency (not root?): idle states left alone (CPU_DMA_LATENCY=none)" >&2
      CPU_DMA_LATENCY=none
    fi
  fi
}

# bench_sched_prefix: sets the array SCHED to the command prefix that applies
# $BENCH_SCHED (fifo: chrt -f 1, nice: nice -n -20, none); falls back to none
# when not root.
bench_sched_prefix() {
  if [[ $(id -u) != 0 && $BENCH_SCHED != none ]]; then
    echo "not root: running at normal priority (BENCH_SCHED=none)" >&2
    BENCH_SCHED=none
  fi
  case $BENCH_SCHED in
    fifo) SCHED=(chrt -f 1) ;;
    nice) SCHED=(nice -n -20) ;;
    none) SCHED=() ;;
    *) echo "BENCH_SCHED must be fifo, nice or none" >&2; exit 1 ;;
  esac
}

# bench_fit_connections N: raises the open-file limit to the hard limit and
# prints how many connections (at most N) fit under it, with 256 to spare.
bench_fit_connections() {
  local wanted=$1
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if (( wanted + 256 > $(ulimit -n) )); then
    echo "open-file limit is $(ulimit -n): measuring memory with $(( $(ulimit -n) - 256 )) connections" >&2
    wanted=$(( $(ulimit -n) - 256 ))
  fi
  echo "$wanted"
}

# proc_cpu_ns PID: CPU time of every thread of process PID, live and exited
# (utime + stime from /proc/PID/stat), in nanoseconds (clock-tick resolution).
proc_cpu_ns() {
  local ticks
  ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat")
  echo $(( ticks * 1000000000 / $(getconf CLK_TCK) ))
}

# thread_cpu_ns PID: nanoseconds the main thread of PID has been on a CPU
# (/proc/PID/schedstat; exact, but one thread only).
thread_cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# rss_kib PID: resident set size of PID in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# wait_for_log FILE PATTERN PID: waits up to 10 s for PATTERN in FILE while
# PID lives; returns 1 (after printing FILE) otherwise.
wait_for_log() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 200); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "server did not start (no \"$pattern\" in $file):" >&2
  cat "$file" >&2
  return 1
}
