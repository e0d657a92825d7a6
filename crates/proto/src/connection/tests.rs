//! Unit tests of the connection state machine, one per rule.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::extension::{RSV1, RSV2};
use crate::frame::OpCode;
use crate::{
    Chunk, CloseCode, Delivery, EncodeError, Encoded, FragmentOrder, LimitError, ProtocolError,
};

/// The frame builder and decoder the integration tests use too, written
/// by hand apart from the crate's codec.
#[path = "../../tests/common/wire_bytes.rs"]
mod wire_bytes;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame on the wire with this first byte (FIN, RSV, opcode); masked
/// with `KEY` when `masked`.
fn wire(first_byte: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let fin = first_byte & 0x80 != 0;
    let rsv = (first_byte >> 4) & 0b111;
    wire_bytes::encode_frame(fin, rsv, first_byte, masked.then_some(KEY), payload)
}

/// A frame from a client (masked).
fn c(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    wire(first_byte, payload, true)
}

/// A frame from a server (unmasked).
fn s(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    wire(first_byte, payload, false)
}

fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

fn client() -> Connection {
    Connection::new(Role::Client, Config::default())
}

fn events(conn: &mut Connection) -> Result<Vec<Event>, Error> {
    let mut out = Vec::new();
    while let Some(event) = conn.poll_event()? {
        out.push(event);
    }
    Ok(out)
}

fn msg(message: Message) -> Event {
    Event::Message(message)
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = conn.transmit_slices(&mut slices);
        if n == 0 {
            break;
        }
        let before = out.len();
        for slice in &slices[..n] {
            out.extend_from_slice(slice);
        }
        let total = out.len() - before;
        conn.advance_transmit(total);
    }
    assert_eq!(conn.transmit_len(), 0);
    out
}

/// Decoded frames: (opcode, fin, rsv, masked, unmasked payload).
fn frames(bytes: &[u8]) -> Vec<(OpCode, bool, u8, bool, Vec<u8>)> {
    wire_bytes::parse_frames(bytes)
        .into_iter()
        .map(|f| {
            let opcode = OpCode::from_u8(f.opcode).expect("a defined opcode");
            (opcode, f.fin, f.rsv, f.masked, f.payload)
        })
        .collect()
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    wire_bytes::close_payload(code, reason.as_bytes())
}

// ------------------------------------------------------------ RFC examples

