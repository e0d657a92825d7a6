//! Autobahn 3.x: RSV1-3 set without a negotiated extension (RFC 6455 §5.2:
//! the receiver MUST fail the connection). The frame with the bits fails
//! with 1002, and nothing after it is processed: a ping that follows is not
//! answered.

mod common;

use common::*;
use switchboard_proto::{Error, ProtocolError};

fn reserved_bits(rsv: u8) -> Error {
    Error::Protocol(ProtocolError::ReservedBits(rsv))
}

#[test]
fn case_3_1_text_with_rsv_1() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.frame(true, 1, OP_TEXT, b"Hello, world!")]);
        outcome.assert_failed(reserved_bits(1));
        assert!(
            outcome.messages().is_empty(),
            "delivered a frame with reserved bits"
        );
        outcome.assert_failed_in_frame(0);
    });
}

/// Cases 3.2-3.4: a valid text, then a text with `rsv`, then a ping. The
/// first text is delivered, the second fails, the ping is never answered.
fn valid_text_then_rsv_then_ping(rsv: u8) {
    for_each_setup(|setup| {
        let frames = [
            setup.text(b"Hello, world!"),
            setup.frame(true, rsv, OP_TEXT, b"Hello, world!"),
            setup.ping(b""),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(reserved_bits(rsv));
        outcome.assert_failed_in_frame(1);
        assert_eq!(
            outcome.messages(),
            vec![text("Hello, world!")],
            "{setup:?} rsv {rsv}"
        );
        assert!(outcome.pongs().is_empty(), "answered a ping after failing");
    });
}

#[test]
fn case_3_2_text_then_text_with_rsv_2_then_ping() {
    valid_text_then_rsv_then_ping(2);
}

#[test]
fn case_3_3_text_then_text_with_rsv_3_then_ping_framewise() {
    valid_text_then_rsv_then_ping(3);
}

#[test]
fn case_3_4_text_then_text_with_rsv_4_then_ping_octetwise() {
    valid_text_then_rsv_then_ping(4);
}

#[test]
fn case_3_5_binary_with_rsv_5() {
    let payload: Vec<u8> = (0..=255u8).collect();
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.frame(true, 5, OP_BINARY, &payload)]);
        outcome.assert_failed(reserved_bits(5));
        assert!(outcome.messages().is_empty());
    });
}

#[test]
fn case_3_6_ping_with_rsv_6_is_not_answered() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.frame(true, 6, OP_PING, b"Hello, world!")]);
        outcome.assert_failed(reserved_bits(6));
        assert!(outcome.messages().is_empty());
        assert!(
            outcome.pongs().is_empty(),
            "answered a ping with reserved bits"
        );
    });
}

#[test]
fn case_3_7_close_with_rsv_7_is_not_echoed() {
    for_each_setup(|setup| {
        let frame = setup.frame(true, 7, OP_CLOSE, &close_payload(1000, b""));
        let outcome = setup.run_chopped(&[frame]);
        // The only close sent is our 1002, not an echo of the peer's 1000.
        outcome.assert_failed(reserved_bits(7));
        assert!(outcome.messages().is_empty());
        assert!(
            outcome.conn.peer_close().is_none(),
            "accepted a close frame with reserved bits"
        );
    });
}

#[test]
fn reserved_bits_on_a_continuation_frame_fail_too() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"frag"),
            setup.frame(true, 4, OP_CONT, b"ment"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(reserved_bits(4));
        outcome.assert_failed_in_frame(1);
        assert!(outcome.messages().is_empty());
    });
}

#[test]
fn every_rsv_combination_on_every_frame_type_fails_with_1002() {
    for_each_setup(|setup| {
        for rsv in 1..=7u8 {
            for opcode in [OP_TEXT, OP_BINARY, OP_PING, OP_PONG, OP_CLOSE] {
                let outcome = setup.run(&[setup.frame(true, rsv, opcode, b"")], Chop::Whole);
                outcome.assert_failed(reserved_bits(rsv));
                assert!(
                    outcome.events.is_empty(),
                    "rsv {rsv} opcode {opcode}: {:?}",
                    outcome.events
                );
            }
        }
    });
}
