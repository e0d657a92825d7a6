//! The hub demo page (`/`, built into web/dist by scripts/build-web.sh) in
//! Debian's headless Chromium, driven by interop/browser/hub.js: two pages
//! chat; one goes offline (DevTools network emulation) while the other keeps
//! sending; back online it shows every missed message once, in order, with
//! the "recovered" notice, or, past a 5-message history window, "could not
//! recover" and the reloaded history. Over ws:// and over wss:// (the test
//! CA's leaf trusted by its SPKI hash). No console errors, failed requests
//! or HTTP errors are allowed. Needs `scripts/install-deps.sh` (Chromium,
//! playwright-core, and the built page); `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod browser_support;
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use browser_support::assert_no_page_problems;
use common::{request, Server};
use serde_json::Value;
use switchboard_testkit::pki::TestPki;

const SKIP_ENV: &str = "SWITCHBOARD_SKIP_INTEROP";

fn skip_requested(test: &str) -> bool {
    let skip = std::env::var(SKIP_ENV).is_ok_and(|v| v == "1");
    if skip {
        eprintln!("SKIPPED {test}: {SKIP_ENV}=1 is set");
    }
    skip
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// web/dist, built by scripts/build-web.sh when missing.
fn web_root() -> PathBuf {
    let dist = repo().join("web/dist");
    if !dist.join("index.html").is_file() {
        let status = Command::new(repo().join("scripts/build-web.sh"))
            .status()
            .expect("run scripts/build-web.sh");
        assert!(
            status.success(),
            "scripts/build-web.sh failed: run scripts/install-deps.sh (as root) to install node, npm and the page"
        );
    }
    dist
}

/// Runs hub.js against `base`; returns its result line.
fn drive(base: &str, missed: u32, trust_cert: Option<&Path>, screenshot: &Path) -> Value {
    let interop = repo().join("interop");
    assert!(
        interop.join("node_modules/playwright-core").is_dir(),
        "playwright-core missing: run scripts/install-deps.sh (as root)"
    );
    let mut command = Command::new("node");
    command
        .current_dir(&interop)
        .arg("browser/hub.js")
        .args([
            "--base",
            base,
            "--missed",
            &missed.to_string(),
            "--timeout",
            "90",
        ])
        .arg("--screenshot")
        .arg(screenshot)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(cert) = trust_cert {
        command.arg("--trust-cert").arg(cert);
    }
    let output = command.output().expect("run node interop/browser/hub.js");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let result: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("hub.js printed {stdout:?}: {e}"));
    assert_eq!(result["ok"], true, "hub.js failed: {result}");
    result
}

