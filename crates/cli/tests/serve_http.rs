//! Plain HTTP on the WebSocket port: `/healthz` with keep-alive, the page
//! at `/`, 404 elsewhere, and the right refusals on WebSocket paths.

mod common;

use std::io::{Read, Write};

use common::{read_response, request, tcp, Server};

#[test]
fn healthz_answers_ok_twice_on_one_connection() {
    let server = Server::start(&[]);
    let mut stream = tcp(server.addr);
    for _ in 0..2 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let response = read_response(&mut stream);
        assert_eq!(response.status, 200);
        assert_eq!(response.body_text(), "ok");
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
    // Pipelined: two requests in one write, two answers in order.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream).status, 200);
    let last = read_response(&mut stream);
    assert_eq!(last.status, 404);
    assert_eq!(last.header("connection"), Some("close"));
    // After `Connection: close` the server ends the connection.
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn a_request_body_is_skipped_and_the_connection_reused() {
    let server = Server::start(&[]);
    let mut stream = tcp(server.addr);
    stream
        .write_all(b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let refused = read_response(&mut stream);
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("allow"), Some("GET, HEAD"));
    assert_eq!(read_response(&mut stream).body_text(), "ok");
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let server = Server::start(&[]);
    let mut stream = tcp(server.addr);
    stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let response = read_response(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn chat_html_serves_the_native_websocket_chat_page() {
    let server = Server::start(&[]);
    let response = request(server.addr, "GET /chat.html HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = response.body_text();
    assert!(page.starts_with("<!doctype html>"), "{page}");
    assert!(
        page.contains("new WebSocket("),
        "the page opens a WebSocket"
    );
    assert!(page.contains("\"superchat\""), "the page speaks superchat");

    let mut stream = tcp(server.addr);
    stream
        .write_all(
            b"HEAD /chat.html HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .unwrap();
    let head = common::read_response_with(&mut stream, false);
    assert_eq!(head.status, 200);
    // HEAD gets the page's length but no body: the next bytes are the
    // answer to the next request.
    assert_eq!(read_response(&mut stream).body_text(), "ok");
    assert_eq!(
        head.header("content-length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(page.len())
    );
}

#[test]
fn unknown_paths_are_404_for_http_and_upgrades() {
    let server = Server::start(&[]);
    assert_eq!(
        request(server.addr, "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n").status,
        404
    );
    let upgrade = common::upgrade_request("/nope", &[]);
    assert_eq!(request(server.addr, &upgrade).status, 404);
}

#[test]
fn websocket_paths_without_upgrade_get_426() {
    let server = Server::start(&[]);
    for path in ["/echo", "/chat"] {
        let response = request(
            server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n"),
        );
        assert_eq!(response.status, 426, "{path}");
        assert_eq!(response.header("upgrade"), Some("websocket"));
    }
}

#[test]
fn malformed_heads_get_400_and_the_server_keeps_serving() {
    let server = Server::start(&[]);
    let response = request(server.addr, "GET /healthz HTTP/1.1\r\nHost a\r\n\r\n");
    assert_eq!(response.status, 400);
    let too_big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(request(server.addr, &too_big).status, 431);
    assert_eq!(
        request(server.addr, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status,
        200
    );
}
