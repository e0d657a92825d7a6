//! An official Centrifugo SDK (centrifuge-js in Node, centrifuge-python) as a
//! child process running `interop/hub/{js,python}/scenario.*`: commands go in
//! as JSON lines on stdin, events come back as JSON lines on stdout
//! (interop/hub/README.md).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use switchboard_testkit::interop::{self, find_on_path};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::{EVENT_TIMEOUT, SCRIPT_LIFETIME_SECS, SKIP_ENV};

/// Set (to anything) to print every SDK event as it arrives (with `--nocapture`).
pub const TRACE_ENV: &str = "SWITCHBOARD_HUB_SDK_TRACE";

/// Which SDK runs the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    /// npm `centrifuge` under Node (`interop/hub/js/scenario.mjs`).
    Js,
    /// PyPI `centrifuge-python` in `interop/.venv` (`interop/hub/python/scenario.py`).
    Python,
}

/// The protocol form the SDK speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Newline-delimited JSON text frames.
    Json,
    /// Varint-delimited Protobuf binary frames (`centrifuge-protobuf`).
    Protobuf,
}

impl Format {
    fn flag(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Protobuf => "protobuf",
        }
    }
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "SDK missing: {what} ({} does not exist). Run `scripts/install-deps.sh` as root to \
         install the interop peers and SDKs, or set {SKIP_ENV}=1 to skip interop tests.",
        path.display()
    );
}

impl Sdk {
    /// The interpreter and script, after checking the SDK is installed.
    fn command(self) -> (PathBuf, PathBuf) {
        let interop = interop_dir();
        match self {
            Sdk::Js => {
                let node = find_on_path("node").unwrap_or_else(|| {
                    panic!(
                        "SDK missing: `node` is not on PATH. Run `scripts/install-deps.sh` as \
                         root, or set {SKIP_ENV}=1 to skip interop tests."
                    )
                });
                require(
                    &interop.join("node_modules/centrifuge"),
                    "npm package centrifuge",
                );
                require(&interop.join("node_modules/ws"), "npm package ws");
                let script = interop.join("hub/js/scenario.mjs");
                require(&script, "the centrifuge-js scenario");
                (node, script)
            }
            Sdk::Python => {
                let python = interop.join(".venv/bin/python");
                require(&python, "Python venv");
                let installed = std::process::Command::new(&python)
                    .args(["-c", "import centrifuge"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(
                    installed,
                    "SDK missing: centrifuge-python is not installed in {}. Run \
                     `scripts/install-deps.sh` as root, or set {SKIP_ENV}=1 to skip interop tests.",
                    python.display()
                );
                let script = interop.join("hub/python/scenario.py");
                require(&script, "the centrifuge-python scenario");
                (python, script)
            }
        }
    }
}

/// One running SDK client.
pub struct SdkClient {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
    next_id: u64,
    /// Every event read so far, in order.
    pub events: Vec<Value>,
}

impl SdkClient {
    /// Starts `sdk` against `url` (`ws://ADDR/connection/websocket`) in `format`,
    /// named `label` in failure messages, and sends `connect`.
    pub async fn connect(sdk: Sdk, format: Format, url: &str, label: &str) -> SdkClient {
        let mut client = SdkClient::spawn(sdk, format, url, label);
        client.command(json!({"cmd": "connect"})).await;
        client
    }

    fn spawn(sdk: Sdk, format: Format, url: &str, label: &str) -> SdkClient {
        let (program, script) = sdk.command();
        let mut child = Command::new(&program)
            .arg(&script)
            .args(["--url", url, "--format", format.flag()])
            .args(["--lifetime", &SCRIPT_LIFETIME_SECS.to_string()])
            .args(["--min-reconnect-ms", "50", "--max-reconnect-ms", "300"])
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e})", program.display()));
        let name = format!("{label} ({sdk:?}, {format:?})");
        // Read stdout continuously: an SDK blocked on a full pipe would stop
        // reading its socket, which the slow-consumer test must control alone.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = interop::collect_text(child.stderr.take().expect("piped stderr"));
        SdkClient {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            next_id: 1,
            events: Vec::new(),
        }
    }

