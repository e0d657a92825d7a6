//! Autobahn 7.x: the close handshake (RFC 6455 §5.5.1, §7). A peer's close
//! is echoed with the same code and ends all processing; malformed close
//! payloads and codes that may not appear on the wire fail with 1002, a
//! reason that is not UTF-8 with 1007. Also the per-role rule for closing
//! the transport (RFC 6455 §7.1.1: the server closes TCP first).

mod common;

use common::*;
use switchboard_proto::{
    CloseCode, CloseFrame, Error, Message, ProtocolError, ReceivedClose, Role, SendError, State,
};

fn close_event(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame::new(code, reason)))
}

/// Asserts the peer's close was echoed with its code, reported as the
/// last event, and left the connection closing.
fn assert_echoed(outcome: &Outcome, code: Option<u16>) {
    let setup = outcome.setup;
    outcome.assert_no_error();
    let closes = outcome.sent_with(OP_CLOSE);
    assert_eq!(
        closes.len(),
        1,
        "{setup:?}: expected one close echo, sent {:?}",
        outcome.sent
    );
    assert_eq!(
        closes[0].close_code(),
        code,
        "{setup:?}: echo {:?}",
        closes[0]
    );
    assert!(std::str::from_utf8(closes[0].close_reason()).is_ok());
    assert_eq!(
        outcome.sent.last().map(|f| f.opcode),
        Some(OP_CLOSE),
        "{setup:?}: sent after the close echo"
    );
    assert!(
        matches!(outcome.conn.state(), State::CloseReceived | State::Closed),
        "{setup:?}: state {:?} after the peer's close",
        outcome.conn.state()
    );
    assert!(
        matches!(outcome.messages().last(), Some(Message::Close(_))),
        "{setup:?}: {:?}",
        outcome.messages()
    );
}

#[test]
fn case_7_1_1_text_then_normal_close_is_echoed() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.text(b"Hello World!"), setup.close(1000, b"")]);
        assert_echoed(&outcome, Some(1000));
        assert_eq!(
            outcome.messages(),
            vec![text("Hello World!"), close_event(1000, "")]
        );
        assert_eq!(
            outcome.conn.peer_close(),
            Some(ReceivedClose::WithStatus(&CloseFrame::new(1000, "")))
        );
    });
}

#[test]
fn case_7_1_2_second_close_is_ignored() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, b""), setup.close(1000, b"")]);
        assert_echoed(&outcome, Some(1000));
        assert_eq!(outcome.messages(), vec![close_event(1000, "")]);
    });
}

#[test]
fn case_7_1_3_ping_after_close_is_not_answered() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, b""), setup.ping(b"Hello World!")]);
        assert_echoed(&outcome, Some(1000));
        assert!(
            outcome.pongs().is_empty(),
            "{setup:?}: answered a ping after the close"
        );
        assert_eq!(outcome.messages(), vec![close_event(1000, "")]);
    });
}

#[test]
fn case_7_1_4_text_after_close_is_ignored() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, b""), setup.text(b"Hello World!")]);
        assert_echoed(&outcome, Some(1000));
        assert_eq!(outcome.messages(), vec![close_event(1000, "")]);
    });
}

#[test]
fn case_7_1_5_fragment_close_fragment_never_completes_the_message() {
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, b"fragment1"),
            setup.close(1000, b""),
            setup.cont(true, b"fragment2"),
        ];
        let outcome = setup.run_chopped(&frames);
        assert_echoed(&outcome, Some(1000));
        assert_eq!(outcome.messages(), vec![close_event(1000, "")]);
    });
}

#[test]
fn case_7_1_6_large_message_then_close_then_ping() {
    let payload = "BAsd7&jh23".repeat(256 * 1024 / 10);
    for_each_setup(|setup| {
        let frames = [
            setup.text(payload.as_bytes()),
            setup.close(1000, b""),
            setup.ping(b"Hello World!"),
        ];
        let outcome = setup.run(&frames, Chop::Every(4096));
        assert_echoed(&outcome, Some(1000));
        assert_eq!(
            outcome.messages(),
            vec![text(&payload), close_event(1000, "")]
        );
        assert!(outcome.pongs().is_empty());
    });
}

