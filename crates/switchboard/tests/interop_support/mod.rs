//! Shared harness of the interop tests: starts the third-party peers of
//! `interop/` (Python `websockets`, Node `ws`, headless Chromium) as child
//! processes on 127.0.0.1 and reads the JSON event lines they print
//! (the protocol is specified in `interop/README.md`).
//!
//! A missing peer fails the test with a pointer to `scripts/install-deps.sh`;
//! only `SWITCHBOARD_SKIP_INTEROP=1` skips, and says so.

// Each interop test binary uses a different subset of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchboard_testkit::interop::{self, find_on_path};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub use switchboard_testkit::interop::SKIP_ENV;

/// Bound on one whole interop test; a hang fails instead of blocking CI.
/// Generous because the machine has 2 cores and debug-build deflate of
/// multi-megabyte messages competes with parallel tests.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Bound on waiting for a single event line from a peer.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Close code and reason of the scripted exchange (README "Scripted exchange").
pub const SCRIPT_CLOSE_CODE: u16 = 4000;
/// See [`SCRIPT_CLOSE_CODE`].
pub const SCRIPT_CLOSE_REASON: &str = "bye-interop";

pub use switchboard_testkit::interop::skip_requested;

/// Like [`run`], but one test at a time per test binary. Chromium tests use
/// it: several browsers starting at once on a 2-core machine only slow each
/// other down towards the timeout. The wait for the turn is not counted
/// against [`TEST_TIMEOUT`]; each holder is bounded by it.
pub fn run_exclusive<F: std::future::Future<Output = ()>>(body: F) {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed while holding the turn poisons the lock; the next one may still run.
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    run(body);
}

/// Runs `body` on a fresh multi-threaded runtime, failing after [`TEST_TIMEOUT`].
pub fn run<F: std::future::Future<Output = ()>>(body: F) {
    switchboard_testkit::interop::run_bounded(TEST_TIMEOUT, "interop test", body);
}

// ------------------------------------------------------------------ peers

/// Which third-party implementation a [`Peer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// `interop/python/peer.py` on the `websockets` library.
    Python,
    /// `interop/node/peer.js` on the `ws` library.
    Node,
    /// `interop/browser/run.js`: Debian's Chromium, client only.
    Chromium,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "interop peer missing: {what} ({} does not exist). Run `scripts/install-deps.sh` \
         as root to install the interop peers, or set {SKIP_ENV}=1 to skip interop tests.",
        path.display()
    );
}

impl PeerKind {
    /// The program and the arguments that come before the mode, after
    /// checking that everything the peer needs is installed.
    fn command_prefix(self) -> (PathBuf, Vec<PathBuf>) {
        let interop = repo_root().join("interop");
        match self {
            PeerKind::Python => {
                let python = interop.join(".venv/bin/python");
                require(&python, "Python venv with websockets");
                let script = interop.join("python/peer.py");
                require(&script, "the Python peer");
                (python, vec![script])
            }
            PeerKind::Node | PeerKind::Chromium => {
                let node = find_on_path("node").unwrap_or_else(|| {
                    panic!(
                        "interop peer missing: `node` is not on PATH. Run `scripts/install-deps.sh` \
                         as root, or set {SKIP_ENV}=1 to skip interop tests."
                    )
                });
                require(&interop.join("node_modules/ws"), "npm package ws");
                if self == PeerKind::Node {
                    (node, vec![interop.join("node/peer.js")])
                } else {
                    require(
                        &interop.join("node_modules/playwright-core"),
                        "npm package playwright-core",
                    );
                    require(Path::new("/usr/bin/chromium"), "Debian package chromium");
                    (node, vec![interop.join("browser/run.js")])
                }
            }
        }
    }
}

/// A running peer process. Dropping it kills the peer's whole process group
/// (Chromium's helpers included).
pub struct Peer {
    name: String,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    /// Every event read so far, in order.
    pub events: Vec<Value>,
}