fn texts(messages: &Value) -> Vec<(u64, String)> {
    messages
        .as_array()
        .expect("a message list")
        .iter()
        .map(|m| {
            (
                m["offset"].as_u64().expect("offset"),
                m["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect()
}

fn numbered(first: u64, texts: &[String]) -> Vec<(u64, String)> {
    (first..).zip(texts.iter().cloned()).collect()
}

/// No problem at all (see [`assert_no_page_problems`]), and the states the
/// offline test walks through.
fn assert_clean(result: &Value) {
    assert_no_page_problems(result);
    assert_eq!(result["presenceBefore"], 2, "{result}");
    assert_eq!(result["stateOffline"], "connecting", "{result}");
    assert_eq!(result["stateAfter"], "connected", "{result}");
}

fn missed_texts(count: u32) -> Vec<String> {
    (1..=count).map(|i| format!("missed {i}")).collect()
}

/// Every missed message once, in order, with the recovered notice.
fn recovers(base: &str, trust_cert: Option<&Path>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let screenshot = dir.path().join("hub-demo.png");
    let result = drive(base, 5, trust_cert, &screenshot);
    assert_clean(&result);
    let mut expected = vec!["hello from bob".to_owned(), "hi bob".to_owned()];
    expected.extend(missed_texts(5));
    expected.push("after".to_owned());
    assert_eq!(texts(&result["alice"]), numbered(1, &expected), "{result}");
    assert_eq!(texts(&result["bob"]), numbered(1, &expected), "{result}");
    assert_eq!(result["notice"]["kind"], "recovered", "{result}");
    assert_eq!(result["notice"]["text"], "recovered 5 missed messages");
    keep_screenshot(&screenshot);
}

/// Past the history window: the could-not-recover notice and the reloaded
/// history (the last 5 publications, then the live one).
fn cannot_recover(base: &str, trust_cert: Option<&Path>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let screenshot = dir.path().join("hub-demo-lost.png");
    let result = drive(base, 8, trust_cert, &screenshot);
    assert_clean(&result);
    assert_eq!(result["notice"]["kind"], "lost", "{result}");
    assert_eq!(
        result["notice"]["text"],
        "could not recover: history reloaded"
    );
    let missed = missed_texts(8);
    // offsets: 1 hello, 2 hi, 3..=10 missed 1..8, 11 after; history keeps 6..=10.
    let mut expected = numbered(6, &missed[3..]);
    expected.push((11, "after".to_owned()));
    assert_eq!(texts(&result["alice"]), expected, "{result}");
    keep_screenshot(&screenshot);
}

/// Copies the screenshot to $SWITCHBOARD_SCREENSHOT_DIR when set (to look
/// at it); asserts it is a PNG.
fn keep_screenshot(path: &Path) {
    let bytes = std::fs::read(path).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    if let Ok(dir) = std::env::var("SWITCHBOARD_SCREENSHOT_DIR") {
        let target = Path::new(&dir).join(path.file_name().expect("file name"));
        std::fs::write(&target, &bytes).expect("copy the screenshot");
        eprintln!("screenshot: {}", target.display());
    }
}

fn small_history_config(dir: &Path) -> PathBuf {
    let config = dir.join("serve.toml");
    let mut file = std::fs::File::create(&config).expect("config file");
    file.write_all(b"[hub.channel]\nhistory_size = 5\n")
        .expect("write config");
    config
}

fn serve(extra: &[&str]) -> Server {
    let root = web_root();
    let mut args = vec!["--web-root", root.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn ws_page_recovers_every_missed_message_once_in_order() {
    if skip_requested("ws_page_recovers_every_missed_message_once_in_order") {
        return;
    }
    let server = serve(&[]);
    let base = format!("http://{}", server.addr);
    recovers(&base, None);
}

#[test]
fn ws_page_past_the_history_window_reloads_the_history() {
    if skip_requested("ws_page_past_the_history_window_reloads_the_history") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = small_history_config(dir.path());
    let server = serve(&["--config", config.to_str().expect("utf-8 path")]);
    let base = format!("http://{}", server.addr);
    cannot_recover(&base, None);
}

fn tls_args(pki: &TestPki) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        pki.chain_path().display().to_string(),
        "--tls-key".into(),
        pki.key_path().display().to_string(),
    ]
}

#[test]
fn wss_page_recovers_every_missed_message_once_in_order() {
    if skip_requested("wss_page_recovers_every_missed_message_once_in_order") {
        return;
    }
    let pki = TestPki::new();
    let args = tls_args(&pki);
    let server = serve(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    recovers(&base, Some(&pki.chain_path()));
}

#[test]
fn wss_page_past_the_history_window_reloads_the_history() {
    if skip_requested("wss_page_past_the_history_window_reloads_the_history") {
        return;
    }
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = small_history_config(dir.path());
    let mut args = tls_args(&pki);
    args.extend(["--config".into(), config.display().to_string()]);
    let server = serve(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    cannot_recover(&base, Some(&pki.chain_path()));
}

#[test]
fn without_built_assets_root_says_how_to_build_them_and_chat_html_still_works() {
    let empty = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&["--web-root", empty.path().to_str().expect("utf-8 path")]);
    let root = request(server.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(root.status, 200);
    let page = root.body_text();
    assert!(page.contains("scripts/build-web.sh"), "{page}");
    assert!(page.contains("/chat.html"), "{page}");
    let chat = request(server.addr, "GET /chat.html HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(chat.status, 200);
    assert!(chat.body_text().contains("new WebSocket("));
    let icon = request(server.addr, "GET /favicon.ico HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    let asset = request(
        server.addr,
        "GET /assets/app.js HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(asset.status, 404);
    assert!(asset.body_text().contains("scripts/build-web.sh"));
}

#[test]
fn built_assets_are_served_with_their_types_and_no_path_escapes() {
    let server = serve(&[]);
    let root = request(server.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(root.status, 200);
    assert!(root.body_text().contains("/assets/centrifuge.js"));
    let sdk = request(
        server.addr,
        "GET /assets/centrifuge.js HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(sdk.status, 200);
    assert_eq!(
        sdk.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let escape = request(
        server.addr,
        "GET /assets/..%2f..%2fCargo.toml HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(escape.status, 404);
}
