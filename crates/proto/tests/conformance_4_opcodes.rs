//! Autobahn 4.x: reserved opcodes. Non-control 0x3-0x7 (4.1.x) and control
//! 0xB-0xF (4.2.x) are undefined without an extension (RFC 6455 §5.2: the
//! receiving endpoint MUST fail the connection), so they fail with 1002 and
//! nothing after them is processed.

mod common;

use common::*;
use switchboard_proto::{Error, ProtocolError};

fn reserved_opcode(opcode: u8) -> Error {
    Error::Protocol(ProtocolError::ReservedOpcode(opcode))
}

/// 4.x.1 and 4.x.2: the reserved frame alone, empty or with a payload.
fn reserved_alone(case: &str, opcode: u8, payload: &[u8]) {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.frame(true, 0, opcode, payload)]);
        outcome.assert_failed(reserved_opcode(opcode));
        assert!(
            outcome.events.is_empty(),
            "case {case} {setup:?}: {:?}",
            outcome.events
        );
    });
}

/// 4.x.3 to 4.x.5: a valid text, the reserved frame, then a ping that must
/// not be answered.
fn reserved_between(case: &str, opcode: u8, payload: &[u8]) {
    for_each_setup(|setup| {
        let frames = [
            setup.text(b"Hello, world!"),
            setup.frame(true, 0, opcode, payload),
            setup.ping(b""),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(reserved_opcode(opcode));
        outcome.assert_failed_in_frame(1);
        assert_eq!(
            outcome.messages(),
            vec![text("Hello, world!")],
            "case {case} {setup:?}"
        );
        assert!(
            outcome.pongs().is_empty(),
            "case {case}: answered a ping after failing"
        );
    });
}

#[test]
fn case_4_1_1_opcode_3() {
    reserved_alone("4.1.1", 3, b"");
}

#[test]
fn case_4_1_2_opcode_4_with_payload() {
    reserved_alone("4.1.2", 4, b"reserved opcode payload");
}

#[test]
fn case_4_1_3_text_then_opcode_5_then_ping() {
    reserved_between("4.1.3", 5, b"");
}

#[test]
fn case_4_1_4_text_then_opcode_6_with_payload_then_ping() {
    reserved_between("4.1.4", 6, b"reserved opcode payload");
}

#[test]
fn case_4_1_5_text_then_opcode_7_with_payload_then_ping() {
    reserved_between("4.1.5", 7, b"reserved opcode payload");
}

#[test]
fn case_4_2_1_opcode_11() {
    reserved_alone("4.2.1", 0xB, b"");
}

#[test]
fn case_4_2_2_opcode_12_with_payload() {
    reserved_alone("4.2.2", 0xC, b"reserved opcode payload");
}

#[test]
fn case_4_2_3_text_then_opcode_13_then_ping() {
    reserved_between("4.2.3", 0xD, b"");
}

#[test]
fn case_4_2_4_text_then_opcode_14_with_payload_then_ping() {
    reserved_between("4.2.4", 0xE, b"reserved opcode payload");
}

#[test]
fn case_4_2_5_text_then_opcode_15_with_payload_then_ping() {
    reserved_between("4.2.5", 0xF, b"reserved opcode payload");
}

#[test]
fn reserved_opcode_inside_a_fragmented_message_fails() {
    for_each_setup(|setup| {
        for opcode in [3u8, 7, 0xB, 0xF] {
            let frames = [
                setup.frame(false, 0, OP_TEXT, b"frag"),
                setup.frame(true, 0, opcode, b""),
                setup.cont(true, b"ment"),
            ];
            let outcome = setup.run_chopped(&frames);
            outcome.assert_failed(reserved_opcode(opcode));
            outcome.assert_failed_in_frame(1);
            assert!(outcome.messages().is_empty());
        }
    });
}

#[test]
fn reserved_opcode_with_fin_clear_still_fails_as_reserved() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.frame(false, 0, 0xB, b"")]);
        outcome.assert_failed_with_code(switchboard_proto::CloseCode::PROTOCOL_ERROR);
    });
}