#[test]
fn rfc_5_7_hello_masked_to_server_and_unmasked_to_client() {
    let mut srv = server();
    srv.receive(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(events(&mut srv).unwrap(), [msg(Message::text("Hello"))]);
    let mut cli = client();
    cli.receive(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events(&mut cli).unwrap(), [msg(Message::text("Hello"))]);
}

#[test]
fn rfc_5_7_fragmented_hello() {
    let mut cli = client();
    cli.receive(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!(events(&mut cli).unwrap(), []);
    cli.receive(&[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(events(&mut cli).unwrap(), [msg(Message::text("Hello"))]);
}

#[test]
fn rfc_5_7_ping_is_answered_with_same_payload_and_reported() {
    let mut cli = client();
    cli.receive(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(
        events(&mut cli).unwrap(),
        [msg(Message::Ping(Bytes::from_static(b"Hello")))]
    );
    let sent = frames(&drain(&mut cli));
    assert_eq!(sent, [(OpCode::Pong, true, 0, true, b"Hello".to_vec())]);
    // A masked pong (RFC example) reaching a server is reported.
    let mut srv = server();
    srv.receive(&[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(
        events(&mut srv).unwrap(),
        [msg(Message::Pong(Bytes::from_static(b"Hello")))]
    );
    assert_eq!(srv.transmit_len(), 0);
}

#[test]
fn rfc_5_7_binary_256_bytes_and_64_kib() {
    for len in [256usize, 65536] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let bytes = s(0x82, &data);
        assert_eq!(bytes.len(), data.len() + if len == 256 { 4 } else { 10 });
        let mut cli = client();
        cli.receive(&bytes);
        assert_eq!(
            events(&mut cli).unwrap(),
            [msg(Message::binary(data.clone()))]
        );
    }
}

#[test]
fn byte_by_byte_feeding_gives_the_same_events() {
    let mut stream = Vec::new();
    stream.extend(c(0x01, "κό".as_bytes()));
    stream.extend(c(0x89, b"p"));
    stream.extend(c(0x80, "σμε".as_bytes()));
    stream.extend(c(0x82, &[7u8; 300]));
    stream.extend(c(0x88, &close_payload(1000, "bye")));
    let mut whole = server();
    whole.receive(&stream);
    let expected = events(&mut whole).unwrap();
    assert_eq!(expected.len(), 4);
    let mut bytewise = server();
    let mut got = Vec::new();
    for byte in &stream {
        bytewise.receive(&[*byte]);
        got.extend(events(&mut bytewise).unwrap());
    }
    assert_eq!(got, expected);
    assert_eq!(drain(&mut whole), drain(&mut bytewise));
}

#[test]
fn single_frame_message_is_zero_copy_from_the_read_buffer() {
    let mut srv = server();
    srv.receive(&c(0x82, b"payload"));
    let start = srv.read_buf().as_ptr() as usize;
    let Some(Event::Message(Message::Binary(data))) = srv.poll_event().unwrap() else {
        panic!("expected binary");
    };
    let at = data.as_ptr() as usize;
    assert!(at >= start && at < start + 32, "payload was copied");
}

#[test]
fn an_idle_connection_lets_go_of_the_buffer_its_last_frame_was_read_into() {
    let mut srv = server();
    // Copied into a buffer of exactly the frame's size: splitting the
    // payload off leaves the read buffer empty, at capacity 0, but still
    // sharing that allocation.
    srv.receive(&c(0x82, b"payload"));
    let Some(Event::Message(Message::Binary(data))) = srv.poll_event().unwrap() else {
        panic!("expected binary");
    };
    assert!(
        !data.is_unique(),
        "the read buffer shares the payload's allocation"
    );
    srv.receive_idle();
    assert!(
        data.is_unique(),
        "an idle connection still holds the allocation of its last frame"
    );
    assert_eq!(srv.read_buf().capacity(), 0);
}

/// Size of the large messages in the buffer-reuse tests: past
/// `RECEIVE_CHUNK`, so that they are read straight into buffers of their
/// size.
const LARGE: usize = 100_000;

/// A large binary message whose bytes say which message it is.
fn large_payload(seed: u8) -> Vec<u8> {
    (0..LARGE)
        .map(|i| (i as u8).wrapping_mul(7) ^ seed)
        .collect()
}

/// Feeds `frame` the way the tokio driver does: into lent room when the
/// connection offers it, else copied in, in reads of at most 16 KiB.
/// Returns the capacity of the buffer the first read went to.
fn feed_like_the_driver(conn: &mut Connection, frame: &[u8]) -> usize {
    let mut first_capacity = None;
    let mut rest = frame;
    while !rest.is_empty() {
        let lent = conn.receive_space().map(|mut space| {
            let n = bytes::BufMut::remaining_mut(&space)
                .min(rest.len())
                .min(RECEIVE_CHUNK);
            bytes::BufMut::put_slice(&mut space, &rest[..n]);
            n
        });
        let n = lent.unwrap_or_else(|| {
            let n = rest.len().min(RECEIVE_CHUNK);
            conn.receive(&rest[..n]);
            n
        });
        first_capacity.get_or_insert(conn.read_buf().capacity());
        rest = &rest[n..];
    }
    first_capacity.unwrap_or(0)
}

/// The next large message, fed like the driver does.
fn next_large(conn: &mut Connection, seed: u8) -> Bytes {
    feed_like_the_driver(conn, &c(0x82, &large_payload(seed)));
    let Some(Event::Message(Message::Binary(data))) = conn.poll_event().unwrap() else {
        panic!("expected a binary message");
    };
    assert_eq!(&data[..], &large_payload(seed)[..], "message {seed}");
    data
}

#[test]
fn a_large_message_buffer_is_reused_once_the_application_has_dropped_it() {
    let mut srv = server();
    // The first large frame is copied in and teaches the connection the
    // size; the second is read straight into a buffer of its size.
    drop(next_large(&mut srv, 1));
    let second = next_large(&mut srv, 2);
    let at = second.as_ptr();
    drop(second);
    // The transport goes idle between messages (an echo waits for its
    // peer): the connection keeps the buffer's handle all the same.
    srv.receive_idle();
    for seed in 3..8 {
        let message = next_large(&mut srv, seed);
        assert_eq!(message.as_ptr(), at, "message {seed} reuses the allocation");
        drop(message);
        srv.receive_idle();
    }
}

#[test]
fn two_large_messages_in_flight_take_turns_between_two_buffers() {
    let mut srv = server();
    drop(next_large(&mut srv, 1));
    // The application holds each message until the next one has been read
    // (an echo with two in flight queues one while reading the other).
    let mut held = next_large(&mut srv, 2);
    let mut addresses = Vec::new();
    for seed in 3..12 {
        let next = next_large(&mut srv, seed);
        assert_eq!(
            &held[..],
            &large_payload(seed - 1)[..],
            "a held message is never overwritten"
        );
        addresses.push(next.as_ptr() as usize);
        held = next;
        srv.receive_idle();
    }
    // After the first two, no message takes a new allocation.
    let mut steady: Vec<usize> = addresses[2..].to_vec();
    steady.sort_unstable();
    steady.dedup();
    assert_eq!(steady.len(), 2, "two buffers in turn: {addresses:x?}");
    assert_ne!(addresses[2], addresses[3]);
}

#[test]
fn large_buffers_kept_for_reuse_are_let_go_after_a_keepalive_interval() {
    let config = Config::default().ping_interval(Some(Duration::from_secs(20)));
    let (mut srv, t0) = timed(config);
    drop(next_large(&mut srv, 1));
    let held = next_large(&mut srv, 2);
    srv.receive_idle();
    assert!(!held.is_unique(), "kept for the next large message");
    srv.handle_timeout(t0 + Duration::from_secs(20)).unwrap();
    assert_eq!(frames(&drain(&mut srv))[0].0, OpCode::Ping);
    assert!(held.is_unique(), "an idle connection gives the buffer back");
}

#[test]
fn a_small_message_after_large_ones_lets_go_of_the_kept_buffers() {
    let mut srv = server();
    drop(next_large(&mut srv, 1));
    let older = next_large(&mut srv, 2);
    let newer = next_large(&mut srv, 3);
    srv.receive_idle();
    assert!(!newer.is_unique(), "kept for the next large message");
    feed_like_the_driver(&mut srv, &c(0x82, b"small"));
    assert_eq!(
        events(&mut srv).unwrap(),
        [msg(Message::Binary(Bytes::from_static(b"small")))]
    );
    srv.receive_idle();
    assert!(older.is_unique() && newer.is_unique(), "neither is kept");
}

#[test]
fn an_idle_connection_lets_go_of_its_drained_transmit_buffer() {
    let mut srv = server();
    srv.send(Message::Text("hello".into())).unwrap();
    let half = srv.transmit_len() / 2;
    srv.advance_transmit(half);
    srv.transmit_idle();
    assert!(
        srv.transmit.tail_capacity() > 0,
        "bytes still to write are kept"
    );
    assert_eq!(drain(&mut srv).len(), 7 - half, "the rest of the frame");
    assert!(srv.transmit.tail_capacity() > 0, "kept between writes");
    srv.receive_idle();
    assert_eq!(srv.transmit.tail_capacity(), 0);
    // And it is built again for the next message.
    srv.send(Message::Text("again".into())).unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [(OpCode::Text, true, 0, false, b"again".to_vec())]
    );
}

#[test]
fn control_frames_between_fragments_are_delivered_in_order() {
    let mut srv = server();
    srv.receive(&c(0x02, b"ab"));
    srv.receive(&c(0x89, b"1"));
    srv.receive(&c(0x00, b"cd"));
    srv.receive(&c(0x8A, b"2"));
    srv.receive(&c(0x80, b"ef"));
    assert_eq!(
        events(&mut srv).unwrap(),
        [
            msg(Message::Ping(Bytes::from_static(b"1"))),
            msg(Message::Pong(Bytes::from_static(b"2"))),
            msg(Message::binary(&b"abcdef"[..])),
        ]
    );
}

// ------------------------------------------------------------------ errors

/// Feeds `bytes`, expects `error`, a queued close with its code, the closed
/// state and silence afterwards.
fn expect_failure(mut conn: Connection, bytes: &[u8], error: Error, code: u16) {
    conn.receive(bytes);
    let result = events(&mut conn);
    assert_eq!(result, Err(error.clone()));
    assert_eq!(error.close_code().0, code);
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.should_close_transport());
    let sent = frames(&drain(&mut conn));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, OpCode::Close);
    assert_eq!(sent[0].4[..2], code.to_be_bytes());
    conn.receive(&c(0x81, b"after"));
    conn.receive(&s(0x81, b"after"));
    assert_eq!(conn.poll_event(), Ok(None));
    assert_eq!(conn.read_buf().len(), 0, "data after a failure is dropped");
    assert_eq!(conn.send(Message::text("x")), Err(SendError::Closed));
}

fn protocol(e: ProtocolError) -> Error {
    Error::Protocol(e)
}

#[test]
fn unmasked_frame_to_server_fails_1002() {
    expect_failure(
        server(),
        &s(0x81, b"hi"),
        protocol(ProtocolError::UnmaskedFrame),
        1002,
    );
}

#[test]
fn masked_frame_to_client_fails_1002() {
    expect_failure(
        client(),
        &c(0x81, b"hi"),
        protocol(ProtocolError::MaskedFrame),
        1002,
    );
}

#[test]
fn rsv_bits_without_extension_fail_1002() {
    expect_failure(
        server(),
        &c(0xC1, b"hi"),
        protocol(ProtocolError::ReservedBits(RSV1)),
        1002,
    );
    expect_failure(
        server(),
        &c(0x92, b"hi"),
        protocol(ProtocolError::ReservedBits(0b001)),
        1002,
    );
}

#[test]
fn rsv_bits_on_control_and_continuation_frames_fail_1002_even_with_extension() {
    let mut with_ext = server();
    with_ext.set_extension(Box::new(Reverse::default()));
    expect_failure(
        with_ext,
        &c(0xC9, b""),
        protocol(ProtocolError::ReservedBits(RSV1)),
        1002,
    );
    let mut with_ext = server();
    with_ext.set_extension(Box::new(Reverse::default()));
    let mut bytes = c(0x41, b"ab");
    bytes.extend(c(0xC0, b"cd"));
    expect_failure(
        with_ext,
        &bytes,
        protocol(ProtocolError::ReservedBits(RSV1)),
        1002,
    );
    let mut with_ext = server();
    with_ext.set_extension(Box::new(Reverse::default()));
    expect_failure(
        with_ext,
        &c(0xA1, b"ab"),
        protocol(ProtocolError::ReservedBits(RSV2)),
        1002,
    );
}

#[test]
fn reserved_opcode_fails_1002() {
    expect_failure(
        server(),
        &[0x83, 0x80, 1, 2, 3, 4],
        protocol(ProtocolError::ReservedOpcode(3)),
        1002,
    );
    expect_failure(
        server(),
        &[0x8B, 0x80, 1, 2, 3, 4],
        protocol(ProtocolError::ReservedOpcode(0xB)),
        1002,
    );
}

#[test]
fn fragmented_or_long_control_frames_fail_1002() {
    expect_failure(
        server(),
        &c(0x09, b""),
        protocol(ProtocolError::FragmentedControlFrame),
        1002,
    );
    expect_failure(
        server(),
        &c(0x89, &[0; 126]),
        protocol(ProtocolError::ControlFrameTooLong(126)),
        1002,
    );
}

#[test]
fn top_bit_of_64_bit_length_fails_1002() {
    let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    expect_failure(
        server(),
        &bytes,
        protocol(ProtocolError::InvalidPayloadLength),
        1002,
    );
}

#[test]
fn fragment_order_violations_fail_1002() {
    expect_failure(
        server(),
        &c(0x80, b"x"),
        protocol(ProtocolError::UnexpectedContinuation),
        1002,
    );
    let mut bytes = c(0x01, b"x");
    bytes.extend(c(0x82, b"y"));
    expect_failure(
        server(),
        &bytes,
        protocol(ProtocolError::ExpectedContinuation),
        1002,
    );
}

#[test]
fn invalid_utf8_fails_1007_single_and_fragmented_fail_fast() {
    expect_failure(
        server(),
        &c(0x81, &[0x61, 0xFF]),
        protocol(ProtocolError::InvalidUtf8),
        1007,
    );
    // Fail fast: the first fragment already proves it, no FIN needed.
    expect_failure(
        server(),
        &c(0x01, &[0xF4, 0x90]),
        protocol(ProtocolError::InvalidUtf8),
        1007,
    );
    // Truncated at the end of the message.
    let mut bytes = c(0x01, &[0xE2, 0x82]);
    bytes.extend(c(0x80, b""));
    expect_failure(server(), &bytes, protocol(ProtocolError::InvalidUtf8), 1007);
}

#[test]
fn frame_over_limit_fails_1009_from_the_header_alone() {
    let limits = Limits::default().max_frame_size(1000);
    let conn = Connection::with_limits(Role::Server, Config::default(), limits);
    let header = [0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4]; // 1001 bytes declared
    let error = Error::Limit(LimitError::FrameTooLarge {
        size: 1001,
        max: 1000,
    });
    expect_failure(conn, &header, error, 1009);
}

#[test]
fn message_over_limit_fails_1009_before_buffering_the_frame() {
    let limits = Limits::default().max_message_size(10);
    let conn = Connection::with_limits(Role::Server, Config::default(), limits);
    let mut bytes = c(0x02, &[1; 6]);
    bytes.extend(&c(0x80, &[2; 5])[..8]); // header only of the second frame
    let error = Error::Limit(LimitError::MessageTooLarge { size: 11, max: 10 });
    expect_failure(conn, &bytes, error, 1009);
}

#[test]
fn huge_declared_length_does_not_reserve_memory() {
    let mut srv = server();
    let header = [0x82, 0xFF, 0, 0, 0, 0, 0, 0xF0, 0, 0, 1, 2, 3, 4]; // 15 MiB
    srv.receive(&header);
    assert_eq!(srv.poll_event(), Ok(None));
    assert!(
        srv.read_buf().capacity() <= 128 * 1024,
        "{}",
        srv.read_buf().capacity()
    );
}

#[test]
fn bad_close_payloads_fail() {
    expect_failure(
        server(),
        &c(0x88, &[0x03]),
        protocol(ProtocolError::InvalidClosePayload),
        1002,
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        let bytes = c(0x88, &close_payload(code, ""));
        expect_failure(
            server(),
            &bytes,
            protocol(ProtocolError::InvalidCloseCode(code)),
            1002,
        );
    }
    let mut bad_reason = close_payload(1000, "");
    bad_reason.extend([0xC0, 0xAF]);
    expect_failure(
        server(),
        &c(0x88, &bad_reason),
        protocol(ProtocolError::InvalidCloseReason),
        1007,
    );
}

// ------------------------------------------------------------------- close

#[test]
fn peer_close_is_echoed_with_the_same_code_and_server_closes_transport() {
    let mut srv = server();
    srv.receive(&c(0x88, &close_payload(4001, "done")));
    srv.receive(&c(0x81, b"ignored"));
    let expected_close = Some(CloseFrame::new(4001, "done"));
    assert_eq!(
        events(&mut srv).unwrap(),
        [msg(Message::Close(expected_close.clone()))]
    );
    assert_eq!(srv.state(), State::CloseReceived);
    assert!(srv.should_close_transport());
    assert_eq!(srv.peer_close(), Some((&expected_close).into()));
    assert_eq!(srv.send(Message::text("late")), Err(SendError::Closed));
    let sent = frames(&drain(&mut srv));
    assert_eq!(
        sent,
        [(OpCode::Close, true, 0, false, close_payload(4001, ""))]
    );
    assert_eq!(srv.state(), State::Closed);
    assert_eq!(srv.receive_eof(), Ok(()));
}

#[test]
fn empty_close_echoes_empty_and_client_waits_for_eof() {
    let mut cli = client();
    cli.receive(&s(0x88, b""));
    assert_eq!(events(&mut cli).unwrap(), [msg(Message::Close(None))]);
    assert!(!cli.should_close_transport());
    let sent = frames(&drain(&mut cli));
    assert_eq!(sent, [(OpCode::Close, true, 0, true, vec![])]);
    assert_eq!(cli.state(), State::Closed);
    assert_eq!(cli.receive_eof(), Ok(()));
    assert!(cli.should_close_transport());
}

#[test]
fn after_our_close_data_is_still_delivered_until_the_peer_close() {
    let mut cli = client();
    cli.close(
        Instant::now(),
        Some(CloseFrame::new(CloseCode::NORMAL, "bye")),
    )
    .unwrap();
    assert_eq!(cli.state(), State::CloseSent);
    cli.close(Instant::now(), None).unwrap(); // idempotent
    let sent = frames(&drain(&mut cli));
    assert_eq!(
        sent,
        [(OpCode::Close, true, 0, true, close_payload(1000, "bye"))]
    );
    cli.receive(&s(0x81, b"data"));
    cli.receive(&s(0x02, &[7; 100_000]));
    cli.receive(&s(0x89, b"ping"));
    cli.receive(&s(0x80, b"end"));
    // Never completed: the peer's close ends it.
    cli.receive(&s(0x01, b"cut short"));
    cli.receive(&s(0x88, &close_payload(1000, "")));
    let mut whole = vec![7; 100_000];
    whole.extend_from_slice(b"end");
    assert_eq!(
        events(&mut cli).unwrap(),
        [
            msg(Message::text("data")),
            msg(Message::Ping(Bytes::from_static(b"ping"))),
            msg(Message::Binary(Bytes::from(whole))),
            msg(Message::Close(Some(CloseFrame::new(1000, ""))))
        ]
    );
    assert_eq!(cli.state(), State::Closed);
    // RFC 6455 §5.5.2: the ping came before the peer's close, so it is
    // answered even after ours; no second close frame is sent.
    assert_eq!(
        frames(&drain(&mut cli)),
        [(OpCode::Pong, true, 0, true, b"ping".to_vec())],
        "only the pong after our close"
    );
    assert!(
        !cli.should_close_transport(),
        "client waits for the server to close TCP"
    );
    assert_eq!(cli.receive_eof(), Ok(()));
}

#[test]
fn eof_before_close_handshake_is_abnormal() {
    let mut srv = server();
    assert_eq!(srv.receive_eof(), Err(Error::AbnormalClosure));
    let mut cli = client();
    cli.close(Instant::now(), None).unwrap();
    assert_eq!(cli.receive_eof(), Err(Error::AbnormalClosure));
    assert!(cli.should_close_transport());
}

#[test]
fn close_argument_checks() {
    let mut cli = client();
    assert_eq!(
        cli.close(Instant::now(), Some(CloseFrame::new(1005, ""))),
        Err(SendError::InvalidCloseCode(1005))
    );
    let long = "x".repeat(124);
    assert_eq!(
        cli.close(Instant::now(), Some(CloseFrame::new(1000, long.as_str()))),
        Err(SendError::ControlFrameTooLong(126))
    );
    assert_eq!(cli.state(), State::Open);
    cli.send(Message::Close(None)).unwrap();
    assert_eq!(cli.state(), State::CloseSent);
    assert_eq!(cli.send(Message::binary(&b"x"[..])), Err(SendError::Closed));
    assert_eq!(
        cli.send(Message::Ping(Bytes::new())),
        Err(SendError::Closed)
    );
}

// ------------------------------------------------------------ streaming mode

fn streaming(role: Role) -> Connection {
    Connection::new(role, Config::default().delivery(Delivery::Chunks))
}

fn fragment(kind: DataKind, payload: &[u8], first: bool, fin: bool) -> Event {
    Event::Chunk(Chunk {
        kind,
        payload: Bytes::copy_from_slice(payload),
        first,
        fin,
    })
}

#[test]
fn fragments_mode_delivers_a_large_frame_as_its_bytes_arrive() {
    let mut cli = streaming(Role::Client);
    let data: Vec<u8> = (0..10_000).map(|i| i as u8).collect();
    let bytes = s(0x82, &data);
    cli.receive(&bytes[..1000]);
    assert_eq!(
        events(&mut cli).unwrap(),
        [fragment(DataKind::Binary, &data[..996], true, false)]
    );
    assert!(cli.read_buf().is_empty(), "nothing held back");
    cli.receive(&bytes[1000..]);
    assert_eq!(
        events(&mut cli).unwrap(),
        [fragment(DataKind::Binary, &data[996..], false, true)]
    );
}

#[test]
fn fragments_mode_unmasks_pieces_and_keeps_frame_boundaries() {
    let mut srv = streaming(Role::Server);
    let mut bytes = c(0x01, "héllo".as_bytes());
    bytes.extend(c(0x89, b""));
    bytes.extend(c(0x80, b""));
    let mut got = Vec::new();
    for chunk in bytes.chunks(3) {
        srv.receive(chunk);
        got.extend(events(&mut srv).unwrap());
    }
    let text: Vec<u8> = got
        .iter()
        .filter_map(|e| match e {
            Event::Chunk(f) => Some(f.payload.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(text, "héllo".as_bytes());
    let Event::Chunk(first) = &got[0] else {
        panic!()
    };
    assert!(first.first && !first.fin);
    assert!(got.contains(&msg(Message::Ping(Bytes::new()))));
    assert_eq!(
        got.last(),
        Some(&fragment(DataKind::Text, b"", false, true))
    );
}

#[test]
fn fragments_mode_fails_fast_on_invalid_utf8_and_checks_message_total() {
    let mut srv = streaming(Role::Server);
    let bytes = c(0x81, &[b'a', 0xED, 0xA0, b'b', b'c']);
    srv.receive(&bytes[..9]); // header (6) + "a", ED, A0
    assert_eq!(
        events(&mut srv),
        Err(Error::Protocol(ProtocolError::InvalidUtf8))
    );
    let limits = Limits::default().max_message_size(8);
    let conn = Connection::with_limits(
        Role::Server,
        Config::default().delivery(Delivery::Chunks),
        limits,
    );
    let mut bytes = c(0x02, &[0; 5]);
    bytes.extend(c(0x80, &[0; 4]));
    let error = Error::Limit(LimitError::MessageTooLarge { size: 9, max: 8 });
    let mut conn = conn;
    conn.receive(&bytes);
    assert_eq!(
        conn.poll_event().unwrap(),
        Some(fragment(DataKind::Binary, &[0; 5], true, false))
    );
    assert_eq!(conn.poll_event(), Err(error));
}

// ---------------------------------------------------------------- extension

/// A test extension that reverses each frame's bytes (RSV1), enforcing
/// `max_len` like a real decoder must.
#[derive(Debug, Default)]
struct Reverse {
    pass_through: bool,
}

impl Extension for Reverse {
    fn name(&self) -> &'static str {
        "x-reverse"
    }
    fn rsv_mask(&self) -> u8 {
        RSV1
    }
    fn encode(
        &mut self,
        _: DataKind,
        payload: &[u8],
        _: bool,
        _: bool,
    ) -> Result<Encoded, EncodeError> {
        if self.pass_through {
            return Ok(Encoded::PassThrough);
        }
        let reversed: Vec<u8> = payload.iter().rev().copied().collect();
        Ok(Encoded::Transformed {
            rsv: RSV1,
            payload: reversed.into(),
        })
    }
    fn decode(
        &mut self,
        rsv: u8,
        payload: &[u8],
        _: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), Error> {
        assert_eq!(rsv, RSV1);
        if out.len() + payload.len() > max_len {
            return Err(LimitError::MessageTooLarge {
                size: (out.len() + payload.len()) as u64,
                max: max_len,
            }
            .into());
        }
        out.extend(payload.iter().rev());
        Ok(())
    }
}

#[test]
fn extension_decodes_messages_whose_first_frame_has_its_rsv_bits() {
    let mut srv = server();
    srv.set_extension(Box::new(Reverse::default()));
    let mut bytes = c(0xC1, b"cba");
    bytes.extend(c(0x82, b"plain"));
    bytes.extend(c(0x42, b"ba"));
    bytes.extend(c(0x89, b"ping is not decoded"));
    bytes.extend(c(0x80, b"dc"));
    srv.receive(&bytes);
    assert_eq!(
        events(&mut srv).unwrap(),
        [
            msg(Message::text("abc")),
            msg(Message::binary(&b"plain"[..])),
            msg(Message::Ping(Bytes::from_static(b"ping is not decoded"))),
            msg(Message::binary(&b"abcd"[..])),
        ]
    );
}

#[test]
fn extension_output_is_bounded_by_max_message_size() {
    let limits = Limits::default().max_message_size(4);
    let mut srv = Connection::with_limits(Role::Server, Config::default(), limits);
    srv.set_extension(Box::new(Reverse::default()));
    let mut bytes = c(0x42, b"abc");
    bytes.extend(c(0x80, b"de"));
    srv.receive(&bytes);
    assert_eq!(
        events(&mut srv),
        Err(Error::Limit(LimitError::MessageTooLarge {
            size: 5,
            max: 4
        }))
    );
}

#[test]
fn extension_decodes_in_fragments_mode_too() {
    let mut srv = streaming(Role::Server);
    srv.set_extension(Box::new(Reverse::default()));
    srv.receive(&c(0x41, b"ih"));
    srv.receive(&c(0x80, b"!"));
    assert_eq!(
        events(&mut srv).unwrap(),
        [
            fragment(DataKind::Text, b"hi", true, false),
            fragment(DataKind::Text, b"!", false, true)
        ]
    );
}

#[test]
fn extension_encodes_outgoing_data_with_rsv_on_the_first_frame_only() {
    let config = Config::default().max_outgoing_frame_size(Some(2));
    let mut srv = Connection::new(Role::Server, config);
    srv.set_extension(Box::new(Reverse::default()));
    srv.send(Message::text("abc")).unwrap();
    srv.send(Message::Ping(Bytes::from_static(b"p"))).unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [
            (OpCode::Text, false, RSV1, false, b"cb".to_vec()),
            (OpCode::Continuation, true, 0, false, b"a".to_vec()),
            (OpCode::Ping, true, 0, false, b"p".to_vec()),
        ]
    );
    let mut srv = server();
    srv.set_extension(Box::new(Reverse { pass_through: true }));
    srv.send_fragment(DataKind::Binary, Bytes::from_static(b"ab"), true, false)
        .unwrap();
    srv.send_fragment(DataKind::Binary, Bytes::from_static(b"cd"), false, true)
        .unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [
            (OpCode::Binary, false, 0, false, b"ab".to_vec()),
            (OpCode::Continuation, true, 0, false, b"cd".to_vec()),
        ]
    );
}

// ----------------------------------------------------------------- transmit

#[test]
fn small_messages_coalesce_into_one_write() {
    let mut srv = server();
    for i in 0..100u8 {
        srv.send(Message::binary(vec![i; 10])).unwrap();
    }
    let mut slices = [IoSlice::new(&[]); 8];
    assert_eq!(srv.transmit_slices(&mut slices), 1);
    assert_eq!(slices[0].len(), 100 * 12);
    assert_eq!(srv.transmit_len(), 1200);
}

#[test]
fn large_server_payload_is_sent_without_copying() {
    let mut srv = server();
    let payload = Bytes::from(vec![9u8; 100_000]);
    srv.send(Message::text("hi")).unwrap();
    srv.send(Message::Binary(payload.clone())).unwrap();
    srv.send(Message::text("after")).unwrap();
    let mut slices = [IoSlice::new(&[]); 8];
    let n = srv.transmit_slices(&mut slices);
    assert_eq!(n, 3);
    assert_eq!(
        slices[1].as_ptr(),
        payload.as_ptr(),
        "payload slice is the caller's buffer"
    );
    assert_eq!(slices[0].len(), 4 + 10);
    // Partial writes keep the order.
    srv.advance_transmit(7);
    let rest = drain(&mut srv);
    assert_eq!(rest.len(), 4 + 10 + 100_000 + 7 - 7);
}

#[test]
fn client_masks_every_frame_with_fresh_keys() {
    let mut cli = client();
    cli.send(Message::text("hello")).unwrap();
    cli.send(Message::text("hello")).unwrap();
    let bytes = drain(&mut cli);
    let sent = frames(&bytes);
    assert!(sent.iter().all(|f| f.3 && f.4 == b"hello"));
    assert_ne!(bytes[2..6], bytes[13..17], "mask keys repeat");
}

#[test]
fn auto_fragmentation_splits_outgoing_messages() {
    let config = Config::default().max_outgoing_frame_size(Some(4));
    let mut cli = Connection::new(Role::Client, config);
    cli.send(Message::binary(&b"0123456789"[..])).unwrap();
    let sent = frames(&drain(&mut cli));
    let expected: Vec<(OpCode, bool, u8, bool, Vec<u8>)> = vec![
        (OpCode::Binary, false, 0, true, b"0123".to_vec()),
        (OpCode::Continuation, false, 0, true, b"4567".to_vec()),
        (OpCode::Continuation, true, 0, true, b"89".to_vec()),
    ];
    assert_eq!(sent, expected);
}

#[test]
fn send_argument_and_order_checks() {
    let mut srv = server();
    assert_eq!(
        srv.send(Message::Ping(Bytes::from(vec![0; 126]))),
        Err(SendError::ControlFrameTooLong(126))
    );
    assert!(matches!(
        srv.send_fragment(DataKind::Text, Bytes::new(), false, true),
        Err(SendError::FragmentOrder(
            FragmentOrder::ContinuationWithoutStart
        ))
    ));
    srv.send_fragment(DataKind::Text, Bytes::from_static(b"a"), true, false)
        .unwrap();
    assert!(matches!(
        srv.send(Message::text("x")),
        Err(SendError::FragmentOrder(
            FragmentOrder::WholeMessageDuringStream
        ))
    ));
    assert!(matches!(
        srv.send_fragment(DataKind::Text, Bytes::new(), true, true),
        Err(SendError::FragmentOrder(FragmentOrder::StartDuringStream))
    ));
    assert!(matches!(
        srv.send_fragment(DataKind::Binary, Bytes::new(), false, true),
        Err(SendError::FragmentOrder(FragmentOrder::KindChanged))
    ));
    srv.send(Message::Pong(Bytes::from_static(b"between")))
        .unwrap();
    srv.send_fragment(DataKind::Text, Bytes::from_static(b"b"), false, true)
        .unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [
            (OpCode::Text, false, 0, false, b"a".to_vec()),
            (OpCode::Pong, true, 0, false, b"between".to_vec()),
            (OpCode::Continuation, true, 0, false, b"b".to_vec()),
        ]
    );
}

// ------------------------------------------------------------------- timers

fn timed(config: Config) -> (Connection, Instant) {
    let mut conn = Connection::new(Role::Server, config);
    let start = Instant::now();
    conn.record_activity(start);
    (conn, start)
}

#[test]
fn keepalive_ping_is_sent_after_the_interval_and_any_frame_answers() {
    let config = Config::default()
        .ping_interval(Some(Duration::from_secs(20)))
        .pong_timeout(Duration::from_secs(5));
    let (mut srv, t0) = timed(config);
    assert_eq!(srv.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    srv.handle_timeout(t0 + Duration::from_secs(19)).unwrap();
    assert_eq!(srv.transmit_len(), 0);
    srv.handle_timeout(t0 + Duration::from_secs(20)).unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [(OpCode::Ping, true, 0, false, vec![])]
    );
    assert_eq!(srv.poll_timeout(), Some(t0 + Duration::from_secs(25)));
    // Any frame (here a text message) answers the ping.
    srv.receive(&c(0x81, b"x"));
    events(&mut srv).unwrap();
    assert_eq!(srv.poll_timeout(), Some(t0 + Duration::from_secs(40)));
    srv.handle_timeout(t0 + Duration::from_secs(26)).unwrap();
}

/// A text frame from the client at `at`, fed the way the driver does.
fn client_text_at(srv: &mut Connection, at: Instant, text: &[u8]) {
    srv.receive(&c(0x81, text));
    srv.record_activity(at);
    assert_eq!(events(srv).unwrap().len(), 1);
}

#[test]
fn keepalive_pings_a_server_that_only_receives() {
    // A client streams a message every 5 s and the server never answers:
    // the server still pings every 20 s, because it has sent nothing for
    // that long (a proxy that times only backend bytes, like Caddy's
    // read_timeout, would cut the connection otherwise).
    let secs = Duration::from_secs;
    let config = Config::default()
        .ping_interval(Some(secs(20)))
        .pong_timeout(secs(5));
    let (mut srv, t0) = timed(config);
    let mut pings_at = Vec::new();
    for tick in 1..=20u64 {
        let now = t0 + secs(5 * tick);
        client_text_at(&mut srv, now, b"report");
        // Received just now, sent nothing since the last ping (or the
        // opening): the deadline is on the sent side.
        let last_sent = pings_at.last().copied().unwrap_or(t0);
        assert_eq!(srv.poll_timeout(), Some(last_sent + secs(20)), "{tick}");
        srv.handle_timeout(now).unwrap();
        let sent = frames(&drain(&mut srv));
        if now >= last_sent + secs(20) {
            assert_eq!(sent, [(OpCode::Ping, true, 0, false, vec![])], "{tick}");
            pings_at.push(now);
        } else {
            assert_eq!(sent, [], "{tick}");
        }
    }
    assert_eq!(
        pings_at,
        (1..=5).map(|n| t0 + secs(20 * n)).collect::<Vec<_>>()
    );
    // The client's next message answers the last ping; no pong is needed.
    assert!(!srv.is_failed());
    assert_eq!(srv.state(), State::Open);
}

#[test]
fn keepalive_ping_for_one_way_traffic_still_needs_an_answer() {
    let secs = Duration::from_secs;
    let config = Config::default()
        .ping_interval(Some(secs(20)))
        .pong_timeout(secs(5));
    let (mut srv, t0) = timed(config);
    client_text_at(&mut srv, t0 + secs(19), b"report");
    srv.handle_timeout(t0 + secs(20)).unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [(OpCode::Ping, true, 0, false, vec![])]
    );
    // The client falls silent after the ping: the pong timeout runs from
    // the ping, whatever arrived just before it.
    assert_eq!(srv.poll_timeout(), Some(t0 + secs(25)));
    assert_eq!(
        srv.handle_timeout(t0 + secs(25)),
        Err(Error::KeepaliveTimeout(secs(5)))
    );
}

#[test]
fn a_send_moves_the_sent_side_of_the_keepalive_deadline() {
    let secs = Duration::from_secs;
    let (mut srv, t0) = timed(Config::default().ping_interval(Some(secs(20))));
    client_text_at(&mut srv, t0 + secs(15), b"hello");
    assert_eq!(srv.poll_timeout(), Some(t0 + secs(20)), "nothing sent yet");
    // Sent "now", as far as the connection knows: t0 + 15 s.
    srv.send(Message::text("hi")).unwrap();
    assert_eq!(srv.poll_timeout(), Some(t0 + secs(35)));
    // A send between time inputs is stamped with the latest one, so the
    // ping can come early, never late.
    srv.handle_timeout(t0 + secs(30)).unwrap();
    assert_eq!(srv.poll_timeout(), Some(t0 + secs(35)));
    srv.send(Message::binary(&b"later"[..])).unwrap();
    assert_eq!(srv.poll_timeout(), Some(t0 + secs(35)), "received side");
    drain(&mut srv);
    srv.handle_timeout(t0 + secs(35)).unwrap();
    assert_eq!(
        frames(&drain(&mut srv)),
        [(OpCode::Ping, true, 0, false, vec![])]
    );
}

#[test]
fn keepalive_stays_silent_while_both_directions_carry_traffic() {
    let secs = Duration::from_secs;
    let (mut srv, t0) = timed(Config::default().ping_interval(Some(secs(20))));
    for tick in 1..=40u64 {
        let now = t0 + secs(5 * tick);
        if tick % 2 == 0 {
            // Every other tick the peer pings instead of sending data: the
            // automatic pong counts as sent too.
            srv.receive(&c(0x89, b"peer ping"));
            srv.record_activity(now);
            events(&mut srv).unwrap();
        } else {
            client_text_at(&mut srv, now, b"question");
            srv.send(Message::text("answer")).unwrap();
        }
        srv.handle_timeout(now).unwrap();
        let sent = frames(&drain(&mut srv));
        assert!(
            sent.iter().all(|frame| frame.0 != OpCode::Ping),
            "{tick}: {sent:?}"
        );
        assert_eq!(srv.poll_timeout(), Some(now + secs(20)), "{tick}");
    }
}

#[test]
fn missing_pong_fails_with_keepalive_timeout_and_close_1011() {
    let config = Config::default()
        .ping_interval(Some(Duration::from_secs(1)))
        .pong_timeout(Duration::from_secs(2));
    let (mut srv, t0) = timed(config);
    srv.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
    let deadline = srv.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(3));
    assert_eq!(
        srv.handle_timeout(deadline),
        Err(Error::KeepaliveTimeout(Duration::from_secs(2)))
    );
    let sent = frames(&drain(&mut srv));
    assert_eq!(
        sent[1],
        (OpCode::Close, true, 0, false, close_payload(1011, ""))
    );
    assert!(srv.should_close_transport());
    assert_eq!(srv.poll_timeout(), None);
}

