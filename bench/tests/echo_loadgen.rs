//! echo-loadgen against real servers: it counts echoes from a correct
//! WebSocket echo and a raw TCP echo, and a server that corrupts data
//! cannot score (every run is bounded by its duration plus set-up).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// A server process that is killed when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(binary: &str) -> (Server, u16) {
    let port = free_port();
    let mut child = Command::new(binary)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {binary}: {error}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{binary} printed {line:?}");
    (Server(child), port)
}

/// Runs the load generator for 0.3 s and returns its JSON report.
fn loadgen(url: &str, extra: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_echo-loadgen"))
        .args([url, "-d", "0.3", "-w", "0.1", "--json"])
        .args(extra)
        .output()
        .expect("echo-loadgen runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

fn assert_clean_and_counted(report: &serde_json::Value) {
    assert_eq!(report["mismatches"], 0, "{report}");
    assert_eq!(report["connection_errors"], 0, "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");
    assert!(report["content_checked"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn counts_verified_echoes_of_every_size_and_kind() {
    let (server, port) = start(env!("CARGO_BIN_EXE_switchboard-echo"));
    let url = format!("ws://127.0.0.1:{port}/bench");
    let pid = server.0.id().to_string();
    for load in [
        &["-c", "4", "-s", "16", "-n", "8"][..],
        &["-c", "4", "-s", "1KiB", "-n", "8", "--text"],
        &["-c", "2", "-s", "64KiB", "-n", "2", "--spin"],
        &["-c", "2", "-s", "1MiB", "-n", "1", "--check-every", "2"],
        &["-c", "2", "-s", "64KiB", "-n", "2", "--read-all"],
    ] {
        let report = loadgen(&url, &[load, &["--server-pid", &pid]].concat());
        assert_clean_and_counted(&report);
        assert!(report["server_cpu"].as_f64().unwrap() > 0.0, "{report}");
        assert!(
            report["load_generator_cpu"].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
}

#[test]
fn raw_tcp_mode_checks_the_masked_bytes_that_come_back() {
    let (_server, port) = start(env!("CARGO_BIN_EXE_raw-tcp-echo"));
    let url = format!("tcp://127.0.0.1:{port}/");
    for size in ["16", "64KiB"] {
        let report = loadgen(&url, &["--raw-tcp", "-c", "2", "-s", size, "-n", "2"]);
        assert_clean_and_counted(&report);
    }
}

#[test]
fn a_server_that_corrupts_data_does_not_score() {
    // A raw "echo" that flips a bit in the last byte of everything it sends back.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    buffer[n - 1] ^= 1;
                    if stream.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let report = loadgen(
        &format!("tcp://127.0.0.1:{port}/"),
        &[
            "--raw-tcp",
            "-c",
            "1",
            "-s",
            "16",
            "-n",
            "1",
            "--check-every",
            "1",
        ],
    );
    assert_eq!(report["mismatches"], 1, "{report}");
    assert_eq!(report["messages"], 0, "{report}");
    assert!(
        report["first_error"]
            .as_str()
            .unwrap()
            .contains("payload differs"),
        "{report}"
    );
}
