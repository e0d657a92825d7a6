//! Property tests of the connection: chunking independence, round trips
//! between the two roles, and robustness against arbitrary bytes.

mod common;

use bytes::Bytes;
use common::{drain_transmit, parse_frames};
use proptest::prelude::*;
use switchboard_proto::frame::{OpCode, MAX_HEADER_LEN};
use switchboard_proto::{
    CloseCode, CloseFrame, Config, Connection, DataKind, Delivery, Error, Event, Limits, Message,
    Role,
};

// ----------------------------------------------------------------- helpers

/// A frame as the peer of `receiver` would put it on the wire: masked with
/// `key` towards a server.
fn encode_frame(
    receiver: Role,
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    key: [u8; 4],
) -> Vec<u8> {
    let mask = (receiver == Role::Server).then_some(key);
    common::encode_frame(fin, 0, opcode as u8, mask, payload)
}

#[derive(Debug, Clone)]
enum Item {
    /// A data message cut into frames, with control frames after some frames.
    Data {
        text: bool,
        payload: Vec<u8>,
        cuts: Vec<usize>,
        pings_between: Vec<bool>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (
            any::<bool>(),
            ".{0,40}",
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(0usize..300, 0..4),
            proptest::collection::vec(any::<bool>(), 0..4)
        )
            .prop_map(|(text, string, binary, cuts, pings_between)| Item::Data {
                text,
                payload: if text { string.into_bytes() } else { binary },
                cuts,
                pings_between,
            }),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Ping),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Pong),
    ]
}

/// Wire bytes for `items`, ending with a close frame when `close` is set.
fn encode_items(receiver: Role, items: &[Item], close: Option<u16>, key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Ping(p) => out.extend(encode_frame(receiver, OpCode::Ping, true, p, key)),
            Item::Pong(p) => out.extend(encode_frame(receiver, OpCode::Pong, true, p, key)),
            Item::Data {
                text,
                payload,
                cuts,
                pings_between,
            } => {
                let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
                cuts.sort_unstable();
                cuts.push(payload.len());
                let mut start = 0;
                for (i, &end) in cuts.iter().enumerate() {
                    let opcode = match (i, text) {
                        (0, true) => OpCode::Text,
                        (0, false) => OpCode::Binary,
                        _ => OpCode::Continuation,
                    };
                    let fin = i + 1 == cuts.len();
                    out.extend(encode_frame(
                        receiver,
                        opcode,
                        fin,
                        &payload[start..end],
                        key,
                    ));
                    if !fin && pings_between.get(i).copied().unwrap_or(false) {
                        out.extend(encode_frame(receiver, OpCode::Ping, true, b"mid", key));
                    }
                    start = end;
                }
            }
        }
    }
    if let Some(code) = close {
        out.extend(encode_frame(
            receiver,
            OpCode::Close,
            true,
            &code.to_be_bytes(),
            key,
        ));
    }
    out
}

/// Events until `Ok(None)` or an error.
fn poll_all(conn: &mut Connection, out: &mut Vec<Event>) -> Result<(), Error> {
    while let Some(event) = conn.poll_event()? {
        out.push(event);
    }
    Ok(())
}

/// Feeds `bytes` in pieces whose sizes cycle through `cuts`; returns the
/// events and the first error.
fn feed(conn: &mut Connection, bytes: &[u8], cuts: &[usize]) -> (Vec<Event>, Option<Error>) {
    let mut events = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let size = cuts
            .get(i % cuts.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        i += 1;
        conn.receive(&rest[..size]);
        rest = &rest[size..];
        if let Err(error) = poll_all(conn, &mut events) {
            return (events, Some(error));
        }
    }
    (events, None)
}