#[test]
fn record_activity_resets_idle_timeout_which_fails_with_1001() {
    let config = Config::default()
        .ping_interval(None)
        .idle_timeout(Some(Duration::from_secs(30)));
    let (mut srv, t0) = timed(config);
    srv.record_activity(t0 + Duration::from_secs(10));
    assert_eq!(srv.poll_timeout(), Some(t0 + Duration::from_secs(40)));
    srv.handle_timeout(t0 + Duration::from_secs(39)).unwrap();
    assert_eq!(
        srv.handle_timeout(t0 + Duration::from_secs(40)),
        Err(Error::IdleTimeout(Duration::from_secs(30)))
    );
    let sent = frames(&drain(&mut srv));
    assert_eq!(
        sent,
        [(OpCode::Close, true, 0, false, close_payload(1001, ""))]
    );
}

#[test]
fn close_timeout_starts_when_close_is_called() {
    let config = Config::default().close_timeout(Duration::from_secs(10));
    let (mut srv, t0) = timed(config);
    let t1 = t0 + Duration::from_secs(3);
    srv.close(t1, None).unwrap();
    assert_eq!(srv.poll_timeout(), Some(t1 + Duration::from_secs(10)));
    assert_eq!(srv.close_deadline(), Some(t1 + Duration::from_secs(10)));
    srv.handle_timeout(t1 + Duration::from_secs(9)).unwrap();
    assert_eq!(srv.poll_timeout(), Some(t1 + Duration::from_secs(10)));
    assert!(!srv.should_close_transport());
    assert_eq!(
        srv.handle_timeout(t1 + Duration::from_secs(10)),
        Err(Error::CloseTimeout(Duration::from_secs(10)))
    );
    assert!(srv.should_close_transport());
    assert_eq!(
        frames(&drain(&mut srv)).len(),
        1,
        "only the first close frame"
    );
}

