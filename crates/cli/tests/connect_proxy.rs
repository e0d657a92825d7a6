//! `connect --proxy` / proxy environment variables / `--no-proxy`, through
//! a minimal HTTP CONNECT proxy run by the test.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;

use common::{binary, connect, finish, Server, TIMEOUT};

/// An HTTP CONNECT proxy for one connection: reports the request line,
/// then tunnels both ways (or refuses with 403 when `refuse`).
fn one_shot_proxy(refuse: bool) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        client.set_read_timeout(Some(TIMEOUT)).unwrap();
        // Byte by byte, so nothing after the head is swallowed.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte).unwrap() == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let request_line = head.lines().next().unwrap().to_owned();
        seen_tx.send(request_line.clone()).unwrap();
        if refuse {
            client
                .write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
            return;
        }
        let target = request_line.split(' ').nth(1).unwrap().to_owned();
        let upstream = TcpStream::connect(target).unwrap();
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .unwrap();
        client.set_read_timeout(None).unwrap();
        let (mut client_read, mut upstream_write) =
            (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        let (mut upstream_read, mut client_write) = (upstream, client);
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut client_read, &mut upstream_write);
            let _ = upstream_write.shutdown(std::net::Shutdown::Write);
        });
        let _ = std::io::copy(&mut upstream_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Write);
        let _ = up.join();
    });
    (addr, seen_rx)
}

#[test]
fn an_explicit_proxy_tunnels_the_session() {
    let server = Server::start(&[]);
    let (proxy, seen) = one_shot_proxy(false);
    let done = connect(
        &[
            "--proxy",
            &format!("http://{proxy}"),
            &server.ws_url("/echo"),
        ],
        b"via proxy\n",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "via proxy\n");
    assert_eq!(
        seen.recv_timeout(TIMEOUT).unwrap(),
        format!("CONNECT {} HTTP/1.1", server.addr)
    );
}

#[test]
fn a_refusing_proxy_is_a_handshake_failure_and_a_bad_proxy_url_is_usage() {
    let server = Server::start(&[]);
    let (proxy, seen) = one_shot_proxy(true);
    let done = connect(
        &[
            "--proxy",
            &format!("http://{proxy}"),
            &server.ws_url("/echo"),
        ],
        b"",
    );
    assert_eq!(done.code, Some(3), "stderr: {}", done.stderr);
    assert!(seen.recv_timeout(TIMEOUT).unwrap().starts_with("CONNECT "));

    let done = connect(&["--proxy", "gopher://x", &server.ws_url("/echo")], b"");
    assert_eq!(done.code, Some(2), "stderr: {}", done.stderr);
}

#[test]
fn the_environment_proxy_applies_unless_no_proxy() {
    let server = Server::start(&[]);
    let (proxy, seen) = one_shot_proxy(false);
    let run = |extra: &[&str]| {
        let mut child = Command::new(binary());
        for variable in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
            child
                .env_remove(variable)
                .env_remove(variable.to_ascii_uppercase());
        }
        let mut child = child
            .env("http_proxy", format!("http://{proxy}"))
            .arg("connect")
            .args(extra)
            .arg(server.ws_url("/echo"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
        finish(child)
    };
    let direct = run(&["--no-proxy"]);
    assert_eq!(direct.code, Some(0), "stderr: {}", direct.stderr);
    assert_eq!(direct.stdout, "hi\n");
    assert!(
        seen.try_recv().is_err(),
        "--no-proxy went through the proxy"
    );

    let proxied = run(&[]);
    assert_eq!(proxied.code, Some(0), "stderr: {}", proxied.stderr);
    assert_eq!(proxied.stdout, "hi\n");
    assert!(seen.recv_timeout(TIMEOUT).unwrap().starts_with("CONNECT "));
}
