//! `switchboard connect` in pipe mode against `switchboard serve`, both
//! the real binary.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{connect, spawn_connect, Server, TIMEOUT};

#[test]
fn lines_are_echoed_and_end_of_input_closes_cleanly() {
    let server = Server::start(&[]);
    let done = connect(
        &[&server.ws_url("/echo")],
        "hello\nwörld\r\n\nlast line\n".as_bytes(),
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "hello\nwörld\n\nlast line\n");
    assert!(
        done.stderr.contains("closed: 1000 \"\""),
        "stderr: {}",
        done.stderr
    );
}

#[test]
fn binary_lines_come_back_as_hex() {
    let server = Server::start(&[]);
    let done = connect(&["--binary", &server.ws_url("/echo")], b"hi\n\xff\x00\n");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "6869\nff00\n");
}

#[test]
fn text_lines_that_are_not_utf8_are_not_sent() {
    let server = Server::start(&[]);
    let done = connect(&[&server.ws_url("/echo")], b"ok\n\xff\nalso ok\n");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "ok\nalso ok\n");
    assert!(done.stderr.contains("--binary"), "stderr: {}", done.stderr);
}

#[test]
fn chat_with_a_subprotocol_relays_lines() {
    let server = Server::start(&[]);
    let done = connect(
        &["--subprotocol", "chat", &server.ws_url("/chat")],
        b"hi all\n",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "hi all\n");
}

#[test]
fn a_refused_handshake_exits_3_with_the_status() {
    let server = Server::start(&["--origin", "https://good.example"]);
    let done = connect(&[&server.ws_url("/chat")], b"");
    assert_eq!(done.code, Some(3));
    assert!(done.stderr.contains("HTTP 400"), "stderr: {}", done.stderr);

    let done = connect(
        &["--origin", "https://evil.example", &server.ws_url("/echo")],
        b"",
    );
    assert_eq!(done.code, Some(3));
    assert!(done.stderr.contains("HTTP 403"), "stderr: {}", done.stderr);

    let done = connect(
        &["--origin", "https://good.example", &server.ws_url("/echo")],
        b"x\n",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "x\n");
}

#[test]
fn an_unreachable_server_exits_3_and_a_bad_url_exits_2() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let done = connect(&[&format!("ws://127.0.0.1:{port}/echo")], b"");
    assert_eq!(done.code, Some(3), "stderr: {}", done.stderr);
    assert!(
        done.stderr.contains("handshake failed"),
        "stderr: {}",
        done.stderr
    );

    let done = connect(&["ftp://127.0.0.1:1/echo"], b"");
    assert_eq!(done.code, Some(2), "stderr: {}", done.stderr);
    let done = connect(&["-H", "no colon", "ws://127.0.0.1:1/"], b"");
    assert_eq!(done.code, Some(2), "stderr: {}", done.stderr);
}

#[test]
fn extra_headers_are_sent() {
    // A one-shot raw listener records the request head and refuses it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (head_tx, head_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        stream
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 7\r\nConnection: close\r\n\r\nwho are")
            .unwrap();
        head_tx.send(head).unwrap();
    });
    let done = connect(
        &[
            "-H",
            "Authorization: Bearer t0ken",
            "-H",
            "X-Trace:  42 ",
            "--subprotocol",
            "a",
            "--subprotocol",
            "b",
            &format!("ws://{addr}/x"),
        ],
        b"",
    );
    let head = head_rx.recv_timeout(TIMEOUT).unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer t0ken\r\n"), "{head}");
    assert!(head.contains("x-trace: 42\r\n"), "{head}");
    assert!(head.contains("sec-websocket-protocol: a, b\r\n"), "{head}");
    assert_eq!(done.code, Some(3));
    assert!(
        done.stderr.contains("HTTP 401 Unauthorized: who are"),
        "stderr: {}",
        done.stderr
    );
}

#[test]
fn pings_show_pongs_and_a_server_shutdown_exits_6_with_1001() {
    let mut server = Server::start(&[]);
    let mut child = spawn_connect(&["--ping", "100ms", &server.ws_url("/echo")]);
    // Keep standard input open so the session only ends from the server.
    let stdin = child.stdin.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let first = line_rx.recv_timeout(TIMEOUT).expect("a pong line");
    assert_eq!(first, "< pong \"1\"");
    server.signal("TERM");
    let mut closed = None;
    while let Ok(line) = line_rx.recv_timeout(TIMEOUT) {
        if line.starts_with("closed:") {
            closed = Some(line);
            break;
        }
    }
    assert_eq!(
        closed.as_deref(),
        Some("closed: 1001 \"server shutting down\"")
    );
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "connect did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(6));
    drop(stdin);
    assert_eq!(server.wait_exit(TIMEOUT).code(), Some(0));
}