#[test]
fn a_failure_starts_the_close_deadline_at_the_time_it_happened() {
    let config = Config::default()
        .ping_interval(None)
        .close_timeout(Duration::from_secs(10));
    let (mut srv, t0) = timed(config);
    assert_eq!(srv.close_deadline(), None, "open");
    let t1 = t0 + Duration::from_secs(4);
    srv.receive(&c(0x81, &[0xC0, 0x80]));
    srv.record_activity(t1);
    assert!(srv.poll_event().is_err());
    assert_eq!(srv.close_deadline(), Some(t1 + Duration::from_secs(10)));
    assert_eq!(srv.poll_timeout(), None, "nothing left for proto's timers");
}

#[test]
fn client_waiting_for_eof_gives_up_after_close_timeout() {
    let config = Config::default().close_timeout(Duration::from_secs(10));
    let mut cli = Connection::new(Role::Client, config);
    let t0 = Instant::now();
    cli.receive(&s(0x88, b""));
    cli.record_activity(t0);
    events(&mut cli).unwrap();
    drain(&mut cli);
    assert_eq!(cli.state(), State::Closed);
    assert!(!cli.should_close_transport());
    assert_eq!(cli.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    assert_eq!(
        cli.handle_timeout(t0 + Duration::from_secs(10)),
        Err(Error::CloseTimeout(Duration::from_secs(10)))
    );
    assert!(cli.should_close_transport());
    assert_eq!(
        cli.receive_eof(),
        Ok(()),
        "the close handshake itself completed"
    );
}

#[test]
fn no_timers_before_the_first_time_input() {
    let srv = server();
    assert_eq!(srv.poll_timeout(), None);
}

#[test]
fn read_buffer_is_released_when_idle_after_a_large_frame() {
    let mut srv = server();
    srv.receive(&c(0x82, &vec![1u8; 200_000]));
    let Some(Event::Message(Message::Binary(data))) = srv.poll_event().unwrap() else {
        panic!("expected binary");
    };
    assert_eq!(data.len(), 200_000);
    assert_eq!(srv.poll_event(), Ok(None));
    assert!(
        srv.read_buf().capacity() <= 64 * 1024,
        "{}",
        srv.read_buf().capacity()
    );
}

#[test]
fn incomplete_frame_grows_the_read_buffer_geometrically_within_the_frame() {
    let mut srv = server();
    let bytes = c(0x82, &vec![3u8; 1_000_000]);
    srv.receive(&bytes[..100]);
    assert_eq!(srv.poll_event(), Ok(None));
    let capacity = srv.read_buf().capacity();
    assert!(capacity >= 64 * 1024, "reserved a read step: {capacity}");
    assert!(capacity <= bytes.len(), "never past the frame: {capacity}");
    srv.receive(&bytes[100..]);
    assert!(
        matches!(srv.poll_event(), Ok(Some(Event::Message(Message::Binary(d)))) if d.len() == 1_000_000)
    );
}

#[test]
fn invalid_utf8_inside_an_incomplete_text_frame_fails_fast() {
    // Autobahn 6.4.3/6.4.4: one text frame arrives in chops; the second chop
    // holds F4 90 80 80 (above U+10FFFF). Whole-message mode must fail on
    // that chop, before the rest of the frame arrives.
    let payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited";
    for (conn, frame) in [(server(), c(0x81, payload)), (client(), s(0x81, payload))] {
        let mut conn = conn;
        let header_len = frame.len() - payload.len();
        conn.receive(&frame[..header_len + 11]);
        assert_eq!(events(&mut conn), Ok(vec![]));
        conn.receive(&frame[header_len + 11..header_len + 13]);
        assert_eq!(
            events(&mut conn),
            Err(Error::Protocol(ProtocolError::InvalidUtf8))
        );
    }
    // The same check continues a fragmented message's validator state, and
    // valid text split anywhere is still delivered whole.
    let text = "κόσμε, ünïcödé";
    let bytes = text.as_bytes();
    for cut in 0..bytes.len() {
        let mut conn = server();
        let mut wire_bytes = c(0x01, &bytes[..cut]);
        wire_bytes.extend(c(0x80, &bytes[cut..]));
        for byte in &wire_bytes {
            conn.receive(std::slice::from_ref(byte));
            let got = events(&mut conn).unwrap();
            if !got.is_empty() {
                assert_eq!(got, vec![Event::Message(Message::text(text))]);
            }
        }
    }
}

// ------------------------------------------------- data after our close

#[test]
fn a_message_in_progress_when_we_close_is_completed_and_delivered() {
    for delivery in [Delivery::Messages, Delivery::Chunks] {
        let mut srv = Connection::new(Role::Server, Config::default().delivery(delivery));
        srv.receive(&c(0x01, b"hello "));
        let before = events(&mut srv).unwrap();
        srv.close(Instant::now(), None).unwrap();
        drain(&mut srv);
        srv.receive(&c(0x80, b"world"));
        srv.receive(&c(0x88, b""));
        let mut got = before;
        got.extend(events(&mut srv).unwrap());
        let expected = match delivery {
            Delivery::Messages => vec![msg(Message::text("hello world"))],
            Delivery::Chunks => vec![
                fragment(DataKind::Text, b"hello ", true, false),
                fragment(DataKind::Text, b"world", false, true),
            ],
        };
        assert_eq!(got[..got.len() - 1], expected[..], "{delivery:?}");
        assert_eq!(got.last(), Some(&msg(Message::Close(None))));
        assert_eq!(srv.state(), State::Closed);
    }
}

#[test]
fn data_after_our_close_is_still_checked() {
    // RFC 6455 §8.1: invalid UTF-8 fails (1007) in every state; our close
    // frame is already out, so no second one is queued.
    let mut srv = server();
    srv.close(Instant::now(), Some(CloseFrame::new(1000, "")))
        .unwrap();
    drain(&mut srv);
    srv.receive(&c(0x81, &[0xC0, 0x80]));
    assert_eq!(srv.poll_event(), Err(protocol(ProtocolError::InvalidUtf8)));
    assert_eq!(srv.transmit_len(), 0, "a second close frame was queued");
    assert!(srv.is_failed() && srv.should_close_transport());
    // RFC 6455 §5.4: fragment order is checked too.
    let mut srv = server();
    srv.close(Instant::now(), None).unwrap();
    srv.receive(&c(0x80, b"orphan"));
    assert_eq!(
        srv.poll_event(),
        Err(protocol(ProtocolError::UnexpectedContinuation))
    );
}

// ------------------------------------------------------------ ping flood

/// A ping frame from the peer of `role`.
fn ping_from_peer(role: Role, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Server => c(0x89, payload),
        Role::Client => s(0x89, payload),
    }
}

