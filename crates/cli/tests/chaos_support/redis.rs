//! A `redis-server` that a test restarts on the same port, with or without
//! persistence, and talks to with raw RESP (`CLIENT KILL`, `PING`).

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_testkit::free_port;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const STARTUP_DEADLINE: Duration = Duration::from_secs(10);
const INSTALL_HINT: &str =
    "install it with scripts/install-deps.sh (Debian package redis-server, 7.0 or later)";

/// Whether Redis keeps its data across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--appendonly yes --dir <tmp>`: a clean restart keeps every key.
    AppendOnly,
    /// `--save '' --appendonly no`: a restart loses every key, except
    /// what an explicit `SAVE` wrote to `dump.rdb` (loaded at start).
    None,
}

/// The server process, its port and its data directory.
pub struct RedisServer {
    port: u16,
    persistence: Persistence,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts it on a free 127.0.0.1 port.
    pub fn start(persistence: Persistence) -> Self {
        let mut redis = Self {
            port: free_port(),
            persistence,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        redis.spawn();
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGKILLs it (no chance to write anything) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it with SIGTERM (Redis writes its append-only file and exits)
    /// and waits for the exit, bounded.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        super::signal(child.id(), "TERM");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("try_wait").is_none() {
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("redis-server did not exit within 10 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts it again on the same port, with the same data directory.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is still running");
        self.spawn();
    }

    /// The log redis-server wrote, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--logfile", "redis.log"]);
        match self.persistence {
            Persistence::AppendOnly => command.args(["--save", "", "--appendonly", "yes"]),
            Persistence::None => command.args(["--save", "", "--appendonly", "no"]),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start redis-server ({error}); {INSTALL_HINT}"));
        self.child = Some(child);
        wait_listening(self.addr(), self.dir.path());
    }

    /// Runs one command and returns its reply as text (`+OK` as `OK`, an
    /// integer as its digits, a bulk string as itself); a Redis error is
    /// an `Err`.
    pub async fn command(&self, args: &[&str]) -> Result<String, String> {
        let mut stream = tokio::net::TcpStream::connect(self.addr())
            .await
            .map_err(|e| format!("connect to redis-server: {e}"))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write to redis-server: {e}"))?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read from redis-server: {e}"))?;
        let line = line.trim_end();
        match line.split_at(1) {
            ("+", text) | (":", text) => Ok(text.to_owned()),
            ("-", error) => Err(error.to_owned()),
            ("$", length) => {
                let length: usize = length.parse().map_err(|_| format!("bad reply {line:?}"))?;
                let mut body = vec![0; length + 2];
                reader
                    .read_exact(&mut body)
                    .await
                    .map_err(|e| format!("read from redis-server: {e}"))?;
                body.truncate(length);
                Ok(String::from_utf8_lossy(&body).into_owned())
            }
            _ => Err(format!("unexpected reply {line:?}")),
        }
    }
}

fn wait_listening(addr: SocketAddr, dir: &Path) {
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            started.elapsed() < STARTUP_DEADLINE,
            "redis-server did not listen on {addr} within {STARTUP_DEADLINE:?}; its log:\n{}",
            std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