#[test]
fn case_7_3_1_empty_close_is_echoed_empty() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close_raw(b"")]);
        assert_echoed(&outcome, None);
        assert!(
            outcome.sent_with(OP_CLOSE)[0].payload.is_empty(),
            "echo of an empty close must be empty"
        );
        assert_eq!(outcome.messages(), vec![Message::Close(None)]);
        assert_eq!(outcome.conn.peer_close(), Some(ReceivedClose::NoStatus));
    });
}

#[test]
fn case_7_3_2_close_with_one_byte_payload_fails_with_1002() {
    // RFC 6455 §5.5.1: a close body, if present, starts with a 2-byte code.
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close_raw(b"a")]);
        outcome.assert_failed(Error::Protocol(ProtocolError::InvalidClosePayload));
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn case_7_3_3_close_with_code_is_echoed() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, b"")]);
        assert_echoed(&outcome, Some(1000));
    });
}

#[test]
fn case_7_3_4_close_with_code_and_reason_is_echoed() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, b"Hello World!")]);
        assert_echoed(&outcome, Some(1000));
        assert_eq!(outcome.messages(), vec![close_event(1000, "Hello World!")]);
    });
}

#[test]
fn case_7_3_5_close_with_123_byte_reason_is_echoed() {
    let reason = "*".repeat(123);
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, reason.as_bytes())]);
        assert_echoed(&outcome, Some(1000));
        assert_eq!(outcome.messages(), vec![close_event(1000, &reason)]);
        assert!(outcome.sent_with(OP_CLOSE)[0].payload.len() <= 125);
    });
}

#[test]
fn case_7_3_6_close_with_124_byte_reason_fails_with_1002() {
    // RFC 6455 §5.5: a 126-byte control payload.
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, "*".repeat(124).as_bytes())]);
        outcome.assert_failed(Error::Protocol(ProtocolError::ControlFrameTooLong(126)));
        assert!(outcome.events.is_empty());
    });
}

#[test]
fn case_7_5_1_close_reason_with_invalid_utf8_fails_with_1007() {
    // RFC 6455 §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails with 1007.
    let reason = ["κόσμε".as_bytes(), &[0xED, 0xA0, 0x80], b"edited"].concat();
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.close(1000, &reason)]);
        outcome.assert_failed(Error::Protocol(ProtocolError::InvalidCloseReason));
        assert!(outcome.events.is_empty());
        assert!(outcome.conn.peer_close().is_none());
    });
}

#[test]
fn case_7_7_valid_close_codes_are_echoed() {
    // 7.7.1-7.7.13, plus 1012-1014 which IANA has since assigned.
    let codes = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ];
    for code in codes {
        for_each_setup(|setup| {
            let outcome = setup.run_chopped(&[setup.close(code, b"")]);
            assert_echoed(&outcome, Some(code));
            assert_eq!(
                outcome.messages(),
                vec![close_event(code, "")],
                "code {code}"
            );
        });
    }
}

#[test]
fn case_7_9_and_7_13_invalid_close_codes_fail_with_1002() {
    // RFC 6455 §7.4: codes below 1000, 1004-1006, 1015, unassigned
    // 1016-2999 and anything from 5000 on may not appear on the wire.
    let codes = [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ];
    for code in codes {
        for_each_setup(|setup| {
            let outcome = setup.run_chopped(&[setup.close(code, b"")]);
            outcome.assert_failed(Error::Protocol(ProtocolError::InvalidCloseCode(code)));
            assert!(
                outcome.events.is_empty(),
                "code {code}: {:?}",
                outcome.events
            );
        });
    }
}

#[test]
fn every_close_code_is_judged_like_the_registry() {
    for setup in SETUPS.iter().take(2) {
        for code in (0..=u16::MAX).step_by(7).chain([
            999, 1000, 1003, 1004, 1007, 1014, 1015, 2999, 3000, 4999, 5000,
        ]) {
            let outcome = setup.run(&[setup.close(code, b"")], Chop::Whole);
            if CloseCode(code).is_valid_on_wire() {
                assert_echoed(&outcome, Some(code));
            } else {
                outcome.assert_failed(Error::Protocol(ProtocolError::InvalidCloseCode(code)));
            }
        }
    }
}

