//! CPU time from Linux's /proc, in nanoseconds: this thread's (the whole
//! load generator: it runs on one thread) and every thread of the server
//! process, so both shares cover exactly the measurement window.

use std::time::Duration;

/// CPU time of the calling thread (`/proc/thread-self/schedstat`).
pub fn own() -> Option<Duration> {
    schedstat("/proc/thread-self/schedstat")
}

/// CPU time of every live thread of process `pid` (`/proc/PID/task/*/schedstat`).
pub fn process(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = Duration::ZERO;
    for task in tasks.flatten() {
        total += schedstat(task.path().join("schedstat"))?;
    }
    Some(total)
}

/// The first field of a schedstat file: nanoseconds spent on a CPU.
fn schedstat(path: impl AsRef<std::path::Path>) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_is_seen_in_both_views() {
        let before = own().expect("Linux has /proc/thread-self/schedstat");
        let process_before = process(std::process::id()).expect("Linux has /proc/PID/task");
        // Spin until this thread has run 5 ms more (on a busy machine that
        // takes longer than 5 ms of wall time; the bound only stops a hang).
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while own().unwrap() - before < Duration::from_millis(5) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the thread's CPU time never grew"
            );
            for _ in 0..10_000 {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
        }
        let process_after = process(std::process::id()).unwrap();
        assert!(process_after - process_before >= Duration::from_millis(5));
    }
}