fn pong_payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    frames(bytes)
        .into_iter()
        .map(|(opcode, _, _, _, payload)| {
            assert_eq!(opcode, OpCode::Pong);
            payload
        })
        .collect()
}

fn ping_payload(i: usize) -> Vec<u8> {
    format!("ping-{i}").into_bytes()
}

#[test]
fn ping_flood_without_writes_keeps_the_transmit_buffer_bounded() {
    const PINGS: usize = 100_000;
    // Header (client pongs are masked) plus the longest payload used here.
    let largest_pong = 2 + 4 + ping_payload(PINGS - 1).len();
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        let mut batch = Vec::new();
        let mut largest_transmit = 0;
        for i in 0..PINGS {
            batch.extend(ping_from_peer(role, &ping_payload(i)));
            if batch.len() >= 4096 || i == PINGS - 1 {
                conn.receive(&batch);
                batch.clear();
                while let Some(event) = conn.poll_event().unwrap() {
                    assert!(matches!(event, Event::Message(Message::Ping(_))));
                }
                largest_transmit = largest_transmit.max(conn.transmit_len());
            }
        }
        assert!(
            largest_transmit <= transmit::MAX_QUEUED_PONGS * largest_pong,
            "{role:?}: {largest_transmit} bytes queued for {PINGS} unread pings"
        );
        assert!(largest_transmit < 400, "{role:?}: {largest_transmit}");
        // The peer finally reads: the queued pongs, then one answering the
        // most recent ping (RFC 6455 §5.5.3).
        let pongs = pong_payloads(&drain(&mut conn));
        let mut expected: Vec<Vec<u8>> =
            (0..transmit::MAX_QUEUED_PONGS).map(ping_payload).collect();
        expected.push(ping_payload(PINGS - 1));
        assert_eq!(pongs, expected, "{role:?}");
    }
}

