//! Safe by default: the embedded hub accepts anonymous clients, so `serve`
//! refuses to start on an address other than loopback unless that is
//! asked for (`--allow-anonymous`, or `allow_anonymous_connect` written in
//! the config file) or anonymous connections are turned off.
//!
//! The servers here bind 0.0.0.0 but no test sends traffic anywhere: a
//! refused start exits before serving, and a started one is only read
//! from its log, then stopped.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::{binary, listening_addr, TIMEOUT};

/// How a `serve` run began: it announced its address, or it exited.
enum Start {
    Listening,
    Exited { code: Option<i32>, log: String },
}

fn start(args: &[&str]) -> Start {
    let mut child = Command::new(binary())
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchboard serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    loop {
        match lines_rx.recv_timeout(TIMEOUT) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if listening_addr(&line).is_some() {
                    child.kill().expect("stop the server");
                    child.wait().expect("reap the server");
                    return Start::Listening;
                }
            }
            // The pipe closed: the process is exiting.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("reap the server");
                return Start::Exited {
                    code: status.code(),
                    log,
                };
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("serve neither listened nor exited within {TIMEOUT:?}; log:\n{log}");
            }
        }
    }
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

#[test]
fn anonymous_hub_on_a_public_address_refuses_to_start_and_names_the_flag() {
    match start(&["--listen", "0.0.0.0:0"]) {
        Start::Exited { code, log } => {
            assert_ne!(code, Some(0), "{log}");
            assert!(log.contains("--allow-anonymous"), "{log}");
            assert!(log.contains("not a loopback address"), "{log}");
        }
        Start::Listening => panic!("serve started an anonymous hub on 0.0.0.0"),
    }
}

#[test]
fn loopback_needs_nothing() {
    assert!(matches!(
        start(&["--listen", "127.0.0.1:0"]),
        Start::Listening
    ));
}

#[test]
fn a_public_address_starts_when_asked_for_or_when_anonymous_is_off() {
    assert!(matches!(
        // The server API needs a key beyond loopback (hub_cent.rs).
        start(&[
            "--listen",
            "0.0.0.0:0",
            "--allow-anonymous",
            "--api-key",
            "k"
        ]),
        Start::Listening
    ));
    let explicit = config_file("[hub]\nallow_anonymous_connect = true\n");
    let path = explicit.path().to_str().unwrap();
    assert!(matches!(
        start(&["--listen", "0.0.0.0:0", "--api-key", "k", "--config", path]),
        Start::Listening
    ));
    let closed = config_file("[hub]\nallow_anonymous_connect = false\n");
    let path = closed.path().to_str().unwrap();
    assert!(matches!(
        start(&["--listen", "0.0.0.0:0", "--api-key", "k", "--config", path]),
        Start::Listening
    ));
}

#[test]
fn an_invalid_hub_table_is_refused_with_the_key() {
    let file = config_file("[hub.channel]\nhistory_sise = 5\n");
    let path = file.path().to_str().unwrap();
    match start(&["--listen", "127.0.0.1:0", "--config", path]) {
        Start::Exited { code, log } => {
            assert_ne!(code, Some(0), "{log}");
            assert!(log.contains("[hub]"), "{log}");
            assert!(log.contains("history_sise"), "{log}");
        }
        Start::Listening => panic!("serve accepted an unknown [hub] key"),
    }
}