#[test]
fn transport_closing_rule_after_a_peer_close() {
    // RFC 6455 §7.1.1: the server closes the TCP connection first; the
    // client waits for it.
    for_each_setup(|setup| {
        let mut outcome = setup.run(&[setup.close(1001, b"bye")], Chop::Whole);
        assert_echoed(&outcome, Some(1001));
        assert_eq!(outcome.conn.transmit_len(), 0);
        match setup.role {
            Role::Server => assert!(
                outcome.conn.should_close_transport(),
                "server must close TCP after the handshake"
            ),
            Role::Client => assert!(
                !outcome.conn.should_close_transport(),
                "client must wait for the server to close TCP"
            ),
        }
        // The server then closes TCP: a clean end for both roles.
        assert_eq!(
            outcome.conn.receive_eof(),
            Ok(()),
            "{setup:?}: EOF after the close handshake is clean"
        );
    });
}

#[test]
fn transport_closing_rule_after_our_close() {
    for_each_setup(|setup| {
        let mut conn = setup.connection();
        conn.close(
            std::time::Instant::now(),
            Some(CloseFrame::new(1000, "bye")),
        )
        .expect("close");
        assert_eq!(conn.state(), State::CloseSent);
        let sent = decode_frames(&drain_transmit(&mut conn), setup.role);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].close_code(), sent[0].close_reason()),
            (Some(1000), &b"bye"[..])
        );
        assert!(
            !conn.should_close_transport(),
            "{setup:?}: closing the transport before the peer answered"
        );
        // Idempotent once closing: no second close frame.
        conn.close(std::time::Instant::now(), None)
            .expect("close again is a no-op");
        assert_eq!(
            conn.transmit_len(),
            0,
            "{setup:?}: second close() queued another frame"
        );
        assert_eq!(conn.send(Message::text("late")), Err(SendError::Closed));

        // Data the peer sent before seeing our close is still delivered (no
        // lost data: RFC 6455 §5.5.1 only forbids *sending* data after a
        // close), then its close completes the handshake.
        conn.receive(&setup.text(b"in flight"));
        conn.receive(&setup.close(1000, b""));
        let mut messages = Vec::new();
        while let Some(event) = conn.poll_event().expect("clean close") {
            messages.push(event);
        }
        let outcome = Outcome {
            setup: *setup,
            events: messages,
            error: None,
            error_frame: None,
            sent: Vec::new(),
            conn,
        };
        assert_eq!(
            outcome.messages(),
            vec![text("in flight"), close_event(1000, "")],
            "{setup:?}"
        );
        let mut conn = outcome.conn;
        assert_eq!(
            conn.transmit_len(),
            0,
            "{setup:?}: answered the echo of our own close"
        );
        assert_eq!(conn.state(), State::Closed);
        match setup.role {
            Role::Server => assert!(conn.should_close_transport()),
            Role::Client => assert!(!conn.should_close_transport()),
        }
        assert_eq!(conn.receive_eof(), Ok(()));
    });
}

#[test]
fn eof_without_close_handshake_is_abnormal() {
    for_each_setup(|setup| {
        let mut conn = setup.connection();
        conn.receive(&setup.text(b"hi"));
        assert!(conn.poll_event().expect("valid").is_some());
        assert_eq!(conn.receive_eof(), Err(Error::AbnormalClosure));
        assert_eq!(Error::AbnormalClosure.close_code(), CloseCode::ABNORMAL);
    });
}

#[test]
fn eof_after_our_close_but_before_the_answer_is_abnormal() {
    for_each_setup(|setup| {
        let mut conn = setup.connection();
        conn.close(std::time::Instant::now(), Some(CloseFrame::new(1000, "")))
            .unwrap();
        drain_transmit(&mut conn);
        assert_eq!(conn.receive_eof(), Err(Error::AbnormalClosure));
    });
}

#[test]
fn local_close_with_a_code_that_may_not_be_sent_is_refused() {
    for_each_setup(|setup| {
        for code in [0, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
            let mut conn = setup.connection();
            assert_eq!(
                conn.close(std::time::Instant::now(), Some(CloseFrame::new(code, ""))),
                Err(SendError::InvalidCloseCode(code))
            );
            assert_eq!(
                conn.transmit_len(),
                0,
                "code {code}: queued a close frame anyway"
            );
            assert_eq!(conn.state(), State::Open);
        }
    });
}

#[test]
fn failing_connection_never_echoes_a_later_close() {
    for_each_setup(|setup| {
        let frames = [setup.frame(true, 0, 0x3, b""), setup.close(1000, b"")];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(Error::Protocol(ProtocolError::ReservedOpcode(3)));
        assert!(outcome.conn.should_close_transport());
    });
}
