//! Third-party daemons (proxies, reverse proxies) run by tests as child
//! processes on free 127.0.0.1 ports, each with its files in a temporary
//! directory, and stopped when dropped.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a daemon may take to listen on all its ports.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// Attempts, each with fresh ports, in case another process takes a port
/// between our choosing it and the daemon binding it.
const START_ATTEMPTS: usize = 5;

/// The file in the daemon's directory that receives its stdout and stderr.
const OUTPUT_LOG: &str = "output.log";

/// What a test needs to know to launch a daemon and report on it.
pub struct DaemonSpec<'a> {
    /// The program's name, for failure messages.
    pub name: &'a str,
    /// How many free 127.0.0.1 ports it listens on.
    pub ports: usize,
    /// Log files the daemon writes into its directory besides its output;
    /// [`Daemon::log`] includes them.
    pub log_files: &'a [&'a str],
    /// What to tell the user when the program cannot be started.
    pub install_hint: &'a str,
}

/// A running daemon, in its own process group so that dropping it also
/// stops the workers it forked.
pub struct Daemon {
    child: Child,
    ports: Vec<u16>,
    dir: TempDir,
    log_files: Vec<String>,
}

impl Daemon {
    /// Starts the daemon and waits until it listens on every port.
    /// `command_for` writes any config into the directory it is given and
    /// returns the command line that runs the daemon in the foreground on
    /// the given ports.
    pub fn start(spec: &DaemonSpec, command_for: impl Fn(&Path, &[u16]) -> Command) -> Self {
        let name = spec.name;
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().unwrap();
            let ports: Vec<u16> = (0..spec.ports).map(|_| free_port()).collect();
            let output = File::create(dir.path().join(OUTPUT_LOG)).unwrap();
            let mut command = command_for(dir.path(), &ports);
            command
                .stdin(Stdio::null())
                .stdout(output.try_clone().unwrap())
                .stderr(output)
                .process_group(0);
            let child = command.spawn().unwrap_or_else(|error| {
                panic!("cannot start `{name}` ({error}); {}", spec.install_hint)
            });
            let mut daemon = Self {
                child,
                ports,
                dir,
                log_files: spec.log_files.iter().map(|&file| file.to_owned()).collect(),
            };
            if daemon.wait_until_listening() {
                return daemon;
            }
            last_log = daemon.log();
        }
        panic!("`{name}` did not start listening after {START_ATTEMPTS} attempts; its log:\n{last_log}");
    }

    /// The ports it listens on, in the order given to `command_for`.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Everything the daemon wrote so far (output, then its log files), for
    /// assertion messages.
    pub fn log(&self) -> String {
        let mut log = String::new();
        let files = std::iter::once(OUTPUT_LOG).chain(self.log_files.iter().map(String::as_str));
        for name in files {
            if let Ok(text) = std::fs::read_to_string(self.dir.path().join(name)) {
                log.push_str(&text);
            }
        }
        log
    }

    /// Polls every port; `false` if the daemon exited or the deadline passed.
    fn wait_until_listening(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < STARTUP_DEADLINE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            let listening = self.ports.iter().all(|&port| {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            });
            if listening {
                // A port someone else holds also accepts: make sure the
                // daemon did not exit over a bind failure meanwhile.
                sleep(Duration::from_millis(50));
                return matches!(self.child.try_wait(), Ok(None));
            }
            sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        // SIGTERM to the main process lets a master (dante's mother, nginx)
        // stop and reap its workers; then SIGKILL whatever is left in the
        // process group.
        signal("-TERM", &pid);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            sleep(Duration::from_millis(20));
        }
        signal("-KILL", &format!("-{pid}"));
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

/// A port that was free a moment ago on 127.0.0.1 (and that nothing listens
/// on, unless another process took it since).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
