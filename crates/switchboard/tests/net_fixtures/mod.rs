//! Shared fixtures for the TLS and proxy tests: loopback echo servers and
//! real proxy daemons (tinyproxy, microsocks, dante) started on 127.0.0.1
//! with temporary configs. Certificates come from `switchboard_testkit::pki`.
//!
//! Every test binary uses a different subset, hence the allowance.
#![allow(dead_code)]

pub mod echo;
pub mod proxies;
pub mod ws_echo;

use std::future::Future;
use std::time::Duration;

/// Upper bound for one test's network work, so nothing can hang CI.
pub const TEST_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `future`, failing the test if it exceeds [`TEST_DEADLINE`].
pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_DEADLINE, future)
        .await
        .expect("test exceeded its deadline")
}
