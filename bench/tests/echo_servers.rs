//! Starts each echo server binary on a free loopback port and checks that it
//! echoes text, binary and a 1 MiB message and answers a ping (the raw
//! server: that it echoes bytes). Run with `cd bench && cargo test`.
//!
//! uWebSockets' echo example is built by
//! `../shared/anchors/uwebsockets/build.sh` into `target/uwebsockets/` the
//! first time (about a minute; needs g++ and make), or taken from `UWS_ECHO`.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server process that is killed when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `binary` on a free port and waits for its "listening" line
/// ("Listening on port N" for uWebSockets).
fn start(binary: &str) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(binary)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {binary}: {error}"));
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(
        line.to_ascii_lowercase().contains("listening"),
        "{binary} printed {line:?}"
    );
    (server, port)
}

fn check(binary: &str, raw: bool) {
    let (_server, port) = start(binary);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let check = async {
        if raw {
            switchboard_bench::check_raw_echo(port).await
        } else {
            switchboard_bench::check_websocket_echo(port).await
        }
    };
    let summary = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), check).await })
        .expect("the check finishes within 30 s")
        .unwrap_or_else(|error| panic!("{binary}: {error:#}"));
    assert!(summary.starts_with("ok"), "{summary}");
}

#[test]
fn switchboard_echo_works() {
    check(env!("CARGO_BIN_EXE_switchboard-echo"), false);
}

#[test]
fn tungstenite_echo_works() {
    check(env!("CARGO_BIN_EXE_tungstenite-echo"), false);
}

#[test]
fn fastwebsockets_echo_works() {
    check(env!("CARGO_BIN_EXE_fastwebsockets-echo"), false);
}

#[test]
fn tokio_websockets_echo_works() {
    check(env!("CARGO_BIN_EXE_tokio-websockets-echo"), false);
}

#[test]
fn raw_tcp_echo_works() {
    check(env!("CARGO_BIN_EXE_raw-tcp-echo"), true);
}

/// uWebSockets' EchoServer example: `UWS_ECHO`, or built by the anchors'
/// build script into `target/uwebsockets/` if it is not there yet.
fn uws_echo() -> String {
    if let Ok(path) = std::env::var("UWS_ECHO") {
        return path;
    }
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = bench.join("target/uwebsockets");
    let binary = out.join("uws-echo");
    if !binary.exists() {
        let script = bench.join("../../shared/anchors/uwebsockets/build.sh");
        let status = Command::new(&script)
            .arg(&out)
            .status()
            .unwrap_or_else(|error| panic!("running {}: {error}", script.display()));
        assert!(status.success(), "{} failed: {status}", script.display());
    }
    binary.to_string_lossy().into_owned()
}

#[test]
fn uws_echo_works() {
    check(&uws_echo(), false);
}
