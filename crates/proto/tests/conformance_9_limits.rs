//! Autobahn 9.x: large messages, in one frame (9.1.x text, 9.2.x binary),
//! in many fragments (9.3.x, 9.4.x) and in many small reads (9.5.x, 9.6.x),
//! up to the 16 MiB the default [`Limits`] admit; and the 1009 failures
//! when a small `Limits` is exceeded (RFC 6455 §7.4.1).

mod common;

use common::*;
use switchboard_proto::{Error, LimitError, Limits};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Text payload of `len` bytes: ASCII with a few multi-byte characters so
/// UTF-8 validation does real work, cut so the length is exact.
fn text_payload(len: usize) -> Vec<u8> {
    let unit = "*µ€𝄞 Hello, world! ".as_bytes();
    let mut payload: Vec<u8> = unit.iter().copied().cycle().take(len).collect();
    // Keep it valid: pad the tail (which may have cut a character) with ASCII.
    while std::str::from_utf8(&payload).is_err() {
        let at = payload.len() - 1;
        let cut = (0..=at)
            .rev()
            .find(|&i| std::str::from_utf8(&payload[..i]).is_ok())
            .unwrap();
        for byte in &mut payload[cut..] {
            *byte = b'*';
        }
    }
    payload
}

fn binary_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Runs `frames` fed in reads of `read_size` and checks one message came out.
fn assert_single_message(
    setup: &Setup,
    frames: &[Vec<u8>],
    read_size: usize,
    opcode: u8,
    payload: &[u8],
    case: &str,
) {
    let outcome = setup.run(frames, Chop::Every(read_size));
    outcome.assert_no_error();
    let messages = outcome.messages();
    assert_eq!(messages.len(), 1, "case {case} {setup:?}");
    let expected = if opcode == OP_TEXT {
        text(std::str::from_utf8(payload).unwrap())
    } else {
        binary(payload)
    };
    // Compare without printing megabytes on failure.
    assert!(
        messages[0] == expected,
        "case {case} {setup:?}: reassembled message differs"
    );
}

#[test]
fn case_9_1_and_9_2_single_frame_up_to_16_mib() {
    for (i, len) in [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB]
        .into_iter()
        .enumerate()
    {
        for (group, opcode) in [("9.1", OP_TEXT), ("9.2", OP_BINARY)] {
            let payload = if opcode == OP_TEXT {
                text_payload(len)
            } else {
                binary_payload(len)
            };
            for setup in SETUPS.iter().take(2) {
                let frames = [setup.frame(true, 0, opcode, &payload)];
                assert_single_message(
                    setup,
                    &frames,
                    256 * KIB,
                    opcode,
                    &payload,
                    &format!("{group}.{}", i + 1),
                );
            }
        }
    }
}

#[test]
fn case_9_3_and_9_4_four_mib_in_fragments_of_64_b_to_4_mib() {
    let sizes = [
        64,
        256,
        KIB,
        4 * KIB,
        16 * KIB,
        64 * KIB,
        256 * KIB,
        MIB,
        4 * MIB,
    ];
    for (group, opcode) in [("9.3", OP_TEXT), ("9.4", OP_BINARY)] {
        let payload = if opcode == OP_TEXT {
            text_payload(4 * MIB)
        } else {
            binary_payload(4 * MIB)
        };
        for (i, size) in sizes.into_iter().enumerate() {
            for setup in &SETUPS {
                let frames = setup.chunked(opcode, &payload, size);
                assert_eq!(frames.len(), (4 * MIB).div_ceil(size));
                assert_single_message(
                    setup,
                    &frames,
                    64 * KIB,
                    opcode,
                    &payload,
                    &format!("{group}.{}", i + 1),
                );
            }
        }
    }
}

#[test]
fn case_9_5_and_9_6_one_mib_frame_in_small_reads() {
    // Autobahn sends 1 MiB messages in chops of 64 B to 128 KiB.
    let chops = [64, 128, 256, 512, KIB, 128 * KIB];
    for (group, opcode) in [("9.5", OP_TEXT), ("9.6", OP_BINARY)] {
        let payload = if opcode == OP_TEXT {
            text_payload(MIB)
        } else {
            binary_payload(MIB)
        };
        for (i, chop) in chops.into_iter().enumerate() {
            for setup in SETUPS.iter().take(2) {
                let frames = [setup.frame(true, 0, opcode, &payload)];
                assert_single_message(
                    setup,
                    &frames,
                    chop,
                    opcode,
                    &payload,
                    &format!("{group}.{}", i + 1),
                );
            }
        }
    }
}

