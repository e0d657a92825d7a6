//! Fixtures for the reverse-proxy tests: real nginx, HAProxy and Caddy
//! processes started on loopback with the configs from `proxy-configs/`,
//! a Switchboard echo backend that records what the application sees, and
//! the Python `websockets` peer from `interop/`. The proxies' certificates
//! come from `switchboard_testkit::pki`.
//!
//! Every test binary uses a different subset, hence the allowance.
#![allow(dead_code)]

pub mod backend;
pub mod peers;
pub mod proxies;
pub mod templates;

use std::future::Future;
use std::time::Duration;

/// Set to `1` to skip the tests that need third-party programs (nginx,
/// HAProxy, Caddy, Python). Without it a missing program fails the test.
pub const SKIP_ENV: &str = "SWITCHBOARD_SKIP_INTEROP";

/// Whether the interop tests are switched off by [`SKIP_ENV`]; prints why.
pub fn skip_interop(test: &str) -> bool {
    let skip = std::env::var(SKIP_ENV).is_ok_and(|value| value == "1");
    if skip {
        eprintln!("{test}: skipped because {SKIP_ENV}=1");
    }
    skip
}

/// Runs `future`, failing the test if it takes longer than `limit`.
pub async fn bounded<F: Future>(limit: Duration, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("test exceeded its {limit:?} bound"),
    }
}

/// What to tell the user when a program the tests need is missing.
pub fn install_hint(program: &str) -> String {
    format!(
        "`{program}` is not installed; run scripts/install-deps.sh as root \
         (or `apt-get install nginx haproxy caddy`), or set {SKIP_ENV}=1 to skip \
         the tests that need third-party programs"
    )
}