impl Peer {
    fn spawn(kind: PeerKind, mode_args: &[String]) -> Peer {
        let (program, prefix) = kind.command_prefix();
        let mut command = Command::new(&program);
        command
            .args(&prefix)
            .args(mode_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Own process group, so Drop can kill Chromium's children too.
            .process_group(0);
        let name = format!("{kind:?} {}", mode_args.join(" "));
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = interop::collect_text(child.stderr.take().expect("piped stderr"));
        Peer {
            name,
            child,
            lines: BufReader::new(stdout).lines(),
            stderr,
            events: Vec::new(),
        }
    }

    /// Starts `kind` in server mode on an ephemeral loopback port and waits
    /// for its `LISTENING <port>` line. `extra` are peer options (e.g. `--deflate`).
    pub async fn server(kind: PeerKind, extra: &[&str]) -> (Peer, u16) {
        assert_ne!(
            kind,
            PeerKind::Chromium,
            "a browser cannot be a WebSocket server"
        );
        let mut args: Vec<String> = ["server", "--port", "0", "--lifetime", "330"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut peer = Peer::spawn(kind, &args);
        let line = peer.next_line().await;
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| peer.fail(&format!("expected `LISTENING <port>`, got {line:?}")));
        (peer, port)
    }

    /// Starts `kind` in client mode against `url`. `extra` are client options
    /// (`--script`, `--after`, `--close-code`, ...).
    pub fn client(kind: PeerKind, url: &str, extra: &[&str]) -> Peer {
        let mut args: Vec<String> = Vec::new();
        if kind != PeerKind::Chromium {
            args.push("client".into());
        }
        args.extend([
            "--url".to_string(),
            url.to_string(),
            "--timeout".into(),
            "280".into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Peer::spawn(kind, &args)
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Panics with everything the peer said, so a failure explains itself.
    pub fn fail(&self, what: &str) -> ! {
        let events: Vec<String> = self.events.iter().map(Value::to_string).collect();
        panic!(
            "{}: {what}\n--- events so far:\n{}\n--- stderr:\n{}",
            self.name,
            events.join("\n"),
            self.stderr_text()
        )
    }

    async fn next_line(&mut self) -> String {
        match tokio::time::timeout(EVENT_TIMEOUT, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                // Give the stderr reader a moment to collect the peer's last words.
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.fail("peer exited (stdout closed) before the expected event")
            }
            Ok(Err(e)) => self.fail(&format!("reading peer stdout: {e}")),
            Err(_) => self.fail(&format!("no event within {EVENT_TIMEOUT:?}")),
        }
    }

    /// The next event line, parsed.
    pub async fn next_event(&mut self) -> Value {
        let line = self.next_line().await;
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| self.fail(&format!("not a JSON event line ({e}): {line:?}")));
        self.events.push(event.clone());
        event
    }

    /// Reads events until one named `name` arrives and returns it; the
    /// skipped ones stay in [`Peer::events`].
    pub async fn wait_for(&mut self, name: &str) -> Value {
        loop {
            let event = self.next_event().await;
            if event["event"] == name {
                return event;
            }
            if event["event"] == "error" || event["event"] == "mismatch" {
                self.fail(&format!(
                    "peer reported a failure while waiting for `{name}`"
                ));
            }
        }
    }

    /// The events named `name` read so far.
    pub fn seen(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }

    /// Waits for the peer process to exit (bounded by [`EVENT_TIMEOUT`]).
    pub async fn wait_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(EVENT_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => self.fail(&format!("waiting for exit: {e}")),
            Err(_) => self.fail("peer did not exit"),
        }
    }

    /// For a client peer: reads to its final `done` line, asserts it reported
    /// success and exited with status 0.
    pub async fn expect_success(&mut self) {
        let done = self.wait_for("done").await;
        if done["ok"] != true {
            self.fail("peer reported failure");
        }
        let status = self.wait_exit().await;
        if !status.success() {
            self.fail(&format!("peer exited with {status}"));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The child leads its own process group (process_group(0) above),
            // so its group id is its pid.
            // SAFETY: killpg takes two integers and touches no memory of ours;
            // the group holds only processes this Peer started.
            unsafe {
                libc::killpg(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

// ------------------------------------------------------------- the script

/// Byte i = (i*31 + 7) & 0xff (README "Scripted exchange").
pub fn binary_pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(7) & 0xff) as u8)
        .collect()
}

/// `ab✓🎉cdefghi` (16 UTF-8 bytes) repeated; `len` is a multiple of 16.
pub fn text_pattern(len: usize) -> String {
    assert_eq!(
        len % 16,
        0,
        "text pattern lengths are multiples of 16 bytes"
    );
    "ab\u{2713}\u{1F389}cdefghi".repeat(len / 16)
}

/// Lower-case hex SHA-256, as the peers print it.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One data message of the scripted exchange.
#[derive(Debug, Clone)]
pub struct ScriptMessage {
    /// Step number, 1-based, as the peers print it.
    pub step: usize,
    /// Text or binary.
    pub is_text: bool,
    /// The payload bytes (UTF-8 for text).
    pub payload: Vec<u8>,
    /// How the peers that control framing split it (one piece when unfragmented).
    pub fragments: Vec<Vec<u8>>,
}

/// Steps 1–7 of the scripted exchange (step 8 is the ping `ping-1`).
pub fn script_messages() -> Vec<ScriptMessage> {
    let whole = |step, is_text, payload: Vec<u8>| ScriptMessage {
        step,
        is_text,
        fragments: vec![payload.clone()],
        payload,
    };
    let fragmented_text = "fragmented text \u{2713} message \u{1F389}"
        .as_bytes()
        .to_vec();
    let all_bytes: Vec<u8> = (0..=255).collect();
    vec![
        whole(1, true, b"hello".to_vec()),
        whole(
            2,
            true,
            "h\u{e9}llo w\u{f6}rld \u{2713} \u{1F389}"
                .as_bytes()
                .to_vec(),
        ),
        whole(3, false, all_bytes.clone()),
        whole(4, false, binary_pattern(4 * 1024 * 1024)),
        whole(5, true, text_pattern(2 * 1024 * 1024).into_bytes()),
        ScriptMessage {
            step: 6,
            is_text: true,
            // Cuts inside `✓` and inside `🎉`, like the Node peer.
            fragments: vec![
                fragmented_text[..17].to_vec(),
                fragmented_text[17..30].to_vec(),
                fragmented_text[30..].to_vec(),
            ],
            payload: fragmented_text,
        },
        ScriptMessage {
            step: 7,
            is_text: false,
            fragments: vec![
                all_bytes[..100].to_vec(),
                all_bytes[100..200].to_vec(),
                all_bytes[200..].to_vec(),
            ],
            payload: all_bytes,
        },
    ]
}

/// Payload of the scripted ping (step 8).
pub const SCRIPT_PING: &str = "ping-1";

/// Asserts that a peer `message`/`sent` event describes exactly this payload.
pub fn assert_describes(peer: &Peer, event: &Value, is_text: bool, payload: &[u8]) {
    let kind = if is_text { "text" } else { "binary" };
    let ok = event["type"] == kind
        && event["len"] == payload.len()
        && event["sha256"] == sha256_hex(payload);
    if !ok {
        peer.fail(&format!(
            "event {event} does not describe the expected {kind} message of {} bytes (sha256 {})",
            payload.len(),
            sha256_hex(payload)
        ));
    }
}

/// Asserts the peer's `close` event: what it received and what it sent.
pub fn assert_close(peer: &Peer, event: &Value, received: (u16, &str), sent: Option<(u16, &str)>) {
    let sent_ok = match sent {
        Some((code, reason)) => event["sent_code"] == code && event["sent_reason"] == reason,
        None => event["sent_code"].is_null(),
    };
    if event["code"] != received.0 || event["reason"] != received.1 || !sent_ok {
        peer.fail(&format!(
            "close event {event}: expected received {received:?} and sent {sent:?}"
        ));
    }
}

/// The interop scenarios, run by every interop test binary.
pub mod scenarios;

/// The permessage-deflate scenarios.
pub mod deflate;
