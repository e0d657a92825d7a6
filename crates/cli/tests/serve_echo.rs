//! `/echo` on the real binary: text and binary come back unchanged, large
//! messages within the Autobahn-sized limits, and messages sent right
//! before a close are still echoed.

mod common;

use std::io::{Read, Write};

use common::{run_async, Server};
use switchboard::{CloseCode, Message};

#[test]
fn echoes_text_and_binary() {
    let server = Server::start(&[]);
    run_async(async {
        let (mut ws, response) = switchboard::connect(&server.ws_url("/echo")).await.unwrap();
        assert_eq!(response.status(), 101);
        assert!(response.headers().get("sec-websocket-protocol").is_none());
        ws.send(Message::text("hello")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
        let bytes: Vec<u8> = (0..=255u8).collect();
        ws.send(Message::binary(bytes.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(bytes));
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
    });
}

#[test]
fn echoes_a_large_message() {
    let server = Server::start(&[]);
    run_async(async {
        let (mut ws, _) = switchboard::connect(&server.ws_url("/echo")).await.unwrap();
        let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn messages_sent_just_before_the_close_are_echoed_before_the_close() {
    // Raw frames, so the only WebSocket logic under test is the server's.
    let server = Server::start(&[]);
    let mut stream = common::tcp(server.addr);
    stream
        .write_all(common::upgrade_request("/echo", &[]).as_bytes())
        .unwrap();
    let response = common::read_response(&mut stream);
    assert_eq!(response.status, 101);
    let mut burst = Vec::new();
    burst.extend(masked_frame(0x1, b"one"));
    burst.extend(masked_frame(0x2, b"two"));
    burst.extend(masked_frame(0x8, &1000u16.to_be_bytes()));
    stream.write_all(&burst).unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    let mut expected = Vec::new();
    expected.extend([0x81, 3]);
    expected.extend(b"one");
    expected.extend([0x82, 3]);
    expected.extend(b"two");
    expected.extend([0x88, 2, 0x03, 0xe8]);
    assert_eq!(received, expected);
}

/// A final client frame with a fixed mask key, payload under 126 bytes.
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend(key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

#[test]
fn a_message_over_the_limit_closes_with_1009() {
    let server = Server::start(&["--max-message-size", "1KiB"]);
    run_async(async {
        let (mut ws, _) = switchboard::connect(&server.ws_url("/echo")).await.unwrap();
        ws.send(Message::binary(vec![7u8; 1024])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(vec![7u8; 1024])
        );
        // Far over the limit: the server refuses it from the frame header,
        // while most of it is still on the way, and must still get its
        // 1009 across (no reset).
        let _ = ws.send(Message::binary(vec![7u8; 1 << 20])).await;
        match ws.recv().await.unwrap().unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG),
            other => panic!("expected a 1009 close, got {other:?}"),
        }
    });
}
