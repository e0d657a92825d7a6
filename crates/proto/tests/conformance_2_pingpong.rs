//! Autobahn 2.x: pings are answered with pongs carrying the same payload
//! (RFC 6455 §5.5.2, §5.5.3), control payloads are at most 125 bytes
//! (RFC 6455 §5.5) and unsolicited pongs are accepted without an answer.

mod common;

use common::*;
use switchboard_proto::{Error, ProtocolError};

/// A single ping must produce a ping event and exactly one pong with the
/// same payload.
fn assert_ping_echoed(case: &str, payload: &[u8]) {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.ping(payload)]);
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![ping(payload)],
            "case {case} {setup:?}"
        );
        assert_eq!(
            outcome.pongs(),
            vec![payload.to_vec()],
            "case {case} {setup:?}"
        );
        assert_eq!(
            outcome.sent.len(),
            1,
            "case {case}: only the pong is sent: {:?}",
            outcome.sent
        );
        assert!(
            outcome.sent[0].fin && outcome.sent[0].rsv == 0,
            "case {case}: pong frame {:?}",
            outcome.sent[0]
        );
    });
}

#[test]
fn case_2_1_ping_without_payload() {
    assert_ping_echoed("2.1", b"");
}

#[test]
fn case_2_2_ping_with_small_text_payload() {
    assert_ping_echoed("2.2", b"Hello, world!");
}

#[test]
fn case_2_3_ping_with_small_binary_payload() {
    assert_ping_echoed("2.3", &[0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]);
}

#[test]
fn case_2_4_ping_with_125_byte_payload() {
    assert_ping_echoed("2.4", &[0xFE; 125]);
}

#[test]
fn case_2_5_ping_with_126_byte_payload_fails_with_1002() {
    // RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less.
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.ping(&[0xFE; 126])]);
        outcome.assert_failed(Error::Protocol(ProtocolError::ControlFrameTooLong(126)));
        assert!(outcome.messages().is_empty());
        assert!(outcome.pongs().is_empty(), "answered an oversized ping");
    });
}

#[test]
fn case_2_5_extra_ping_with_64_bit_length_fails_with_1002() {
    for_each_setup(|setup| {
        let payload = vec![0xFE; 65536];
        let outcome = setup.run(&[setup.ping(&payload)], Chop::Every(1000));
        // The codec fails on the 7-bit length indicator (127) without
        // waiting for the 64-bit length, so the reported size is the
        // indicator, not the real length.
        assert!(
            matches!(outcome.error, Some(Error::Protocol(ProtocolError::ControlFrameTooLong(n))) if n >= 126),
            "{setup:?}: {:?}",
            outcome.error
        );
        outcome.assert_failed_with_code(switchboard_proto::CloseCode::PROTOCOL_ERROR);
        assert!(outcome.pongs().is_empty());
    });
}

#[test]
fn case_2_6_ping_with_125_byte_payload_sent_byte_by_byte() {
    for_each_setup(|setup| {
        let payload = [0xFE; 125];
        let outcome = setup.run(&[setup.ping(&payload)], Chop::Octets);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![ping(&payload)]);
        assert_eq!(outcome.pongs(), vec![payload.to_vec()]);
    });
}

#[test]
fn case_2_7_unsolicited_pong_without_payload_is_reported_not_answered() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.pong(b"")]);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![pong(b"")]);
        assert!(
            outcome.sent.is_empty(),
            "answered a pong: {:?}",
            outcome.sent
        );
    });
}

#[test]
fn case_2_8_unsolicited_pong_with_payload_is_reported_not_answered() {
    for_each_setup(|setup| {
        let outcome = setup.run_chopped(&[setup.pong(b"unsolicited pong payload")]);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![pong(b"unsolicited pong payload")]);
        assert!(
            outcome.sent.is_empty(),
            "answered a pong: {:?}",
            outcome.sent
        );
    });
}

#[test]
fn case_2_9_unsolicited_pong_then_ping_answers_only_the_ping() {
    for_each_setup(|setup| {
        let frames = [
            setup.pong(b"unsolicited pong payload"),
            setup.ping(b"ping payload"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        assert_eq!(
            outcome.messages(),
            vec![pong(b"unsolicited pong payload"), ping(b"ping payload")]
        );
        assert_eq!(outcome.pongs(), vec![b"ping payload".to_vec()]);
        assert_eq!(outcome.sent.len(), 1);
    });
}

fn ten_pings(setup: &Setup) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let payloads: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("payload-{i}").into_bytes())
        .collect();
    let frames = payloads.iter().map(|p| setup.ping(p)).collect();
    (frames, payloads)
}

#[test]
fn case_2_10_ten_pings_get_ten_pongs_in_order() {
    for_each_setup(|setup| {
        let (frames, payloads) = ten_pings(setup);
        let outcome = setup.run(&frames, Chop::Whole);
        outcome.assert_no_error();
        assert_eq!(outcome.pongs(), payloads);
        let events: Vec<Vec<u8>> = outcome.ping_events().iter().map(|p| p.to_vec()).collect();
        assert_eq!(events, payloads);
    });
}

#[test]
fn case_2_11_ten_pings_sent_in_chops_get_ten_pongs_in_order() {
    for_each_setup(|setup| {
        let (frames, payloads) = ten_pings(setup);
        let outcome = setup.run_chopped(&frames);
        outcome.assert_no_error();
        assert_eq!(outcome.pongs(), payloads);
    });
}

#[test]
fn pong_queued_before_the_ping_event_is_returned() {
    // The contract: automatic replies are queued before poll_event returns
    // the event, so a driver that flushes after each event never lags.
    for_each_setup(|setup| {
        let mut conn = setup.connection();
        conn.receive(&setup.ping(b"now"));
        let event = conn
            .poll_event()
            .expect("valid ping")
            .expect("a ping event");
        assert_eq!(event, switchboard_proto::Event::Message(ping(b"now")));
        let sent = decode_frames(&drain_transmit(&mut conn), setup.role);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].opcode, sent[0].payload.as_slice()),
            (OP_PONG, &b"now"[..])
        );
    });
}
