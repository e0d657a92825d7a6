//! The chaos harness (issue 12, point 6): a `redis-server`, several
//! `switchboard serve` nodes on the Redis engine, HAProxy in front of them
//! (round robin, no stickiness, health checks on `/ready`), centrifuge-python
//! subscribers through HAProxy (`interop/python/chaos_subscriber.py`) and a
//! publisher looping through the server API, each process a child of the
//! test on 127.0.0.1, stopped when the test ends.
//!
//! The single assertion every chaos test makes is in [`check`]: each
//! subscriber ends with every offset of its channel from its first
//! subscription to the last publish, each exactly once, or with an explicit
//! `recovered: false` after which it has every offset from the new position.
//!
//! A missing tool (redis-server, haproxy, the Python SDK) fails the test
//! with what to install; nothing is skipped unless `SWITCHBOARD_SKIP_INTEROP=1`.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod check;
pub mod cluster;
pub mod haproxy;
pub mod http;
pub mod node;
pub mod publisher;
pub mod redis;
pub mod scenario;
pub mod subscribers;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// True (after printing why) when `SWITCHBOARD_SKIP_INTEROP=1` asks to
/// skip the interop tests.
pub fn skip_requested(test: &str) -> bool {
    switchboard_testkit::interop::skip_requested(test)
}

/// The checkout's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `body` on a fresh two-worker runtime and fails the test, naming
/// `what`, once it takes longer than `limit`. The body's processes are
/// stopped when it is dropped, timed out or not.
pub fn run_bounded<F: Future<Output = ()>>(limit: Duration, what: &str, body: F) {
    switchboard_testkit::interop::run_bounded(limit, what, body);
}

/// Polls `ready` every 50 ms until it answers true; `false` once `within`
/// has passed.
pub async fn eventually<F, Fut>(within: Duration, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if ready().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `signal` (`"KILL"`, `"TERM"`, `"STOP"`, `"CONT"`) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
