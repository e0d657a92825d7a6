//! `switchboard sub` and `switchboard pub` against a real `switchboard
//! serve`: publications printed as JSON lines with their offsets, the
//! publish reply, recovery of every missed publication across a cut
//! connection (once each, in order), and the `could not recover` note when
//! the gap left the history window.

mod common;
// Shared with the SDK tests, which also pause the relay.
#[allow(dead_code)]
#[path = "hub_support/relay.rs"]
mod relay;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{binary, Server, TIMEOUT};
use relay::Relay;

/// A running `switchboard sub` with its output read line by line.
struct Sub {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    notes: Vec<String>,
}

impl Sub {
    fn start(url: &str, channel: &str, count: u64) -> Sub {
        let mut child = Command::new(binary())
            .args(["sub", url, channel, "--count", &count.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchboard sub");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let stderr = lines_of(child.stderr.take().expect("piped stderr"));
        Sub {
            child,
            stdout,
            stderr,
            notes: Vec::new(),
        }
    }

    /// Waits for a standard-error note containing `text`.
    fn wait_note(&mut self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.notes.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("sub never said {text:?}; notes: {:?}", self.notes),
            }
        }
    }

    /// The next publication line.
    fn next_line(&mut self) -> serde_json::Value {
        let line = self
            .stdout
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no publication line; notes: {:?}", self.notes));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
    }

    /// Waits for the exit after `--count` lines; asserts success.
    fn finish(mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(
                    status.success(),
                    "sub exited {status}; notes: {:?}",
                    self.notes
                );
                assert!(self.stdout.try_recv().is_err(), "sub printed extra lines");
                return;
            }
            assert!(Instant::now() < deadline, "sub did not exit after --count");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs `switchboard pub ARGS...`; returns (success, stdout, stderr).
fn publish(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .arg("pub")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run switchboard pub");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn publish_text(url: &str, channel: &str, text: &str) {
    let (ok, stdout, stderr) = publish(&["--text", url, channel, text]);
    assert!(ok, "pub failed: {stderr}");
    let reply: serde_json::Value = serde_json::from_str(stdout.trim()).expect("reply JSON");
    assert!(
        reply.get("publish").is_some(),
        "not a publish reply: {stdout}"
    );
    assert!(reply.get("error").is_none(), "{stdout}");
}

fn assert_publication(line: &serde_json::Value, offset: u64, text: &str) {
    assert_eq!(
        line,
        &serde_json::json!({"channel": "news", "offset": offset, "data": {"text": text}})
    );
}

#[test]
fn sub_prints_publications_with_offsets_and_pub_prints_the_reply() {
    let server = Server::start(&[]);
    let url = format!("ws://{}", server.addr);
    let mut sub = Sub::start(&url, "news", 3);
    sub.wait_note("subscribed to news");
    let (ok, stdout, stderr) = publish(&[&url, "news", r#"{"text":"one"}"#]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"publish\""), "{stdout}");
    publish_text(&server.ws_url("/connection/websocket"), "news", "two");
    publish_text(&url, "news", "three");
    assert_publication(&sub.next_line(), 1, "one");
    assert_publication(&sub.next_line(), 2, "two");
    assert_publication(&sub.next_line(), 3, "three");
    sub.finish();
}

#[test]
fn pub_refuses_data_that_is_not_json_and_says_how_to_fix_it() {
    let server = Server::start(&[]);
    let (ok, _, stderr) = publish(&[&format!("ws://{}", server.addr), "news", "hello"]);
    assert!(!ok);
    assert!(stderr.contains("--text"), "{stderr}");
    let (ok, _, stderr) = publish(&["http://127.0.0.1:1", "news", "1"]);
    assert!(!ok);
    assert!(stderr.contains("ws://"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_recovers_every_missed_publication_once_in_order_after_a_cut() {
    let server = Server::start(&[]);
    let direct = format!("ws://{}", server.addr);
    let relay = Relay::start(server.addr).await;
    let mut sub = Sub::start(&relay.hub_url(), "news", 5);
    sub.wait_note("subscribed to news");
    publish_text(&direct, "news", "before");
    assert_publication(&sub.next_line(), 1, "before");

    relay.cut();
    sub.wait_note("disconnected");
    for text in ["missed-1", "missed-2", "missed-3"] {
        publish_text(&direct, "news", text);
    }
    relay.restore();
    sub.wait_note("recovered 3 missed publications");
    publish_text(&direct, "news", "after");

    assert_publication(&sub.next_line(), 2, "missed-1");
    assert_publication(&sub.next_line(), 3, "missed-2");
    assert_publication(&sub.next_line(), 4, "missed-3");
    assert_publication(&sub.next_line(), 5, "after");
    sub.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_says_it_could_not_recover_a_gap_beyond_the_history_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "[hub.channel]\nhistory_size = 2\n").expect("write config");
    let server = Server::start(&["--config", config.to_str().expect("utf-8 path")]);
    let direct = format!("ws://{}", server.addr);
    let relay = Relay::start(server.addr).await;
    let mut sub = Sub::start(&relay.hub_url(), "news", 2);
    sub.wait_note("subscribed to news");
    publish_text(&direct, "news", "before");
    assert_publication(&sub.next_line(), 1, "before");

    relay.cut();
    sub.wait_note("disconnected");
    for index in 0..4 {
        publish_text(&direct, "news", &format!("lost-{index}"));
    }
    relay.restore();
    let note = sub.wait_note("could not recover news");
    assert!(note.contains("after offset 1"), "{note}");
    assert!(note.contains("offset 5"), "{note}");
    publish_text(&direct, "news", "after");
    assert_publication(&sub.next_line(), 6, "after");
    sub.finish();
}