#[test]
fn the_pong_backlog_exists_only_while_pongs_are_unwritten() {
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        assert!(
            conn.pongs.is_none(),
            "{role:?}: a new connection has no backlog"
        );
        // A flood deep enough to hold a pong back, then the peer reads.
        let flood: Vec<u8> = (0..transmit::MAX_QUEUED_PONGS + 3)
            .flat_map(|i| ping_from_peer(role, &ping_payload(i)))
            .collect();
        conn.receive(&flood);
        events(&mut conn).unwrap();
        assert!(
            conn.pongs.as_ref().is_some_and(|p| p.held.is_some()),
            "{role:?}"
        );
        let pongs = pong_payloads(&drain(&mut conn));
        assert_eq!(pongs.len(), transmit::MAX_QUEUED_PONGS + 1, "{role:?}");
        assert!(
            conn.pongs.is_none(),
            "{role:?}: every pong is written, so the backlog is released"
        );
        // And it comes back for the next ping.
        conn.receive(&ping_from_peer(role, b"again"));
        events(&mut conn).unwrap();
        assert!(conn.pongs.is_some(), "{role:?}");
        assert_eq!(pong_payloads(&drain(&mut conn)), vec![b"again".to_vec()]);
        assert!(conn.pongs.is_none(), "{role:?}");
    }
}

