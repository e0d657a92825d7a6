//! Autobahn 1.x: framing of text (1.1.x) and binary (1.2.x) messages at the
//! payload lengths where the length encoding changes (RFC 6455 §5.2: 7-bit,
//! 16-bit and 64-bit lengths), plus the masking rule each role enforces
//! (RFC 6455 §5.1).

mod common;

use common::*;
use switchboard_proto::{Error, ProtocolError, Role};

/// Payload lengths of cases 1.x.1 to 1.x.7.
const LENGTHS: [usize; 7] = [0, 125, 126, 127, 128, 65535, 65536];

/// Runs one 1.1.x/1.2.x case: a single frame of `len` bytes must come out
/// as one message with the same payload, under every chop pattern.
fn single_frame_case(case: &str, opcode: u8, fill: u8, len: usize) {
    let payload = vec![fill; len];
    for_each_setup(|setup| {
        let frames = [setup.frame(true, 0, opcode, &payload)];
        // Byte-by-byte delivery of 64 KiB is slow in debug builds and adds
        // nothing over 3-byte reads; the 65 KiB cases use coarser chops.
        let outcome = if len > 1024 {
            let reference = setup.run(&frames, Chop::Whole);
            for chop in [Chop::Frames, Chop::Every(997), Chop::Every(4093)] {
                let other = setup.run(&frames, chop);
                assert_eq!(
                    reference.messages(),
                    other.messages(),
                    "case {case} {setup:?} {chop:?}"
                );
                assert_eq!(reference.sent, other.sent, "case {case} {setup:?} {chop:?}");
            }
            reference
        } else {
            setup.run_chopped(&frames)
        };
        outcome.assert_no_error();
        let expected = if opcode == OP_TEXT {
            text(std::str::from_utf8(&payload).unwrap())
        } else {
            binary(&payload)
        };
        assert_eq!(outcome.messages(), vec![expected], "case {case} {setup:?}");
        assert!(
            outcome.sent.is_empty(),
            "case {case}: data needs no reply, sent {:?}",
            outcome.sent
        );
    });
}

#[test]
fn case_1_1_1_to_1_1_7_text_payload_lengths() {
    for (i, len) in LENGTHS.into_iter().enumerate() {
        single_frame_case(&format!("1.1.{}", i + 1), OP_TEXT, b'*', len);
    }
}

#[test]
fn case_1_1_8_text_65536_in_997_byte_chops() {
    let payload = vec![b'*'; 65536];
    for_each_setup(|setup| {
        let outcome = setup.run(&[setup.text(&payload)], Chop::Every(997));
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![text(std::str::from_utf8(&payload).unwrap())]
        );
    });
}

#[test]
fn case_1_2_1_to_1_2_7_binary_payload_lengths() {
    for (i, len) in LENGTHS.into_iter().enumerate() {
        single_frame_case(&format!("1.2.{}", i + 1), OP_BINARY, 0xFE, len);
    }
}

#[test]
fn case_1_2_8_binary_65536_in_997_byte_chops() {
    let payload = vec![0xFE; 65536];
    for_each_setup(|setup| {
        let outcome = setup.run(&[setup.binary(&payload)], Chop::Every(997));
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![binary(&payload)]);
    });
}

#[test]
fn every_byte_value_survives_masking_and_unmasking() {
    // Payload lengths that are not multiples of 4 catch key-offset bugs in
    // word-wise unmasking.
    let payload: Vec<u8> = (0..=255u8).cycle().take(1031).collect();
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.binary(&payload), setup.binary(&payload[..7])]);
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![binary(&payload), binary(&payload[..7])]
        );
    });
}

#[test]
fn many_messages_in_one_read_come_out_in_order() {
    for_each_setup(|setup| {
        let frames: Vec<Vec<u8>> = (0..100u32)
            .map(|i| {
                if i % 2 == 0 {
                    setup.text(i.to_string().as_bytes())
                } else {
                    setup.binary(&i.to_be_bytes())
                }
            })
            .collect();
        let outcome = setup.run(&frames, Chop::Whole);
        outcome.assert_no_error();
        let expected: Vec<_> = (0..100u32)
            .map(|i| {
                if i % 2 == 0 {
                    text(&i.to_string())
                } else {
                    binary(&i.to_be_bytes())
                }
            })
            .collect();
        assert_eq!(outcome.messages(), expected);
    });
}

#[test]
fn server_rejects_unmasked_client_frame_with_1002() {
    // RFC 6455 §5.1: a server MUST close the connection on an unmasked frame.
    for setup in SETUPS.iter().filter(|s| s.role == Role::Server) {
        let frames = [encode_frame(true, 0, OP_TEXT, None, b"Hello")];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::UnmaskedFrame));
        assert!(outcome.messages().is_empty());
    }
}

#[test]
fn client_rejects_masked_server_frame_with_1002() {
    // RFC 6455 §5.1: a client MUST close the connection on a masked frame.
    for setup in SETUPS.iter().filter(|s| s.role == Role::Client) {
        let frames = [encode_frame(true, 0, OP_TEXT, Some([1, 2, 3, 4]), b"Hello")];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::MaskedFrame));
        assert!(outcome.messages().is_empty());
    }
}

#[test]
fn masked_control_frame_from_server_is_rejected_too() {
    for setup in SETUPS.iter().filter(|s| s.role == Role::Client) {
        let frames = [encode_frame(true, 0, OP_PING, Some([9, 8, 7, 6]), b"hi")];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::MaskedFrame));
        assert!(
            outcome.pongs().is_empty(),
            "answered a ping it had to reject"
        );
    }
}

#[test]
fn length_with_most_significant_bit_set_is_rejected() {
    // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    for_each_setup(|setup| {
        let mask = (setup.role == Role::Server).then_some([1, 2, 3, 4]);
        let mut header = encode_header(true, 0, OP_BINARY, mask, 0);
        header[1] = (header[1] & 0x80) | 127;
        header.splice(2..2, (1u64 << 63 | 5).to_be_bytes());
        let outcome = setup.run_chopped(&[header]);
        outcome.assert_failed(Error::Protocol(ProtocolError::InvalidPayloadLength));
    });
}
