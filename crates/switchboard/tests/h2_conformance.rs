//! The RFC 6455 conformance cases that make sense over an HTTP/2 stream
//! (RFC 8441 §5 keeps the framing): fragmentation, UTF-8 validation,
//! masking, the close handshake. A raw HTTP/2 client writes hand-made
//! frames on an extended CONNECT stream to the `h2_support` echo server and
//! reads the server's frames back byte for byte.
#![cfg(all(feature = "hyper", feature = "http2"))]

mod h2_support;

use std::time::Duration;

use bytes::Bytes;
use h2_support::*;
use http_body_util::Empty;
use hyper::client::conn::http2;
use hyper::ext::Protocol;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An accepted WebSocket stream with no WebSocket code on our side.
async fn raw_stream(server: &Server) -> TokioIo<Upgraded> {
    let (mut sender, connection) = http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(tcp(server.addr).await))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = || {
        http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(format!("http://{}/ws", server.addr))
            .header("sec-websocket-version", "13")
            .extension(Protocol::from_static("websocket"))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    // `:protocol` may only be sent once the server's SETTINGS are in.
    for _ in 0..2000 {
        sender.ready().await.unwrap();
        if let Ok(mut response) = sender.send_request(request()).await {
            assert_eq!(response.status(), 200);
            let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
            return TokioIo::new(upgraded);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the server never enabled extended CONNECT");
}

/// A client frame: FIN flag, opcode, masked with an all-zero key (the
/// mask bit is what RFC 6455 §5.3 requires; the key may be anything).
fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut frame = vec![(u8::from(fin) << 7) | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// One short server frame: (first byte, payload).
async fn read_frame(io: &mut TokioIo<Upgraded>) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are never masked");
    let len = usize::from(head[1]);
    assert!(len < 126, "short frames only in these cases");
    let mut payload = vec![0; len];
    io.read_exact(&mut payload).await.unwrap();
    (head[0], payload)
}

/// The server's close frame code, then the end of the stream.
async fn expect_close(io: &mut TokioIo<Upgraded>, code: u16) {
    let (first, payload) = read_frame(io).await;
    assert_eq!(first, 0x88, "a final close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code);
    let mut rest = Vec::new();
    io.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing after the close: {rest:?}");
}

#[tokio::test]
async fn fragments_with_an_interleaved_ping_are_reassembled() {
    bounded(async {
        let server = extended_connect_server().await;
        let mut io = raw_stream(&server).await;
        io.write_all(&masked(false, 0x1, b"frag")).await.unwrap();
        io.write_all(&masked(true, 0x9, b"p")).await.unwrap();
        io.write_all(&masked(false, 0x0, b"men")).await.unwrap();
        io.write_all(&masked(true, 0x0, b"ted")).await.unwrap();
        assert_eq!(read_frame(&mut io).await, (0x8A, b"p".to_vec()), "pong");
        assert_eq!(read_frame(&mut io).await, (0x81, b"fragmented".to_vec()));
        io.write_all(&masked(true, 0x8, &1000u16.to_be_bytes()))
            .await
            .unwrap();
        expect_close(&mut io, 1000).await;
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    bounded(async {
        let server = extended_connect_server().await;
        let mut io = raw_stream(&server).await;
        io.write_all(&masked(true, 0x1, &[b'o', b'k', 0xC3, 0x28]))
            .await
            .unwrap();
        expect_close(&mut io, 1007).await;
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_closes_with_1007() {
    bounded(async {
        let server = extended_connect_server().await;
        let mut io = raw_stream(&server).await;
        // A valid start of a 3-byte sequence, then a byte that cannot follow.
        io.write_all(&masked(false, 0x1, &[0xE2, 0x82]))
            .await
            .unwrap();
        io.write_all(&masked(true, 0x0, &[0x41])).await.unwrap();
        expect_close(&mut io, 1007).await;
    })
    .await;
}

#[tokio::test]
async fn unmasked_client_frames_are_still_a_protocol_error() {
    bounded(async {
        let server = extended_connect_server().await;
        let mut io = raw_stream(&server).await;
        io.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
        expect_close(&mut io, 1002).await;
    })
    .await;
}

#[tokio::test]
async fn a_close_is_answered_and_ends_the_stream() {
    bounded(async {
        let server = extended_connect_server().await;
        let mut io = raw_stream(&server).await;
        let mut close = 4001u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        io.write_all(&masked(true, 0x8, &close)).await.unwrap();
        expect_close(&mut io, 4001).await;
        // The reserved code 1005 may not be sent on the wire.
        let mut io = raw_stream(&server).await;
        io.write_all(&masked(true, 0x8, &1005u16.to_be_bytes()))
            .await
            .unwrap();
        expect_close(&mut io, 1002).await;
    })
    .await;
}
