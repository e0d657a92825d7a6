//! A throwaway `redis-server` for the tests: a free 127.0.0.1 port, no
//! persistence (`--save '' --appendonly no`), so a restart loses every key
//! just as a production Redis without persistence would.

#![allow(dead_code)]

pub mod freezer;
pub mod restartable;

use std::future::Future;
use std::process::Command;
use std::time::Duration;

use switchboard_hub_redis::{RedisBroker, RedisEngineConfig};
use switchboard_testkit::daemon::{Daemon, DaemonSpec};

/// Every test's bound.
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// Starts `redis-server` without persistence.
pub fn start_redis() -> Daemon {
    let spec = DaemonSpec {
        name: "redis-server",
        ports: 1,
        log_files: &[],
        install_hint:
            "install it with scripts/install-deps.sh (Debian package redis-server, 7.0 or later)",
    };
    Daemon::start(&spec, |dir, ports| {
        let mut command = Command::new("redis-server");
        command.args([
            "--port",
            &ports[0].to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir.display().to_string(),
        ]);
        command
    })
}

/// The URL of a test Redis.
pub fn url(redis: &Daemon) -> String {
    format!("redis://127.0.0.1:{}", redis.ports()[0])
}

/// An engine config with short intervals for tests.
pub fn config(redis: &Daemon, node: &str) -> RedisEngineConfig {
    config_for_url(url(redis), node)
}

/// An engine config with short intervals for tests, for a Redis at `url`
/// (one that is not a [`Daemon`], such as a restartable one).
pub fn config_for_url(url: String, node: &str) -> RedisEngineConfig {
    let mut config = RedisEngineConfig::new(url, node);
    config.probe_interval = Duration::from_millis(200);
    config.command_timeout = Duration::from_secs(2);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

/// Runs a test's body, failing the test if it outlasts [`TEST_DEADLINE`].
pub async fn within_deadline<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TEST_DEADLINE, body)
        .await
        .expect("in time")
}

/// Runs a raw command against the test Redis (FLUSHALL, CLIENT KILL...).
pub async fn raw(redis: &Daemon, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(url(redis)).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query_async(&mut connection).await.unwrap()
}

/// A broker on the test Redis, with its events.
pub async fn broker(
    config: RedisEngineConfig,
) -> (
    RedisBroker,
    tokio::sync::mpsc::UnboundedReceiver<switchboard_hub_redis::BrokerEvent>,
) {
    RedisBroker::connect(config)
        .await
        .expect("the test redis-server accepts connections")
}
