//! Real proxy daemons from Debian packages, each started on a free
//! 127.0.0.1 port with a config in a temporary directory, and stopped when
//! dropped. Install them with `scripts/install-deps.sh` (or
//! `apt-get install tinyproxy microsocks dante-server`).

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a daemon may take to start listening.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// Attempts, each on a fresh port, in case another process grabbed the
/// port between choosing it and the daemon binding it.
const START_ATTEMPTS: usize = 5;

/// A running proxy daemon.
pub struct ProxyProcess {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: TempDir,
    name: &'static str,
}

impl ProxyProcess {
    /// tinyproxy (HTTP CONNECT). `extra` is appended to a minimal config
    /// (e.g. `BasicAuth alice s3cret`, `ConnectPort 443`).
    pub fn tinyproxy(extra: &str) -> Self {
        Self::start("tinyproxy", |dir, port| {
            let config = dir.join("tinyproxy.conf");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 32\nLogLevel Info\n{extra}\n"
                ),
            )
            .unwrap();
            let mut command = Command::new("tinyproxy");
            command.arg("-d").arg("-c").arg(config);
            command
        })
    }

    /// microsocks (SOCKS5), requiring `user`/`password` when given.
    pub fn microsocks(credentials: Option<(&str, &str)>) -> Self {
        Self::start("microsocks", |_dir, port| {
            let mut command = Command::new("microsocks");
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, password)) = credentials {
                command.args(["-u", user, "-P", password]);
            }
            command
        })
    }

    /// dante (SOCKS5, no authentication) with `socks_rules` (dante
    /// `socks pass/block` blocks) placed before a final catch-all pass.
    pub fn dante(socks_rules: &str) -> Self {
        Self::start("danted", |dir, port| {
            let config = dir.join("danted.conf");
            std::fs::write(
                &config,
                format!(
                    "logoutput: {log}\n\
                     internal: 127.0.0.1 port = {port}\n\
                     external: 127.0.0.1\n\
                     clientmethod: none\n\
                     socksmethod: none\n\
                     user.privileged: root\n\
                     user.unprivileged: nobody\n\
                     client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
                     {socks_rules}\n\
                     socks pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n",
                    log = dir.join("danted.log").display(),
                ),
            )
            .unwrap();
            let mut command = Command::new("danted");
            command.arg("-f").arg(config).args(["-N", "1"]);
            command
        })
    }

    /// The daemon's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Everything the daemon logged so far (for assertion messages).
    pub fn log(&self) -> String {
        let mut log = String::new();
        for name in ["output.log", "danted.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.path().join(name)) {
                log.push_str(&text);
            }
        }
        log
    }

    fn start(name: &'static str, command_for: impl Fn(&Path, u16) -> Command) -> Self {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let output = File::create(dir.path().join("output.log")).unwrap();
            let mut command = command_for(dir.path(), port);
            command
                .stdin(Stdio::null())
                .stdout(output.try_clone().unwrap())
                .stderr(output)
                // Own process group, so dropping stops forked workers too.
                .process_group(0);
            let child = command.spawn().unwrap_or_else(|error| {
                panic!(
                    "cannot start `{name}` ({error}); install the test proxies with \
                     scripts/install-deps.sh or `apt-get install tinyproxy microsocks dante-server`"
                )
            });
            let mut process = Self {
                child,
                port,
                dir,
                name,
            };
            if process.wait_until_listening() {
                return process;
            }
            last_log = process.log();
        }
        panic!("`{name}` did not start listening after {START_ATTEMPTS} attempts; its log:\n{last_log}");
    }

    /// Polls the port until it accepts; `false` if the daemon exited or
    /// the deadline passed.
    fn wait_until_listening(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < STARTUP_DEADLINE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let group = format!("-{pid}");
        // SIGTERM to the main process lets dante's mother stop and reap its
        // workers; then SIGKILL whatever is left in the process group.
        signal("-TERM", &pid);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            sleep(Duration::from_millis(20));
        }
        signal("-KILL", &group);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", target])
        .stderr(Stdio::null())
        .status();
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
