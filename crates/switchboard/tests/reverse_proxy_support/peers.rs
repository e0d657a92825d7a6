//! The third-party client: the Python `websockets` peer from `interop/`
//! (see `interop/README.md`), run as a child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::SKIP_ENV;

/// Where the interop peers live: `$SWITCHBOARD_INTEROP_DIR`, or `interop/`
/// at the workspace root.
pub fn interop_dir() -> PathBuf {
    match std::env::var_os("SWITCHBOARD_INTEROP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop"),
    }
}

/// What a finished peer printed.
#[derive(Debug)]
pub struct PeerRun {
    /// Its exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Its stdout: one JSON event per line.
    pub stdout: String,
    /// Its stderr: diagnostics.
    pub stderr: String,
}

impl PeerRun {
    /// The lines whose `event` is `event`.
    pub fn events(&self, event: &str) -> Vec<&str> {
        let tag = format!("\"event\":\"{event}\"");
        self.stdout
            .lines()
            .filter(|line| line.contains(&tag))
            .collect()
    }
}

/// Runs `peer.py client --url <url>` (the full scripted exchange, then a
/// close with 4000), trusting `ca_file` for `wss://`. Killed if it runs
/// longer than `limit`.
pub async fn run_python_client(url: &str, ca_file: Option<&Path>, limit: Duration) -> PeerRun {
    let dir = interop_dir();
    let python = dir.join(".venv/bin/python");
    let script = dir.join("python/peer.py");
    assert!(
        python.is_file() && script.is_file(),
        "the Python interop peer is missing ({} or {}); run scripts/install-deps.sh as root, \
         point SWITCHBOARD_INTEROP_DIR at an interop/ directory that has it, or set {SKIP_ENV}=1",
        python.display(),
        script.display()
    );
    let mut command = Command::new(python);
    command
        .arg(script)
        .args(["client", "--url", url, "--timeout"])
        .arg(limit.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // websockets 15+ honours proxy variables; this traffic must stay direct.
    for variable in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        command.env_remove(variable);
    }
    command.env("no_proxy", "*").env("NO_PROXY", "*");
    if let Some(ca_file) = ca_file {
        // Python's default SSL context reads its trust store from here.
        command.env("SSL_CERT_FILE", ca_file);
    }
    let mut child = command.spawn().expect("cannot start the Python peer");
    // Read both pipes as the peer writes, so a peer that overruns its time
    // still shows what it got through.
    let stdout = tokio::spawn(read_all(child.stdout.take().unwrap()));
    let stderr = tokio::spawn(read_all(child.stderr.take().unwrap()));
    let status = tokio::time::timeout(limit + Duration::from_secs(5), child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }
    let run = PeerRun {
        code: status
            .as_ref()
            .ok()
            .and_then(|status| status.as_ref().ok())
            .and_then(|status| status.code()),
        stdout: stdout.await.unwrap(),
        stderr: stderr.await.unwrap(),
    };
    assert!(
        status.is_ok(),
        "the Python peer at {url} did not finish within {limit:?}; it printed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

async fn read_all(mut pipe: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut bytes = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}
