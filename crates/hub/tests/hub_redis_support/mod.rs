//! Shared by `hub_redis_*.rs`: a throwaway `redis-server` on a free
//! loopback port (restartable, no persistence), hubs on the Redis engine
//! sharing it, and plain HTTP calls to their API and probes.
#![allow(dead_code)] // each test file uses a different part

#[path = "../../../hub-redis/tests/support/restartable.rs"]
mod restartable;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use switchboard_hub::{EngineKind, HubConfig, RedisOptions};

pub use crate::common::api;
pub use restartable::RestartableRedis;

use crate::common::Hub;

/// Bound on every test of these files (Redis restarts included).
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `body` on a two-thread runtime, failing after [`TEST_DEADLINE`].
pub fn run<F: std::future::Future>(body: F) -> F::Output {
    crate::common::run_within(TEST_DEADLINE, body)
}

/// A hub on the Redis engine at `url`, named `name`, with short TTLs.
pub async fn node(url: &str, name: &str) -> Hub {
    let mut options = RedisOptions::new(url);
    options.presence_ttl = Duration::from_secs(3);
    options.node_ttl = Duration::from_secs(3);
    Hub::start(HubConfig {
        engine: EngineKind::Redis(options),
        node_name: Some(name.to_owned()),
        ..HubConfig::default()
    })
    .await
}

/// Runs `redis-cli` against the Redis on `port` (FLUSHALL, ...).
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (Debian package redis-tools, installed with redis-server)");
    assert!(output.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `GET /ready`'s status.
pub async fn ready(addr: SocketAddr) -> u16 {
    crate::common::http(addr, "GET", "/ready", &[], "").await.0
}

/// Polls `check` every 50 ms until it holds (the test's deadline bounds
/// the wait).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what} did not happen within 20 s");
}
