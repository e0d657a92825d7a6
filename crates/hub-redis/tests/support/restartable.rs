//! A `redis-server` that a test can kill and start again on the same port,
//! with no persistence: after a restart every key and every loaded script
//! is gone, as in production without persistence.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_testkit::free_port;
use tempfile::TempDir;

/// How long `redis-server` may take to listen.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// The server process and its port.
pub struct RestartableRedis {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RestartableRedis {
    /// Starts it on a free port.
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.spawn();
        redis
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start redis-server ({error}); install it with scripts/install-deps.sh"
                )
            });
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < STARTUP_DEADLINE,
                "redis-server did not listen on {} in time",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RestartableRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
