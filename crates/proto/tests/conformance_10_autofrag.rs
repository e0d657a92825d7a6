//! Autobahn 10.1.1: a 65536-byte message sent with automatic fragmentation.
//! With `Config::max_outgoing_frame_size` set, the connection splits each
//! outgoing data message into frames no larger than that; a peer reassembles
//! them into the same message (RFC 6455 §5.4).

mod common;

use common::*;
use switchboard_proto::{Config, Connection, Delivery, Message};

const FRAME_SIZE: usize = 1300;

/// Sends `message` from a connection in `setup.role` with auto-fragmentation
/// and returns the decoded frames.
fn send_and_decode(
    setup: &Setup,
    frame_size: Option<usize>,
    message: Message,
) -> (Vec<u8>, Vec<WireFrame>) {
    let config = test_config(Delivery::Messages).max_outgoing_frame_size(frame_size);
    let mut conn = Connection::new(setup.role, config);
    conn.send(message).expect("send");
    let bytes = drain_transmit(&mut conn);
    let frames = decode_frames(&bytes, setup.role);
    (bytes, frames)
}

/// Checks the frames carry `payload` in order, each at most `frame_size`
/// bytes. Binary (and ASCII text) must use as few frames as possible; text
/// may be cut earlier, at character boundaries, so only a lower bound holds.
fn assert_fragmented(frames: &[WireFrame], opcode: u8, payload: &[u8], frame_size: usize) {
    let fewest = payload.len().div_ceil(frame_size);
    if opcode == OP_BINARY || payload.is_ascii() {
        assert_eq!(frames.len(), fewest, "frame count");
    } else {
        assert!(
            frames.len() >= fewest,
            "frame count {} below {fewest}",
            frames.len()
        );
    }
    for (i, frame) in frames.iter().enumerate() {
        let last = i + 1 == frames.len();
        assert_eq!(
            frame.opcode,
            if i == 0 { opcode } else { OP_CONT },
            "frame {i} opcode"
        );
        assert_eq!(frame.fin, last, "frame {i} FIN");
        assert_eq!(frame.rsv, 0);
        assert!(
            !frame.payload.is_empty() && frame.payload.len() <= frame_size,
            "frame {i}: {} bytes",
            frame.payload.len()
        );
    }
    let joined: Vec<u8> = frames
        .iter()
        .flat_map(|f| f.payload.iter().copied())
        .collect();
    assert!(
        joined == payload,
        "fragments do not reassemble to the message"
    );
}

#[test]
fn case_10_1_1_text_65536_auto_fragmented_into_1300_byte_frames() {
    let payload = "*".repeat(65536);
    for setup in SETUPS.iter().take(2) {
        let (bytes, frames) =
            send_and_decode(setup, Some(FRAME_SIZE), Message::text(payload.as_str()));
        assert_fragmented(&frames, OP_TEXT, payload.as_bytes(), FRAME_SIZE);

        // The peer, in both delivery modes, gets the one message back.
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            let peer = Setup {
                role: peer_of(setup.role),
                delivery,
            };
            let outcome = feed(
                peer.connection(),
                peer.role,
                std::slice::from_ref(&bytes),
                Chop::Every(4096),
            );
            outcome.assert_no_error();
            assert_eq!(outcome.messages(), vec![text(&payload)]);
        }
    }
}

#[test]
fn case_10_1_1_extra_binary_and_multibyte_text_at_odd_frame_sizes() {
    // Text split inside multi-byte characters must still reassemble.
    let text_payload = "€𝄞µ".repeat(5000);
    let binary_payload: Vec<u8> = (0..65536u32).map(|i| (i % 253) as u8).collect();
    for setup in SETUPS.iter().take(2) {
        for size in [1, 7, 125, 126, 65535, 65536] {
            let (bytes, frames) =
                send_and_decode(setup, Some(size), Message::binary(binary_payload.clone()));
            assert_fragmented(&frames, OP_BINARY, &binary_payload, size);
            let peer = Setup {
                role: peer_of(setup.role),
                delivery: Delivery::Messages,
            };
            let outcome = feed(peer.connection(), peer.role, &[bytes], Chop::Whole);
            assert_eq!(
                outcome.messages(),
                vec![binary(&binary_payload)],
                "size {size}"
            );

            let (bytes, frames) =
                send_and_decode(setup, Some(size), Message::text(text_payload.as_str()));
            assert_fragmented(&frames, OP_TEXT, text_payload.as_bytes(), size);
            let outcome = feed(peer.connection(), peer.role, &[bytes], Chop::Whole);
            outcome.assert_no_error();
            assert_eq!(outcome.messages(), vec![text(&text_payload)], "size {size}");
        }
    }
}

#[test]
fn without_a_frame_size_each_message_is_one_frame() {
    let payload = vec![9u8; 65536];
    for setup in SETUPS.iter().take(2) {
        let (_, frames) = send_and_decode(setup, None, Message::binary(payload.clone()));
        assert_eq!(frames.len(), 1);
        assert!(frames[0].fin);
        assert_eq!(frames[0].opcode, OP_BINARY);
        assert!(frames[0].payload == payload);
    }
}

#[test]
fn control_frames_are_never_fragmented() {
    // RFC 6455 §5.5: control frames MUST NOT be fragmented, whatever the
    // configured frame size.
    for setup in SETUPS.iter().take(2) {
        let config = Config::default()
            .ping_interval(None)
            .max_outgoing_frame_size(Some(4));
        let mut conn = Connection::new(setup.role, config);
        conn.send(Message::Ping(bytes::Bytes::from_static(b"ping payload")))
            .unwrap();
        conn.send(Message::Pong(bytes::Bytes::from_static(b"pong payload")))
            .unwrap();
        conn.close(
            std::time::Instant::now(),
            Some(switchboard_proto::CloseFrame::new(1000, "closing now")),
        )
        .unwrap();
        let frames = decode_frames(&drain_transmit(&mut conn), setup.role);
        assert_eq!(frames.len(), 3, "{frames:?}");
        assert!(frames.iter().all(|f| f.fin));
        assert_eq!(frames[0].payload, b"ping payload");
        assert_eq!(frames[1].payload, b"pong payload");
        assert_eq!(frames[2].close_code(), Some(1000));
    }
}

#[test]
fn empty_message_is_one_empty_frame_even_with_a_frame_size() {
    for setup in SETUPS.iter().take(2) {
        let (_, frames) = send_and_decode(setup, Some(FRAME_SIZE), Message::text(""));
        assert_eq!(frames.len(), 1);
        assert!(frames[0].fin && frames[0].payload.is_empty() && frames[0].opcode == OP_TEXT);
    }
}
