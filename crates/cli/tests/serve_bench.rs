//! `switchboard bench` against `switchboard serve`'s `/echo`, both the real
//! binary: the subcommand is wired and every echo checks out.

mod common;

use std::process::Command;

use common::{binary, Server};

#[test]
fn bench_loads_the_echo_endpoint_without_mismatches() {
    let server = Server::start(&[]);
    let output = Command::new(binary())
        .args([
            "bench", "-c", "4", "-n", "2", "-s", "1KiB", "-d", "300ms", "-w", "0",
        ])
        .args(["--no-progress", "--json", &server.ws_url("/echo")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one line of JSON");
    assert_eq!(report["connections_open"], 4, "{report}");
    assert_eq!(report["mismatches"], 0, "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn bench_against_nothing_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(binary())
        .args([
            "bench",
            "-c",
            "1",
            "-d",
            "100ms",
            "-w",
            "0",
            "--no-progress",
        ])
        .arg(format!("ws://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
}