/// Whole messages from streamed fragments, for comparing with whole-message
/// mode.
fn merge_fragments(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut pending: Option<(DataKind, Vec<u8>)> = None;
    for event in events {
        match event {
            Event::Chunk(f) => {
                assert_eq!(f.first, pending.is_none(), "first flag");
                let (_, data) = pending.get_or_insert((f.kind, Vec::new()));
                data.extend_from_slice(&f.payload);
                if f.fin {
                    let (kind, data) = pending.take().expect("pending");
                    out.push(Event::Message(match kind {
                        DataKind::Text => Message::text(String::from_utf8(data).expect("utf8")),
                        DataKind::Binary => Message::binary(data),
                    }));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Everything in the transmit buffer, as decoded (unmasked) frames.
fn sent_frames(conn: &mut Connection) -> Vec<(u8, bool, Vec<u8>)> {
    parse_frames(&drain_transmit(conn))
        .into_iter()
        .map(|frame| (frame.opcode, frame.fin, frame.payload))
        .collect()
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)]
}

fn config(delivery: Delivery) -> Config {
    Config::default().delivery(delivery)
}

// ------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (a) Valid streams give the same events however they are chunked, in
    /// both delivery modes, and the same automatic replies.
    #[test]
    fn chunking_does_not_change_events(
        receiver in role(),
        items in proptest::collection::vec(item(), 0..8),
        close in proptest::option::of(prop_oneof![Just(1000u16), Just(1001), Just(4000)]),
        key in any::<[u8; 4]>(),
        cuts in proptest::collection::vec(1usize..40, 1..6),
    ) {
        let bytes = encode_items(receiver, &items, close, key);
        let mut whole = Connection::new(receiver, config(Delivery::Messages));
        let (expected, error) = feed(&mut whole, &bytes, &[bytes.len().max(1)]);
        prop_assert_eq!(error, None);
        let mut chunked = Connection::new(receiver, config(Delivery::Messages));
        let (events, error) = feed(&mut chunked, &bytes, &cuts);
        prop_assert_eq!(error, None);
        prop_assert_eq!(&events, &expected);
        prop_assert_eq!(sent_frames(&mut whole), sent_frames(&mut chunked));
        prop_assert_eq!(whole.state(), chunked.state());

        let mut streaming = Connection::new(receiver, config(Delivery::Chunks));
        let (fragments, error) = feed(&mut streaming, &bytes, &cuts);
        prop_assert_eq!(error, None);
        prop_assert_eq!(merge_fragments(fragments), expected);
    }

    /// (a) A large masked frame arriving in pieces (unmasked in place as
    /// each piece arrives, through the wide SIMD path at every offset into
    /// the key) is the payload that was sent, text or binary.
    #[test]
    fn a_large_frame_arriving_in_pieces_is_unmasked_exactly(
        len in 0usize..70_000,
        seed in any::<u8>(),
        text in any::<bool>(),
        key in any::<[u8; 4]>(),
        cuts in proptest::collection::vec(1usize..5_000, 1..6),
    ) {
        let payload: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) & if text { 0x7f } else { 0xff })
            .collect();
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let bytes = encode_frame(Role::Server, opcode, true, &payload, key);
        let mut conn = Connection::new(Role::Server, config(Delivery::Messages));
        let (events, error) = feed(&mut conn, &bytes, &cuts);
        prop_assert_eq!(error, None);
        let expected = if text {
            Message::text(String::from_utf8(payload).unwrap())
        } else {
            Message::binary(payload)
        };
        prop_assert_eq!(events, vec![Event::Message(expected)]);
    }

    /// (a) Arbitrary and corrupted streams: the events before the first error
    /// and the error itself do not depend on chunking.
    #[test]
    fn chunking_does_not_change_the_first_error(
        receiver in role(),
        items in proptest::collection::vec(item(), 0..4),
        key in any::<[u8; 4]>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(1usize..20, 1..6),
    ) {
        let mut bytes = encode_items(receiver, &items, None, key);
        for (index, value) in flips {
            if !bytes.is_empty() {
                let at = index.index(bytes.len());
                bytes[at] ^= value;
            }
        }
        bytes.extend(garbage);
        let limits = Limits::default().max_frame_size(200).max_message_size(400);
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            let mut whole = Connection::with_limits(receiver, config(delivery), limits.clone());
            let expected = feed(&mut whole, &bytes, &[bytes.len().max(1)]);
            let mut chunked = Connection::with_limits(receiver, config(delivery), limits.clone());
            let got = feed(&mut chunked, &bytes, &cuts);
            if delivery == Delivery::Messages {
                prop_assert_eq!(&got, &expected);
            } else {
                // Streamed pieces depend on chunking; the error must not.
                prop_assert_eq!(&got.1, &expected.1);
            }
        }
    }

    /// (b) Messages sent by one role arrive unchanged at the other, including
    /// auto-fragmented and streamed ones.
    #[test]
    fn round_trip_between_roles(
        sender in role(),
        messages in proptest::collection::vec(
            prop_oneof![
                ".{0,200}".prop_map(Message::text),
                proptest::collection::vec(any::<u8>(), 0..10_000).prop_map(Message::binary),
                proptest::collection::vec(any::<u8>(), 0..126).prop_map(|p| Message::Ping(p.into())),
                proptest::collection::vec(any::<u8>(), 0..126).prop_map(|p| Message::Pong(p.into())),
            ],
            0..10,
        ),
        streamed in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..500), 1..4),
        max_frame in proptest::option::of(1usize..3000),
        close_reason in "[a-z ]{0,20}",
    ) {
        let receiver = match sender { Role::Client => Role::Server, Role::Server => Role::Client };
        let mut tx = Connection::new(sender, Config::default().max_outgoing_frame_size(max_frame));
        let mut rx = Connection::new(receiver, Config::default());
        for message in &messages {
            tx.send(message.clone()).unwrap();
        }
        let count = streamed.len();
        for (i, piece) in streamed.iter().enumerate() {
            tx.send_fragment(DataKind::Binary, Bytes::from(piece.clone()), i == 0, i + 1 == count).unwrap();
        }
        let close = CloseFrame::new(CloseCode(3333), close_reason.as_str());
        tx.close(std::time::Instant::now(), Some(close.clone())).unwrap();
        let bytes = drain_transmit(&mut tx);
        let (events, error) = feed(&mut rx, &bytes, &[bytes.len().max(1)]);
        prop_assert_eq!(error, None);
        let mut expected: Vec<Event> = messages.into_iter().map(Event::Message).collect();
        expected.push(Event::Message(Message::binary(streamed.concat())));
        expected.push(Event::Message(Message::Close(Some(close))));
        prop_assert_eq!(events, expected);
        // The echo completes the handshake on the sender.
        let echo = drain_transmit(&mut rx);
        let (events, error) = feed(&mut tx, &echo, &[echo.len().max(1)]);
        prop_assert_eq!(error, None);
        prop_assert_eq!(events.last(), Some(&Event::Message(Message::Close(Some(CloseFrame::new(CloseCode(3333), ""))))));
        prop_assert_eq!(tx.state(), switchboard_proto::State::Closed);
    }

    /// (c) Arbitrary bytes never panic, end in events or a 1002/1007/1009
    /// error, and the read buffer never holds more than one frame.
    #[test]
    fn arbitrary_bytes_are_handled_within_limits(
        receiver in role(),
        delivery in prop_oneof![Just(Delivery::Messages), Just(Delivery::Chunks)],
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
        max_frame in 1usize..300,
    ) {
        let limits = Limits::default().max_frame_size(max_frame).max_message_size(2 * max_frame);
        let mut conn = Connection::with_limits(receiver, config(delivery), limits);
        for chunk in &chunks {
            conn.receive(chunk);
            let mut events = Vec::new();
            match poll_all(&mut conn, &mut events) {
                Ok(()) => {
                    prop_assert!(conn.read_buf().len() <= max_frame + MAX_HEADER_LEN);
                    prop_assert!(conn.read_buf().capacity() <= 8 * (max_frame + MAX_HEADER_LEN + chunk.len()) + 64 * 1024);
                }
                Err(error) => {
                    prop_assert!(
                        [1002, 1007, 1009].contains(&error.close_code().0),
                        "{:?}", error
                    );
                    prop_assert!(conn.should_close_transport());
                    break;
                }
            }
        }
    }
}