#[test]
fn connections_built_from_one_settings_share_it() {
    let settings = Arc::new(Settings::new(
        Config::default().ping_interval(None),
        Limits::default().max_message_size(1 << 20),
    ));
    let first = Connection::with_settings(Role::Server, Arc::clone(&settings));
    let second = Connection::with_settings(Role::Server, Arc::clone(&settings));
    assert!(Arc::ptr_eq(first.settings(), second.settings()));
    assert_eq!(first.config().ping_interval, None);
    assert_eq!(second.limits().max_message_size, 1 << 20);
    assert_eq!(Arc::strong_count(&settings), 3);
}

#[test]
fn every_ping_is_answered_when_the_driver_writes_after_each_read() {
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        let mut pongs = Vec::new();
        // Bursts of 10 pings per read, like Autobahn 2.10.
        for burst in 0..100 {
            let bytes: Vec<u8> = (0..10)
                .flat_map(|i| ping_from_peer(role, &ping_payload(burst * 10 + i)))
                .collect();
            conn.receive(&bytes);
            assert_eq!(events(&mut conn).unwrap().len(), 10);
            pongs.extend(pong_payloads(&drain(&mut conn)));
        }
        assert_eq!(
            pongs,
            (0..1000).map(ping_payload).collect::<Vec<_>>(),
            "{role:?}"
        );
    }
}

#[test]
fn held_pong_is_queued_once_a_queued_pong_is_written() {
    let mut srv = server();
    for i in 0..40 {
        srv.receive(&c(0x89, &ping_payload(i)));
    }
    assert_eq!(events(&mut srv).unwrap().len(), 40);
    let queued = srv.transmit_len();
    // Write just the first pong (2-byte header, "ping-0").
    let first = 2 + ping_payload(0).len();
    srv.advance_transmit(first);
    assert_eq!(
        srv.transmit_len(),
        queued - first + 2 + ping_payload(39).len(),
        "the held pong was not queued when room appeared"
    );
    let pongs = pong_payloads(&drain(&mut srv));
    let mut expected: Vec<Vec<u8>> = (1..transmit::MAX_QUEUED_PONGS).map(ping_payload).collect();
    expected.push(ping_payload(39));
    assert_eq!(pongs, expected);
    // With the backlog gone, pings are answered one for one again.
    srv.receive(&c(0x89, b"again"));
    events(&mut srv).unwrap();
    assert_eq!(pong_payloads(&drain(&mut srv)), [b"again".to_vec()]);
}

#[test]
fn held_pong_goes_out_before_a_close_frame() {
    let peer_close = c(0x88, &close_payload(1000, ""));
    for peer_closes in [false, true] {
        let mut srv = server();
        for i in 0..20 {
            srv.receive(&c(0x89, &ping_payload(i)));
        }
        if peer_closes {
            srv.receive(&peer_close);
            events(&mut srv).unwrap();
        } else {
            assert_eq!(events(&mut srv).unwrap().len(), 20);
            srv.close(Instant::now(), Some(CloseFrame::new(1001, "")))
                .unwrap();
        }
        let sent = frames(&drain(&mut srv));
        let (close, pongs) = sent.split_last().unwrap();
        let pongs: Vec<Vec<u8>> = pongs.iter().map(|f| f.4.clone()).collect();
        let mut expected: Vec<Vec<u8>> =
            (0..transmit::MAX_QUEUED_PONGS).map(ping_payload).collect();
        expected.push(ping_payload(19));
        assert_eq!(pongs, expected, "peer closes: {peer_closes}");
        assert_eq!(close.0, OpCode::Close, "peer closes: {peer_closes}");
    }
}

