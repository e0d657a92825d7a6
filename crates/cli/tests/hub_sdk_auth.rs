//! JWT authentication with the official SDKs' own token callbacks
//! (centrifuge-js `getToken`, centrifuge-python `get_token`) against a real
//! `switchboard serve --token-hmac-secret-key`, in JSON and Protobuf.
//!
//! Tokens live 2 s and the server allows 2 s after expiry
//! (`expired_close_delay`), so within the 7 s run the connection and the
//! private-channel subscription are each refreshed several times; a missed
//! refresh would end the connection (3005 / 3006) and fail the test. The
//! first connection token is already expired: the server answers 109 and the
//! SDK must fetch another. `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

const SECRET: &str = "interop-secret";
const CHANNEL: &str = "private:room";
/// Seconds the scripts keep publishing while their tokens expire.
const DURATION_SECS: u64 = 7;
const TOKEN_TTL_SECS: u64 = 2;
/// Bound on one script run.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// True (after saying so) when `SWITCHBOARD_SKIP_INTEROP=1` asks to skip.
fn skip_requested(test: &str) -> bool {
    let skip = std::env::var("SWITCHBOARD_SKIP_INTEROP").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("SKIPPED {test}: SWITCHBOARD_SKIP_INTEROP=1 is set");
    }
    skip
}

/// The events called `name`.
fn named<'a>(events: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> {
    events.iter().filter(move |e| e["event"] == name)
}

#[derive(Clone, Copy, Debug)]
enum Sdk {
    Js,
    Python,
}

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn program(sdk: Sdk) -> (PathBuf, PathBuf) {
    let interop = interop();
    let (program, script) = match sdk {
        Sdk::Js => (PathBuf::from("node"), interop.join("hub/js/auth.mjs")),
        Sdk::Python => (
            interop.join(".venv/bin/python"),
            interop.join("hub/python/auth.py"),
        ),
    };
    let installed = match sdk {
        Sdk::Js => interop.join("node_modules/centrifuge").exists(),
        Sdk::Python => program.exists(),
    };
    assert!(
        installed,
        "SDK missing for {sdk:?}: run `scripts/install-deps.sh` as root, or set \
         SWITCHBOARD_SKIP_INTEROP=1 to skip interop tests"
    );
    (program, script)
}

/// A serve config with the private namespace and a 2 s grace after expiry.
fn config_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "switchboard-hub-sdk-auth-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(
        &path,
        "[hub]\n\
         expired_close_delay = \"2s\"\n\
         expired_sub_close_delay = \"2s\"\n\
         [[hub.namespaces]]\n\
         name = \"private\"\n\
         allow_subscribe_for_client = false\n",
    )
    .unwrap();
    path
}

/// Runs the SDK's auth script to its end; returns its events.
fn run_script(sdk: Sdk, format: &str, url: &str) -> Vec<Value> {
    let (program, script) = program(sdk);
    let mut child = Command::new(&program)
        .arg(&script)
        .args(["--url", url, "--format", format, "--secret", SECRET])
        .args(["--user", "alice", "--channel", CHANNEL])
        .args(["--ttl", &TOKEN_TTL_SECS.to_string()])
        .args(["--duration", &DURATION_SECS.to_string()])
        .args(["--first-token-expired", "1"])
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} ({e})", program.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{sdk:?} {format}: the auth script ran past {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "{sdk:?} {format}: the auth script failed ({status})\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

fn scenario(sdk: Sdk, format: &str) {
    let config = config_file(&format!("{sdk:?}-{format}"));
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--token-hmac-secret-key",
        SECRET,
    ]);
    let events = run_script(sdk, format, &server.ws_url("/connection/websocket"));
    let _ = std::fs::remove_file(&config);
    let show = || {
        events
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };

    // The expired first token was refused with 109 and replaced; after
    // that one connection lasted the whole run.
    let first = named(&events, "token")
        .next()
        .unwrap_or_else(|| panic!("{}", show()));
    assert_eq!(first["expired"], true, "{}", show());
    assert_eq!(named(&events, "connected").count(), 1, "{}", show());
    // Only the script's own disconnect, after `done`.
    let done_at = events.iter().position(|e| e["event"] == "done");
    let before_done = &events[..done_at.unwrap_or_else(|| panic!("no done: {}", show()))];
    assert_eq!(named(before_done, "disconnected").count(), 0, "{}", show());
    assert_eq!(named(&events, "subscribed").count(), 1, "{}", show());
    assert_eq!(named(&events, "unsubscribed").count(), 0, "{}", show());

    // The refresh paths ran: tokens of 2 s over 7 s.
    let done = named(&events, "done")
        .next()
        .unwrap_or_else(|| panic!("{}", show()));
    let connection_tokens = done["connectionTokens"].as_u64().unwrap();
    let subscription_tokens = done["subscriptionTokens"].as_u64().unwrap();
    assert!(
        connection_tokens >= 4,
        "expired + first + 2 refreshes: {}",
        show()
    );
    assert!(subscription_tokens >= 3, "first + 2 refreshes: {}", show());

    // Every publication came back, published under the token's user.
    let published = done["published"].as_u64().unwrap();
    let received: Vec<u64> = named(&events, "publication")
        .map(|e| {
            assert_eq!(e["user"], "alice", "{}", show());
            e["n"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(received, (1..=published).collect::<Vec<_>>(), "{}", show());
    drop(server);
}

#[test]
fn js_json_tokens_refresh_through_get_token() {
    if skip_requested("js_json_tokens_refresh_through_get_token") {
        return;
    }
    scenario(Sdk::Js, "json");
}

#[test]
fn js_protobuf_tokens_refresh_through_get_token() {
    if skip_requested("js_protobuf_tokens_refresh_through_get_token") {
        return;
    }
    scenario(Sdk::Js, "protobuf");
}

#[test]
fn python_json_tokens_refresh_through_get_token() {
    if skip_requested("python_json_tokens_refresh_through_get_token") {
        return;
    }
    scenario(Sdk::Python, "json");
}

#[test]
fn python_protobuf_tokens_refresh_through_get_token() {
    if skip_requested("python_protobuf_tokens_refresh_through_get_token") {
        return;
    }
    scenario(Sdk::Python, "protobuf");
}
