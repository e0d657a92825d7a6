//! The load generator against real echo servers on 127.0.0.1: a WebSocket
//! echo built on `switchboard-proto` (correct, and one that corrupts some
//! echoes) and a plain TCP echo for `--raw-tcp`. Asserts that messages were
//! exchanged and verified, and that corruption is caught. No timing
//! assertions: durations only bound the runs.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use switchboard_cli::bench::{run, BenchOptions, BenchReport};
use switchboard_proto::handshake::{encode_response, parse_request, UpgradeRequest};
use switchboard_proto::{Config, Connection, Event, Limits, Message, Role};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the test server does with each data message.
#[derive(Clone, Copy, PartialEq)]
enum Echo {
    /// Sends it back unchanged.
    Faithful,
    /// Flips one payload byte of every 5th message.
    Corrupting,
    /// Plain TCP: sends every byte back, no WebSocket at all.
    RawTcp,
}

/// Starts an echo server on its own thread and runtime; returns its address.
fn start_echo_server(echo: Echo) -> SocketAddr {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::task::spawn_local(async move {
                    // A connection's end (or the client's abort) is not a test failure.
                    if echo == Echo::RawTcp {
                        let _ = raw_echo(stream).await;
                    } else {
                        let _ = websocket_echo(stream, echo == Echo::Corrupting).await;
                    }
                });
            }
        });
    });
    addr_rx.recv().unwrap()
}

async fn raw_echo(mut stream: TcpStream) -> std::io::Result<()> {
    let (mut reader, mut writer) = stream.split();
    tokio::io::copy(&mut reader, &mut writer).await.map(drop)
}

async fn websocket_echo(mut stream: TcpStream, corrupt: bool) -> anyhow::Result<()> {
    let limits = Limits::default();
    let mut received = BytesMut::with_capacity(4096);
    let (request, consumed) = loop {
        anyhow::ensure!(
            stream.read_buf(&mut received).await? > 0,
            "eof in handshake"
        );
        if let Some(parsed) = parse_request(&received, &limits)? {
            break parsed;
        }
    };
    let upgrade = UpgradeRequest::from_request(request)?;
    let response = upgrade.accept(None, &[], &http::HeaderMap::new())?;
    let mut head = Vec::new();
    encode_response(&response, &[], &mut head);
    stream.write_all(&head).await?;

    let mut connection = Connection::new(Role::Server, Config::default().ping_interval(None));
    connection.receive(&received[consumed..]);
    let mut count = 0u64;
    loop {
        while let Some(event) = connection.poll_event()? {
            let Event::Message(message) = event else {
                continue;
            };
            let reply = match message {
                Message::Binary(payload) => {
                    count += 1;
                    if corrupt && count % 5 == 0 {
                        let mut altered = payload.to_vec();
                        let middle = altered.len() / 2;
                        altered[middle] ^= 0x20;
                        Message::Binary(Bytes::from(altered))
                    } else {
                        Message::Binary(payload)
                    }
                }
                Message::Text(text) => Message::Text(text),
                _ => continue,
            };
            connection.send(reply)?;
        }
        while connection.transmit_len() > 0 {
            let mut slices = [IoSlice::new(&[]); 16];
            let filled = connection.transmit_slices(&mut slices);
            let written = stream.write_vectored(&slices[..filled]).await?;
            connection.advance_transmit(written);
        }
        let mut room = connection.receive_space_with(16 * 1024);
        if stream.read_buf(&mut room).await? == 0 {
            return Ok(());
        }
    }
}

fn options(url: String) -> BenchOptions {
    let mut options = BenchOptions::new(url);
    options.connections = 4;
    options.in_flight = 4;
    options.payload_size = 64;
    options.warmup = Duration::from_millis(100);
    options.duration = Duration::from_millis(600);
    options.no_progress = true;
    options
}

fn bench(options: BenchOptions) -> BenchReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options)).expect("the run completes")
}

#[test]
fn binary_echoes_over_websocket_are_exchanged_and_verified() {
    let addr = start_echo_server(Echo::Faithful);
    let report = bench(options(format!("ws://{addr}/any/path")));
    assert_eq!(report.mode, "websocket");
    assert_eq!(report.connections_open, 4);
    assert!(report.messages > 0, "{report}");
    assert_eq!(report.bytes, report.messages * 64);
    assert!(report.latency.is_some());
    assert_eq!(report.mismatches, 0, "{report}");
    assert_eq!(report.connection_errors, 0, "{report}");
    assert!(report.is_clean());
}

#[test]
fn text_echoes_with_multibyte_characters_verify() {
    let addr = start_echo_server(Echo::Faithful);
    let mut options = options(format!("ws://{addr}/"));
    options.text = true;
    options.payload_size = 1024;
    let report = bench(options);
    assert!(report.messages > 0, "{report}");
    assert_eq!(report.mismatches, 0, "{report}");
    assert_eq!(report.connection_errors, 0, "{report}");
}

#[test]
fn large_messages_split_across_reads_verify() {
    let addr = start_echo_server(Echo::Faithful);
    let mut options = options(format!("ws://{addr}/"));
    options.connections = 2;
    options.in_flight = 2;
    options.payload_size = 300 * 1024;
    let report = bench(options);
    assert!(report.messages > 0, "{report}");
    assert_eq!(report.mismatches, 0, "{report}");
}

#[test]
fn a_corrupting_server_is_detected() {
    let addr = start_echo_server(Echo::Corrupting);
    let report = bench(options(format!("ws://{addr}/")));
    assert!(report.mismatches > 0, "{report}");
    assert!(!report.is_clean());
    // Four in five echoes are intact and still count.
    assert!(report.messages > 0, "{report}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["mismatches"], report.mismatches);
}

#[test]
fn raw_tcp_mode_sends_frames_without_a_handshake_and_verifies_them() {
    let addr = start_echo_server(Echo::RawTcp);
    let mut options = options(format!("tcp://{addr}/"));
    options.raw_tcp = true;
    let report = bench(options);
    assert_eq!(report.mode, "raw-tcp");
    assert!(report.messages > 0, "{report}");
    assert_eq!(report.mismatches, 0, "{report}");
    assert_eq!(report.connection_errors, 0, "{report}");
}

#[test]
fn a_websocket_run_against_a_raw_echo_fails_the_handshake() {
    // The raw echo sends the GET request back: not a 101 response.
    let addr = start_echo_server(Echo::RawTcp);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime
        .block_on(run(options(format!("ws://{addr}/"))))
        .expect_err("no connection can complete the handshake");
    assert!(format!("{error:#}").contains("handshake"), "{error:#}");
}

#[test]
fn idle_mode_holds_connections_and_signals_readiness() {
    let addr = start_echo_server(Echo::Faithful);
    let ready = std::env::temp_dir().join(format!("bench-ready-{}", std::process::id()));
    let _ = std::fs::remove_file(&ready);
    let mut options = options(format!("ws://{addr}/"));
    options.idle = true;
    options.connections = 20;
    options.duration = Duration::from_millis(200);
    options.ready_file = Some(ready.clone());
    let report = bench(options);
    assert!(report.idle);
    assert_eq!(report.connections_open, 20);
    assert_eq!(report.messages, 0);
    assert_eq!(std::fs::read_to_string(&ready).unwrap().trim(), "20");
    std::fs::remove_file(&ready).unwrap();
}