// ------------------------------------------------ pings after our close

#[test]
fn pings_after_our_close_are_answered_after_the_close_frame() {
    // RFC 6455 §5.5.2: only a *received* close releases an endpoint from
    // answering pings; §5.5.1 forbids data frames after our close, not
    // control frames, so the pong follows our close frame on the wire.
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        conn.close(Instant::now(), Some(CloseFrame::new(1000, "bye")))
            .unwrap();
        conn.receive(&ping_from_peer(role, b"before the close is written"));
        assert_eq!(
            events(&mut conn).unwrap(),
            [msg(Message::Ping(Bytes::from_static(
                b"before the close is written"
            )))]
        );
        let sent = frames(&drain(&mut conn));
        let kinds: Vec<OpCode> = sent.iter().map(|frame| frame.0).collect();
        assert_eq!(kinds, [OpCode::Close, OpCode::Pong], "{role:?}");
        assert_eq!(sent[1].4, b"before the close is written", "{role:?}");
        conn.receive(&ping_from_peer(role, b"after"));
        events(&mut conn).unwrap();
        assert_eq!(
            pong_payloads(&drain(&mut conn)),
            [b"after".to_vec()],
            "{role:?}"
        );
        assert_eq!(conn.state(), State::CloseSent);
        // The application still cannot send control frames itself.
        assert_eq!(
            conn.send(Message::Pong(Bytes::new())),
            Err(SendError::Closed)
        );
    }
}

#[test]
fn no_pong_once_the_peer_close_arrived() {
    for ours_first in [false, true] {
        let mut srv = server();
        if ours_first {
            srv.close(Instant::now(), None).unwrap();
            drain(&mut srv);
        }
        srv.receive(&c(0x89, b"answered"));
        srv.receive(&c(0x88, &close_payload(1000, "")));
        srv.receive(&c(0x89, b"after the close"));
        let got = events(&mut srv).unwrap();
        assert_eq!(got.len(), 2, "the ping after the close is not read");
        let sent: Vec<(OpCode, Vec<u8>)> = frames(&drain(&mut srv))
            .into_iter()
            .map(|frame| (frame.0, frame.4))
            .collect();
        let mut expected = vec![(OpCode::Pong, b"answered".to_vec())];
        if !ours_first {
            expected.push((OpCode::Close, close_payload(1000, "")));
        }
        assert_eq!(sent, expected, "ours first: {ours_first}");
        assert_eq!(srv.state(), State::Closed);
    }
}

#[test]
fn ping_flood_after_our_close_keeps_the_transmit_buffer_bounded() {
    const PINGS: usize = 50_000;
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        conn.close(Instant::now(), None).unwrap();
        let close_len = conn.transmit_len();
        let largest_pong = 2 + 4 + ping_payload(PINGS - 1).len();
        let mut largest_transmit = 0;
        let mut batch = Vec::new();
        for i in 0..PINGS {
            batch.extend(ping_from_peer(role, &ping_payload(i)));
            if batch.len() >= 4096 || i == PINGS - 1 {
                conn.receive(&batch);
                batch.clear();
                events(&mut conn).unwrap();
                largest_transmit = largest_transmit.max(conn.transmit_len());
            }
        }
        assert!(
            largest_transmit <= close_len + transmit::MAX_QUEUED_PONGS * largest_pong,
            "{role:?}: {largest_transmit} bytes queued for {PINGS} unread pings"
        );
        // Written at last: our close, the queued pongs, then the held one
        // for the most recent ping, queued once room appeared.
        let sent = frames(&drain(&mut conn));
        let (close, pongs) = sent.split_first().unwrap();
        assert_eq!(close.0, OpCode::Close, "{role:?}");
        let pongs: Vec<Vec<u8>> = pongs
            .iter()
            .map(|frame| {
                assert_eq!(frame.0, OpCode::Pong, "{role:?}");
                frame.4.clone()
            })
            .collect();
        let mut expected: Vec<Vec<u8>> =
            (0..transmit::MAX_QUEUED_PONGS).map(ping_payload).collect();
        expected.push(ping_payload(PINGS - 1));
        assert_eq!(pongs, expected, "{role:?}");
    }
}

#[test]
fn held_pong_after_our_close_goes_out_when_the_peer_close_arrives() {
    // Our close is out, a ping flood fills the pong backlog, and the peer's
    // close arrives before anything more is written: the held pong answers
    // a ping received before that close, so it is still sent.
    let mut srv = server();
    srv.close(Instant::now(), None).unwrap();
    drain(&mut srv);
    for i in 0..20 {
        srv.receive(&c(0x89, &ping_payload(i)));
    }
    srv.receive(&c(0x88, b""));
    assert_eq!(events(&mut srv).unwrap().len(), 21);
    assert_eq!(srv.state(), State::Closed);
    let mut expected: Vec<Vec<u8>> = (0..transmit::MAX_QUEUED_PONGS).map(ping_payload).collect();
    expected.push(ping_payload(19));
    assert_eq!(pong_payloads(&drain(&mut srv)), expected);
}

// ------------------------------------------------------ read buffer growth

#[test]
fn read_buffer_fed_byte_by_byte_grows_only_when_its_spare_room_runs_low() {
    // A client with default limits; a 10-byte header announcing 1 MiB.
    const LEN: usize = 1 << 20;
    let bytes = s(0x82, &vec![9u8; LEN]);
    let header = 10;
    let mut cli = client();
    let mut fed = 0;
    let mut largest = 0;
    while fed < bytes.len() {
        // One byte at a time across the first growth steps, then larger reads.
        let step = if fed < 200_000 { 1 } else { 4096 };
        let end = (fed + step).min(bytes.len());
        cli.receive(&bytes[fed..end]);
        fed = end;
        let event = cli.poll_event().unwrap();
        if fed < bytes.len() {
            assert_eq!(event, None);
        } else {
            assert!(matches!(event, Some(Event::Message(Message::Binary(d))) if d.len() == LEN));
            break;
        }
        let capacity = cli.read_buf().capacity();
        largest = largest.max(capacity);
        if fed > header {
            assert!(
                capacity <= bytes.len(),
                "past the frame: {capacity} after {fed}"
            );
            let geometric = (fed + read_buffer::READ_RESERVE_STEP)
                .max(2 * fed + 2 * read_buffer::READ_SPARE_MIN);
            assert!(capacity <= geometric, "{capacity} after {fed} bytes");
        }
        if (header + 1..4096).contains(&fed) {
            assert!(
                capacity <= header + read_buffer::READ_RESERVE_STEP,
                "grew again with room to spare: {capacity} after {fed} bytes"
            );
        }
    }
    assert!(largest <= bytes.len(), "{largest}");
}

#[test]
fn incomplete_frame_len_reports_a_frame_whose_payload_is_still_arriving() {
    let mut srv = server();
    assert_eq!(srv.incomplete_frame_len(), None, "empty buffer");
    let frame = c(0x82, &[0xAB; 70_000]);
    // Not even the whole header yet.
    srv.receive(&frame[..3]);
    assert_eq!(srv.incomplete_frame_len(), None);
    srv.receive(&frame[3..5_000]);
    assert_eq!(events(&mut srv).unwrap(), vec![]);
    assert_eq!(srv.incomplete_frame_len(), Some(frame.len()));
    srv.receive(&frame[5_000..]);
    // Complete: nothing is missing, before and after it is taken.
    assert_eq!(srv.incomplete_frame_len(), None);
    assert_eq!(events(&mut srv).unwrap().len(), 1);
    assert_eq!(srv.incomplete_frame_len(), None);
    // A small frame is reported too; the driver decides what is large.
    srv.receive(&c(0x81, b"hello")[..8]);
    assert_eq!(srv.incomplete_frame_len(), Some(6 + 5));

    // Streaming delivery never buffers a whole frame.
    let mut streaming = Connection::new(Role::Server, Config::default().delivery(Delivery::Chunks));
    streaming.receive(&frame[..5_000]);
    assert_eq!(streaming.incomplete_frame_len(), None);
    assert_eq!(events(&mut streaming).unwrap().len(), 1, "first piece");
    assert_eq!(streaming.incomplete_frame_len(), None);
}