#[test]
fn case_9_7_and_9_8_thousand_small_messages() {
    for setup in &SETUPS {
        let text_frames: Vec<Vec<u8>> = (0..1000)
            .map(|i| setup.text(format!("message {i}").as_bytes()))
            .collect();
        let outcome = setup.run(&text_frames, Chop::Every(4096));
        outcome.assert_no_error();
        let expected: Vec<_> = (0..1000).map(|i| text(&format!("message {i}"))).collect();
        assert_eq!(outcome.messages(), expected);
    }
}

#[test]
fn frame_at_the_frame_limit_passes_one_byte_over_fails_with_1009() {
    let limits = Limits::default()
        .max_frame_size(1024)
        .max_message_size(4096);
    for_each_setup(|setup| {
        let ok = setup.run_with(
            limits.clone(),
            &[setup.binary(&[7; 1024])],
            Chop::Every(100),
        );
        ok.assert_no_error();
        assert_eq!(ok.messages(), vec![binary(&[7; 1024])]);

        let outcome = setup.run_with(
            limits.clone(),
            &[setup.binary(&[7; 1025])],
            Chop::Every(100),
        );
        outcome.assert_failed(Error::Limit(LimitError::FrameTooLarge {
            size: 1025,
            max: 1024,
        }));
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn oversized_frame_fails_on_its_header_before_the_payload_arrives() {
    // A peer announcing a huge frame must not make us wait for (or buffer)
    // the payload: the header alone decides.
    let limits = Limits::default().max_frame_size(1024);
    for_each_setup(|setup| {
        for declared in [1025u64, 65536, 1 << 40, (1 << 63) - 1] {
            let mask = (setup.role == switchboard_proto::Role::Server).then_some([1, 2, 3, 4]);
            let header = encode_header(true, 0, OP_BINARY, mask, declared);
            let mut conn = setup.connection_with(limits.clone());
            conn.receive(&header);
            let err = conn.poll_event().expect_err("header alone must fail");
            assert_eq!(
                err,
                Error::Limit(LimitError::FrameTooLarge {
                    size: declared,
                    max: 1024
                }),
                "{setup:?}"
            );
            assert!(
                conn.read_buf().capacity() < 64 * KIB,
                "{setup:?}: reserved {} bytes",
                conn.read_buf().capacity()
            );
            let sent = decode_frames(&drain_transmit(&mut conn), setup.role);
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].close_code(), Some(1009));
        }
    });
}

#[test]
fn fragmented_message_over_the_message_limit_fails_with_1009() {
    let limits = Limits::default()
        .max_frame_size(1024)
        .max_message_size(4096);
    for_each_setup(|setup| {
        // Exactly at the limit passes.
        let ok = setup.run_with(
            limits.clone(),
            &setup.chunked(OP_BINARY, &[1; 4096], 1000),
            Chop::Frames,
        );
        ok.assert_no_error();
        assert_eq!(ok.messages(), vec![binary(&[1; 4096])]);

        // One byte more fails, in the frame that crosses the limit, before
        // the final fragment arrives.
        let payload = vec![1; 5000];
        let frames = setup.chunked(OP_BINARY, &payload, 1000);
        let outcome = setup.run_with(limits.clone(), &frames, Chop::Frames);
        match &outcome.error {
            Some(Error::Limit(LimitError::MessageTooLarge { size, max: 4096 })) => {
                assert!(*size > 4096, "size {size}")
            }
            other => panic!("{setup:?}: expected MessageTooLarge, got {other:?}"),
        }
        outcome.assert_close_sent(switchboard_proto::CloseCode::MESSAGE_TOO_BIG);
        outcome.assert_failed_in_frame(4);
        assert!(outcome.messages().is_empty());
    });
}

#[test]
fn text_message_over_the_limit_fails_with_1009_not_1007() {
    let limits = Limits::default().max_frame_size(100).max_message_size(100);
    for_each_setup(|setup| {
        let outcome = setup.run_chopped_with(limits.clone(), &[setup.text(&[b'a'; 101])]);
        outcome.assert_failed_with_code(switchboard_proto::CloseCode::MESSAGE_TOO_BIG);
    });
}

#[test]
fn control_frames_between_fragments_do_not_count_towards_the_message() {
    let limits = Limits::default()
        .max_frame_size(1024)
        .max_message_size(2048);
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_BINARY, &[2; 1024]),
            setup.ping(&[3; 125]),
            setup.cont(true, &[2; 1024]),
        ];
        let outcome = setup.run_chopped_with(limits.clone(), &frames);
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![ping(&[3; 125]), binary(&[2; 2048])]
        );
    });
}
