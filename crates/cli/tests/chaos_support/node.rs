//! One `switchboard serve` node on a fixed 127.0.0.1 port (HAProxy's
//! backends are addresses), restartable on that port after a SIGKILL or a
//! drain, its log kept in a file for failure messages.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::http;

/// How long a node may take from spawn to `/ready` 200.
pub const READY_DEADLINE: Duration = Duration::from_secs(15);

/// `--redis-presence-ttl` of every Redis node.
pub const PRESENCE_TTL: &str = "3s";

/// `--redis-node-ttl` of every Redis node.
pub const NODE_TTL: &str = "3s";

/// Which engine the node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The in-memory default: one node only (nodes would not see each
    /// other's publications).
    Memory,
    /// `--engine redis --redis-url URL`.
    Redis {
        /// `redis://127.0.0.1:PORT`.
        url: String,
    },
}

/// How a node is started.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// `--node-name` (Redis) and the name in failure messages.
    pub name: String,
    /// The port it listens on, kept across restarts.
    pub port: u16,
    /// The engine.
    pub engine: Engine,
    /// The `--config` file (the `[hub]` table with the chaos namespace).
    pub config: PathBuf,
    /// Where its standard error goes (appended across restarts).
    pub log: PathBuf,
    /// Anything else for the command line (`--drain-window 1s`, ...).
    pub extra: Vec<String>,
}

/// A node process; restarting keeps its spec.
pub struct Node {
    spec: NodeSpec,
    child: Option<Child>,
    starts: u32,
}

impl Node {
    /// Spawns it and waits until `/ready` answers 200.
    pub async fn start(spec: NodeSpec) -> Node {
        let mut node = Node {
            spec,
            child: None,
            starts: 0,
        };
        node.start_again().await;
        node
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.spec.port))
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("{} is not running", self.spec.name))
    }

    /// Everything it logged so far, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.spec.log).unwrap_or_default()
    }

    /// Spawns it (again, on the same port) and waits for `/ready` 200.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.spec.name);
        self.starts += 1;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .expect("node log file");
        let mut command = Command::new(super::cluster::binary());
        command
            .args(["serve", "--listen", &self.addr().to_string()])
            .arg("--config")
            .arg(&self.spec.config)
            .args(&self.spec.extra);
        if let Engine::Redis { url } = &self.spec.engine {
            command
                .args(["--engine", "redis", "--redis-url", url])
                .args(["--node-name", &self.spec.name])
                // Short, so that a dead node's members and registry entry
                // expire within a test (the defaults are 60 s and 30 s).
                .args(["--redis-presence-ttl", PRESENCE_TTL])
                .args(["--redis-node-ttl", NODE_TTL]);
        }
        let child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn switchboard serve");
        self.child = Some(child);
        let addr = self.addr();
        let deadline = tokio::time::Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{} exited with {status} while starting; its log:\n{}",
                    self.spec.name,
                    self.log()
                );
            }
            if matches!(http::get(addr, "/ready").await, Ok(r) if r.status == 200) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} (start {}) did not answer /ready 200 within {READY_DEADLINE:?}; its log:\n{}",
                self.spec.name,
                self.starts,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (the drain), then waits for the exit, bounded by `within`;
    /// returns the exit status.
    pub async fn drain(&mut self, within: Duration) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.spec.name));
        super::signal(child.id(), "TERM");
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not exit within {within:?} of SIGTERM; its log:\n{}",
                    self.spec.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The node's log path, for [`NodeSpec`]s built next to it.
    pub fn log_path(&self) -> &Path {
        &self.spec.log
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
