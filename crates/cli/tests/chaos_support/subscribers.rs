//! centrifuge-python subscribers (`interop/python/chaos_subscriber.py`):
//! several SDK clients in one process, each subscribed with recovery to one
//! channel through HAProxy, recording every event as a JSON line in a file
//! this side reads.

use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

/// `--lifetime` of the script: it exits by itself even if orphaned.
const SCRIPT_LIFETIME_SECS: u64 = 200;

/// How long every client may take to report its first `subscribed`.
pub const SUBSCRIBE_DEADLINE: Duration = Duration::from_secs(30);

/// The Python interpreter of `interop/.venv`, after checking that
/// centrifuge-python is installed there.
fn python() -> PathBuf {
    let python = super::repo().join("interop/.venv/bin/python");
    let installed = Command::new(&python)
        .args(["-c", "import centrifuge"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "centrifuge-python is missing: {} cannot import centrifuge. Run \
         `scripts/install-deps.sh` as root (it installs interop/python/requirements.txt into \
         interop/.venv), or set SWITCHBOARD_SKIP_INTEROP=1 to skip interop tests.",
        python.display()
    );
    python
}

/// One subscriber process with its clients.
pub struct Subscribers {
    label: String,
    clients: usize,
    child: Child,
    /// Held open: the script exits when it closes.
    stdin: Option<ChildStdin>,
    dir: TempDir,
}

impl Subscribers {
    /// Starts `clients` clients (alternating JSON and Protobuf) subscribing
    /// to `channel` at `url` (`ws://HAPROXY/connection/websocket`).
    pub fn start(label: &str, url: &str, channel: &str, clients: usize) -> Subscribers {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = super::repo().join("interop/python/chaos_subscriber.py");
        let mut child = Command::new(python())
            .arg(&script)
            .args(["--url", url, "--channel", channel])
            .args([
                "--clients",
                &clients.to_string(),
                "--formats",
                "json,protobuf",
            ])
            .args(["--lifetime", &SCRIPT_LIFETIME_SECS.to_string()])
            .arg("--out")
            .arg(dir.path().join("events.jsonl"))
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        Subscribers {
            label: label.to_owned(),
            clients,
            stdin: child.stdin.take(),
            child,
            dir,
        }
    }

    /// Its label, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How many clients it runs.
    pub fn clients(&self) -> usize {
        self.clients
    }

    /// Every event so far of each client, in order, by client index.
    pub fn events(&self) -> Vec<Vec<Value>> {
        let text =
            std::fs::read_to_string(self.dir.path().join("events.jsonl")).unwrap_or_default();
        let mut by_client = vec![Vec::new(); self.clients];
        // A line being written may be incomplete: only whole lines count.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let event: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("{}: not a JSON event line ({e}): {line:?}", self.label)
            });
            let index = event["sub"].as_u64().expect("sub index") as usize;
            by_client[index].push(event);
        }
        by_client
    }

    /// What the script wrote on standard error.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits until every client has been subscribed once.
    pub async fn wait_subscribed(&mut self) {
        let deadline = tokio::time::Instant::now() + SUBSCRIBE_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{}: the subscriber script exited with {status}: {}",
                    self.label,
                    self.stderr()
                );
            }
            let events = self.events();
            if events
                .iter()
                .all(|client| client.iter().any(|e| e["event"] == "subscribed"))
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: not every client subscribed within {SUBSCRIBE_DEADLINE:?}: {events:?}\nstderr: {}",
                self.label,
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGSTOP: the clients stop reading their sockets (and everything else).
    pub fn stop_reading(&self) {
        super::signal(self.child.id(), "STOP");
    }

    /// SIGCONT after [`Subscribers::stop_reading`].
    pub fn resume_reading(&self) {
        super::signal(self.child.id(), "CONT");
    }
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
