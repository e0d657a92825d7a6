//! A whole chaos set-up: Redis (or none, for the memory engine), the
//! nodes, HAProxy in front of them, and the `serve` configuration they
//! share.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use switchboard_testkit::daemon::Daemon;
use switchboard_testkit::free_port;
use tempfile::TempDir;

use super::haproxy;
use super::http;
use super::node::{Engine, Node, NodeSpec};
use super::redis::{Persistence, RedisServer};

/// The namespace every chaos channel lives in.
pub const NAMESPACE: &str = "chaos";

/// History kept per chaos channel: more than any test publishes, so only
/// lost Redis data can make a recovery fail.
pub const HISTORY_SIZE: usize = 5000;

/// `--drain-window` of every node: a drain closes its clients over 1 s.
pub const DRAIN_WINDOW: &str = "1s";

/// The `switchboard` binary the cli tests build.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// The `serve --config` file: a `chaos` namespace with history, and a
/// recovery limit as large as the history.
pub fn serve_config() -> String {
    format!(
        "[hub]\n\
         recovery_max_publication_limit = {HISTORY_SIZE}\n\
         \n\
         [[hub.namespaces]]\n\
         name = \"{NAMESPACE}\"\n\
         history_size = {HISTORY_SIZE}\n\
         history_ttl = \"5m\"\n"
    )
}

/// What to start.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSpec {
    /// How many nodes.
    pub nodes: usize,
    /// `None`: the memory engine (one node); `Some`: Redis with this
    /// persistence.
    pub redis: Option<Persistence>,
}

/// The running set-up. Dropping it stops everything.
pub struct Cluster {
    /// HAProxy; dropped first so no client reaches a node being stopped.
    pub haproxy: Daemon,
    /// The nodes, `node1`, `node2`, ...
    pub nodes: Vec<Node>,
    /// Redis, when the nodes use it.
    pub redis: Option<RedisServer>,
    dir: TempDir,
}

impl Cluster {
    /// Starts Redis, the nodes (each ready) and HAProxy, then waits until
    /// HAProxy's health checks let a request through.
    pub async fn start(spec: ClusterSpec) -> Cluster {
        assert!(
            spec.redis.is_some() || spec.nodes == 1,
            "the memory engine runs one node: nodes would not see each other's publications"
        );
        require_engine_flag(spec.redis.is_some());
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("serve.toml");
        std::fs::write(&config, serve_config()).expect("write serve.toml");
        let redis = spec.redis.map(RedisServer::start);
        let engine = match &redis {
            Some(redis) => Engine::Redis { url: redis.url() },
            None => Engine::Memory,
        };
        let mut nodes = Vec::new();
        for index in 1..=spec.nodes {
            let name = format!("node{index}");
            nodes.push(
                Node::start(NodeSpec {
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    port: free_port(),
                    engine: engine.clone(),
                    config: config.clone(),
                    extra: vec!["--drain-window".to_owned(), DRAIN_WINDOW.to_owned()],
                })
                .await,
            );
        }
        let backends: Vec<SocketAddr> = nodes.iter().map(Node::addr).collect();
        let haproxy = haproxy::start(&backends);
        let cluster = Cluster {
            haproxy,
            nodes,
            redis,
            dir,
        };
        cluster.wait_routed().await;
        cluster
    }

    /// HAProxy's address: the hub's and the API's for every client.
    pub fn entry(&self) -> SocketAddr {
        haproxy::addr(&self.haproxy)
    }

    /// `ws://HAPROXY/connection/websocket`.
    pub fn hub_url(&self) -> String {
        format!("ws://{}/connection/websocket", self.entry())
    }

    /// Waits until a request through HAProxy reaches a ready node.
    pub async fn wait_routed(&self) {
        let entry = self.entry();
        let routed = super::eventually(Duration::from_secs(10), || async {
            matches!(http::get(entry, "/ready").await, Ok(r) if r.status == 200)
        })
        .await;
        assert!(
            routed,
            "HAProxy did not route /ready to a ready node within 10 s; its log:\n{}",
            self.haproxy.log()
        );
    }

    /// `num_clients` of each node's `/info` (`None` for a node that does
    /// not answer).
    pub async fn clients_per_node(&self) -> Vec<Option<u64>> {
        let mut counts = Vec::new();
        for node in &self.nodes {
            let count = match http::get(node.addr(), "/info").await {
                Ok(r) if r.status == 200 => serde_json::from_str::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|info| info["num_clients"].as_u64()),
                _ => None,
            };
            counts.push(count);
        }
        counts
    }

    /// Waits (bounded) until every node holds at least one client: round
    /// robin spread them, so a fault on any node hits someone.
    pub async fn wait_spread(&self) {
        let spread = super::eventually(Duration::from_secs(5), || async {
            self.clients_per_node()
                .await
                .iter()
                .all(|count| count.is_some_and(|c| c >= 1))
        })
        .await;
        assert!(
            spread,
            "HAProxy's round robin did not give every node a client: {:?}",
            self.clients_per_node().await
        );
    }

    /// Every log (nodes, HAProxy, Redis), for a failure message.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for node in &self.nodes {
            text.push_str(&format!(
                "--- {} log (tail):\n{}\n",
                node.name(),
                tail(&node.log())
            ));
        }
        text.push_str(&format!(
            "--- haproxy log (tail):\n{}\n",
            tail(&self.haproxy.log())
        ));
        if let Some(redis) = &self.redis {
            text.push_str(&format!("--- redis log (tail):\n{}\n", tail(&redis.log())));
        }
        text
    }

    /// The temporary directory holding the config and the logs.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

/// The last 40 lines of `text`.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Fails with a plain message when the binary has no `--engine` flag (the
/// Redis wiring of `serve` is missing).
fn require_engine_flag(redis: bool) {
    if !redis {
        return;
    }
    let help = std::process::Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .expect("run switchboard serve --help");
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("--engine"),
        "`switchboard serve` has no --engine flag: the Redis engine is not wired into serve, so \
         the multi-node chaos tests cannot run"
    );
}
