//! Shared by `hub_sdk_*.rs`: the official Centrifugo SDKs (centrifuge-js,
//! centrifuge-python) as child processes against a real `switchboard serve`,
//! a cuttable TCP relay between them, and the scenarios both SDKs run in
//! JSON and in Protobuf.
//!
//! A missing SDK fails the test with a pointer to `scripts/install-deps.sh`;
//! only `SWITCHBOARD_SKIP_INTEROP=1` skips, and says so.

// Each test binary uses a different subset of this module.
#![allow(dead_code)]

use std::time::Duration;

pub mod relay;
pub mod scenarios;
pub mod sdk;

pub use sdk::{Format, Sdk};

pub use switchboard_testkit::interop::SKIP_ENV;

/// Bound on one whole scenario; a hang fails instead of blocking CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(240);

/// Bound on waiting for a single event from an SDK.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(60);

/// `--lifetime` of every scenario script: it exits by itself even if orphaned.
pub const SCRIPT_LIFETIME_SECS: u64 = 260;

pub use switchboard_testkit::interop::skip_requested;

/// Runs `body` on a fresh two-thread runtime, failing after [`TEST_TIMEOUT`].
pub fn run<F: std::future::Future<Output = ()>>(body: F) {
    switchboard_testkit::interop::run_bounded(TEST_TIMEOUT, "SDK scenario", body);
}

/// A `/proc/PID/status` memory figure in bytes (`VmRSS`, `VmHWM`, ...).
pub fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {line:?}"));
    kib * 1024
}