    /// Panics with everything the SDK said, so a failure explains itself.
    pub fn fail(&self, what: &str) -> ! {
        let events: Vec<String> = self.events.iter().map(Value::to_string).collect();
        let shown = if events.len() > 400 {
            let mut kept = events[..100].to_vec();
            kept.push(format!("... {} events left out ...", events.len() - 400));
            kept.extend_from_slice(&events[events.len() - 300..]);
            kept
        } else {
            events
        };
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        panic!(
            "{}: {what}\n--- events so far:\n{}\n--- stderr:\n{stderr}",
            self.name,
            shown.join("\n")
        )
    }

    /// Writes one command; returns its id, which its result event carries.
    pub async fn send(&mut self, mut command: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        command["id"] = json!(id);
        let line = format!("{command}\n");
        let Some(stdin) = self.stdin.as_mut() else {
            self.fail("stdin already closed")
        };
        if let Err(e) = stdin.write_all(line.as_bytes()).await {
            self.fail(&format!("writing command {command}: {e}"));
        }
        id
    }

    /// Sends `command` and waits for its result event; a `command_error`
    /// fails the test with the SDK's error.
    pub async fn command(&mut self, command: Value) -> Value {
        let id = self.send(command.clone()).await;
        self.result(id).await
    }

    /// Waits for the result event of command `id` (sent with [`SdkClient::send`]).
    pub async fn result(&mut self, id: u64) -> Value {
        let event = self
            .wait_for(&format!("result of command {id}"), |e| e["id"] == id)
            .await;
        if event["event"] == "command_error" {
            self.fail(&format!("command {id} failed: {event}"));
        }
        event
    }

    /// Sends `command` and returns the `command_error` it must end with.
    pub async fn command_fails(&mut self, command: Value) -> Value {
        let id = self.send(command.clone()).await;
        let event = self
            .wait_for(&format!("result of command {id}"), |e| e["id"] == id)
            .await;
        if event["event"] != "command_error" {
            self.fail(&format!(
                "command {command} should have failed, got {event}"
            ));
        }
        event
    }

    /// The next event, parsed, failing once `deadline` has passed.
    async fn next_event_before(&mut self, deadline: tokio::time::Instant, what: &str) -> Value {
        let line = match tokio::time::timeout_at(deadline, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                self.fail(&format!(
                    "the SDK exited (stdout closed) while waiting for {what}"
                ))
            }
            Err(_) => self.fail(&format!("no {what} within {EVENT_TIMEOUT:?}")),
        };
        if std::env::var_os(TRACE_ENV).is_some() {
            eprintln!("{}: {line}", self.name);
        }
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| self.fail(&format!("not a JSON event line ({e}): {line:?}")));
        self.events.push(event.clone());
        event
    }

    /// Reads new events until one matches `wanted` (described as `what`) and
    /// returns it; fails after [`EVENT_TIMEOUT`] in all.
    pub async fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let event = self.next_event_before(deadline, what).await;
            if wanted(&event) {
                return event;
            }
            if event["event"] == "done" {
                self.fail(&format!("the SDK ended while waiting for {what}"));
            }
        }
    }

    /// Like [`SdkClient::wait_for`], but an event already read counts too.
    pub async fn wait_seen(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(event) = self.events.iter().find(|e| wanted(e)) {
            return event.clone();
        }
        self.wait_for(what, wanted).await
    }

    /// Events named `name` read so far.
    pub fn seen(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }

    /// The client id of the first `connected` event.
    pub fn client_id(&self) -> String {
        match self.seen("connected").first() {
            Some(event) => event["client"].as_str().unwrap_or_default().to_owned(),
            None => self.fail("no `connected` event yet"),
        }
    }

    /// Sends `exit`, reads to `done` and asserts the process exits with 0.
    pub async fn exit(mut self) -> Vec<Value> {
        self.send(json!({"cmd": "exit"})).await;
        self.wait_for("done", |e| e["event"] == "done").await;
        self.stdin = None;
        match tokio::time::timeout(EVENT_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => self.fail(&format!("the SDK exited with {status}")),
            Ok(Err(e)) => self.fail(&format!("waiting for exit: {e}")),
            Err(_) => self.fail("the SDK did not exit"),
        }
        std::mem::take(&mut self.events)
    }
}
