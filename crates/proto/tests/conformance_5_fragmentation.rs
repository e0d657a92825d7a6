//! Autobahn 5.x: fragmentation (RFC 6455 §5.4). Control frames must not be
//! fragmented, may be injected between the fragments of a data message and
//! are then handled in order; a continuation needs a message to continue
//! and a new data frame may not start while one is open.

mod common;

use common::*;
use switchboard_proto::{Error, ProtocolError};

#[test]
fn case_5_1_ping_in_two_fragments_fails_with_1002() {
    // RFC 6455 §5.5: control frames MUST NOT be fragmented.
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_PING, b"fragment1"),
            setup.cont(true, b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::FragmentedControlFrame));
        outcome.assert_failed_in_frame(0);
        assert!(outcome.pongs().is_empty());
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn case_5_2_pong_in_two_fragments_fails_with_1002() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_PONG, b"fragment1"),
            setup.cont(true, b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::FragmentedControlFrame));
        outcome.assert_failed_in_frame(0);
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn case_5_3_to_5_5_text_in_two_fragments() {
    // 5.3 one chop, 5.4 frame-wise, 5.5 octet-wise: run_chopped covers all.
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.cont(true, b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![text("fragment1fragment2")]);
        assert!(outcome.sent.is_empty());
    });
}

#[test]
fn case_5_6_to_5_8_text_in_two_fragments_with_ping_between() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.ping(b"ping payload"),
            setup.cont(true, b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        // The ping is handled when it arrives, before the message completes.
        assert_eq!(
            outcome.messages(),
            vec![ping(b"ping payload"), text("fragment1fragment2")]
        );
        assert_eq!(outcome.pongs(), vec![b"ping payload".to_vec()]);
    });
}

#[test]
fn case_5_6_extra_pong_and_close_between_fragments() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_BINARY, b"one"),
            setup.pong(b"unsolicited"),
            setup.cont(false, b"two"),
            setup.close(1000, b""),
            setup.cont(true, b"three"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        // The close ends the conversation: the message never completes.
        let messages = outcome.messages();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0], pong(b"unsolicited"));
        assert!(matches!(messages[1], switchboard_proto::Message::Close(_)));
        assert_eq!(outcome.sent.len(), 1);
        assert_eq!(outcome.sent[0].close_code(), Some(1000));
    });
}

/// 5.9-5.11 and 5.12-5.14: a continuation with nothing to continue
/// (FIN `fin`), then a valid text message. RFC 6455 §5.4: fail.
fn continuation_without_start(fin: bool) {
    for_each_setup(|setup| {
        let frames = [
            setup.cont(fin, b"non-continuation payload"),
            setup.text(b"Hello, world!"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::UnexpectedContinuation));
        outcome.assert_failed_in_frame(0);
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn case_5_9_to_5_11_continuation_fin_set_without_start() {
    continuation_without_start(true);
}

#[test]
fn case_5_12_to_5_14_continuation_fin_clear_without_start() {
    continuation_without_start(false);
}

#[test]
fn case_5_15_continuation_after_a_completed_message() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.cont(true, b"fragment2"),
            setup.cont(false, b"fragment3"),
            setup.text(b"fragment4"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::UnexpectedContinuation));
        outcome.assert_failed_in_frame(2);
        assert_eq!(outcome.messages(), vec![text("fragment1fragment2")]);
    });
}

/// 5.16 and 5.17: twice, a continuation with nothing to continue (FIN
/// `fin`) followed by a text message in two fragments.
fn repeated_stray_continuation(fin: bool) {
    for_each_setup(|setup| {
        let round = |frames: &mut Vec<Vec<u8>>| {
            frames.push(setup.cont(fin, b"fragment1"));
            frames.push(setup.frame(false, 0, OP_TEXT, b"fragment2"));
            frames.push(setup.cont(true, b"fragment3"));
        };
        let mut frames = Vec::new();
        round(&mut frames);
        round(&mut frames);
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::UnexpectedContinuation));
        outcome.assert_failed_in_frame(0);
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn case_5_16_stray_continuation_fin_clear_repeated() {
    repeated_stray_continuation(false);
}

#[test]
fn case_5_17_stray_continuation_fin_set_repeated() {
    repeated_stray_continuation(true);
}

#[test]
fn case_5_18_two_text_frames_where_a_continuation_was_due() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.frame(true, 0, OP_TEXT, b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::ExpectedContinuation));
        outcome.assert_failed_in_frame(1);
        assert!(outcome.messages().is_empty());
    });
}

#[test]
fn case_5_18_extra_binary_frame_inside_a_text_message() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.binary(b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::ExpectedContinuation));
        outcome.assert_failed_in_frame(1);
    });
}

#[test]
fn case_5_19_and_5_20_five_fragments_with_two_pings_between() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.cont(false, b"fragment2"),
            setup.ping(b"pongme 1!"),
            setup.cont(false, b"fragment3"),
            setup.cont(false, b"fragment4"),
            setup.ping(b"pongme 2!"),
            setup.cont(true, b"fragment5"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![
                ping(b"pongme 1!"),
                ping(b"pongme 2!"),
                text("fragment1fragment2fragment3fragment4fragment5")
            ]
        );
        assert_eq!(
            outcome.pongs(),
            vec![b"pongme 1!".to_vec(), b"pongme 2!".to_vec()]
        );
    });
}

#[test]
fn many_fragments_reassemble_in_order() {
    for_each_setup(|setup| {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        // 10 000 one-byte fragments.
        let frames = setup.chunked(OP_BINARY, &payload, 1);
        assert_eq!(frames.len(), 10_000);
        let outcome = setup.run(&frames, Chop::Whole);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![binary(&payload)]);
        let framewise = setup.run(&frames, Chop::Frames);
        assert_eq!(framewise.messages(), outcome.messages());
    });
}

#[test]
fn many_fragments_with_pings_between_every_one() {
    for_each_setup(|setup| {
        let mut frames = Vec::new();
        let pieces: Vec<String> = (0..300).map(|i| format!("<{i}>")).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 { OP_TEXT } else { OP_CONT };
            frames.push(setup.frame(i + 1 == pieces.len(), 0, opcode, piece.as_bytes()));
            frames.push(setup.ping(&(i as u32).to_be_bytes()));
        }
        let outcome = setup.run(&frames, Chop::Every(7));
        outcome.assert_no_error();
        let pongs = outcome.pongs();
        assert_eq!(pongs.len(), 300);
        assert!(pongs
            .iter()
            .enumerate()
            .all(|(i, p)| p == &(i as u32).to_be_bytes()));
        let messages = outcome.messages();
        assert_eq!(messages.len(), 301);
        // The message completes with its last fragment, before the last ping.
        assert_eq!(messages[299], text(&pieces.concat()));
        assert_eq!(messages[300], ping(&299u32.to_be_bytes()));
    });
}

#[test]
fn empty_fragments_are_valid() {
    for_each_setup(|setup| {
        let frames = setup.fragmented(OP_BINARY, b"", &[0, 0, 0]);
        assert_eq!(frames.len(), 4);
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![binary(b"")]);
    });
}

#[test]
fn fragmented_messages_back_to_back() {
    for_each_setup(|setup| {
        let mut frames = setup.fragmented(OP_TEXT, b"first message", &[5]);
        frames.extend(setup.fragmented(OP_BINARY, b"second", &[1, 2, 3]));
        frames.push(setup.text(b"third"));
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![text("first message"), binary(b"second"), text("third")]
        );
    });
}
