//! The shared memory budget: large frames, reassembly and inflation are
//! charged to it, refused with 1009 when they do not fit, and every charge
//! returns to it when a message is delivered, the connection fails, the
//! peer closes or the connection is dropped.

mod common;

use common::{encode_frame, Setup};
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;
use switchboard_proto::deflate::DeflateConfig;
use switchboard_proto::{
    Config, Connection, Delivery, Error, Event, LimitError, Limits, MemoryBudget, Role,
};

const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CONT: u8 = 0x0;
const RSV1: u8 = 0x4;
const MASK: [u8; 4] = [1, 2, 3, 4];

fn server(budget: &MemoryBudget, max_message: usize) -> Connection {
    let limits = Limits::default()
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .memory_budget(budget.clone());
    Connection::with_limits(Role::Server, Config::default().ping_interval(None), limits)
}

fn deflate_server(budget: &MemoryBudget, max_message: usize) -> Connection {
    let mut conn = server(budget, max_message);
    let config = DeflateConfig::default();
    let (_, ext) = config.server_negotiate(&config.client_offers()).unwrap();
    conn.set_extension(Box::new(ext));
    conn
}

/// `len` zeros compressed, sync-flushed, tail stripped (RFC 7692 §7.2.1).
fn deflated(data: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new_with_window_bits(Compression::best(), false, 15);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    compressor
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .unwrap();
    out.truncate(out.len() - 4);
    out
}

/// Feeds `bytes` in reads of `chunk`, collecting messages until an error.
fn feed(conn: &mut Connection, bytes: &[u8], chunk: usize) -> (Vec<usize>, Option<Error>) {
    let mut sizes = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        conn.receive(piece);
        loop {
            match conn.poll_event() {
                Ok(Some(Event::Message(message))) => sizes.push(message.len()),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => return (sizes, Some(error)),
            }
        }
    }
    (sizes, None)
}

fn is_budget_error(error: &Error) -> bool {
    matches!(error, Error::Limit(LimitError::MemoryBudget { .. })) && error.close_code().0 == 1009
}

#[test]
fn a_large_frame_is_charged_while_read_and_released_when_delivered() {
    let budget = MemoryBudget::new(4 << 20);
    let mut conn = server(&budget, 8 << 20);
    let frame = encode_frame(true, 0, OP_BINARY, Some(MASK), &vec![7u8; 1 << 20]);
    conn.receive(&frame[..frame.len() / 2]);
    assert!(conn.poll_event().unwrap().is_none());
    assert!(
        budget.used() >= 512 << 10,
        "{} charged mid-frame",
        budget.used()
    );
    assert_eq!(budget.used(), conn.budget_charged());
    conn.receive(&frame[frame.len() / 2..]);
    let event = conn.poll_event().unwrap();
    assert!(matches!(event, Some(Event::Message(m)) if m.len() == 1 << 20));
    assert!(conn.poll_event().unwrap().is_none());
    assert_eq!(budget.used(), 0);
}

#[test]
fn a_frame_beyond_the_budget_fails_with_1009_and_charges_nothing() {
    let budget = MemoryBudget::new(1 << 20);
    assert!(budget.try_charge(900 << 10), "another holder");
    let mut conn = server(&budget, 8 << 20);
    let frame = encode_frame(true, 0, OP_BINARY, Some(MASK), &vec![7u8; 2 << 20]);
    let (messages, error) = feed(&mut conn, &frame, 256 << 10);
    assert!(messages.is_empty());
    let error = error.expect("refused");
    assert!(is_budget_error(&error), "{error:?}");
    assert_eq!(budget.used(), 900 << 10, "only the other holder's charge");
    budget.release(900 << 10);
}

#[test]
fn reassembly_is_charged_and_dropping_mid_message_releases_it() {
    let budget = MemoryBudget::new(8 << 20);
    let mut conn = server(&budget, 8 << 20);
    let mut bytes = encode_frame(false, 0, OP_TEXT, Some(MASK), &[b'a'; 100_000]);
    bytes.extend(encode_frame(
        false,
        0,
        OP_CONT,
        Some(MASK),
        &[b'b'; 100_000],
    ));
    let (messages, error) = feed(&mut conn, &bytes, 4096);
    assert!(messages.is_empty() && error.is_none());
    assert!(budget.used() >= 200_000, "{}", budget.used());
    drop(conn);
    assert_eq!(budget.used(), 0);
}

#[test]
fn a_deflate_bomb_is_refused_by_the_budget_long_before_the_message_limit() {
    let budget = MemoryBudget::new(2 << 20);
    // The message limit alone would let it inflate to 64 MiB.
    let mut conn = deflate_server(&budget, 64 << 20);
    let bomb = deflated(&vec![0u8; 32 << 20]);
    let frame = encode_frame(true, RSV1, OP_BINARY, Some(MASK), &bomb);
    let (messages, error) = feed(&mut conn, &frame, 64 << 10);
    assert!(messages.is_empty());
    let error = error.expect("refused");
    assert!(is_budget_error(&error), "{error:?}");
    assert_eq!(budget.used(), 0, "released on failure");
}

#[test]
fn compressed_messages_that_fit_are_delivered_and_leave_nothing_charged() {
    let budget = MemoryBudget::new(16 << 20);
    let mut conn = deflate_server(&budget, 8 << 20);
    let text: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let compressed = deflated(&text);
    let (first, rest) = compressed.split_at(compressed.len() / 3);
    let mut bytes = encode_frame(false, RSV1, OP_TEXT, Some(MASK), first);
    bytes.extend(encode_frame(true, 0, OP_CONT, Some(MASK), rest));
    let (messages, error) = feed(&mut conn, &bytes, 10_000);
    assert_eq!(error, None);
    assert_eq!(messages, [text.len()]);
    assert_eq!(budget.used(), 0);
}

#[test]
fn the_peer_closing_mid_message_releases_the_charge() {
    let budget = MemoryBudget::new(8 << 20);
    let mut conn = server(&budget, 8 << 20);
    let mut bytes = encode_frame(false, 0, OP_BINARY, Some(MASK), &[1; 300_000]);
    bytes.extend(encode_frame(
        true,
        0,
        0x8,
        Some(MASK),
        &1000u16.to_be_bytes(),
    ));
    let (_, error) = feed(&mut conn, &bytes, 8192);
    assert_eq!(error, None);
    assert_eq!(budget.used(), 0);
    drop(conn);
    assert_eq!(budget.used(), 0);
}

#[test]
fn a_frame_is_charged_whole_as_soon_as_its_header_arrives() {
    let budget = MemoryBudget::new(8 << 20);
    let mut conn = server(&budget, 8 << 20);
    let frame = encode_frame(true, 0, OP_BINARY, Some(MASK), &vec![7u8; 2 << 20]);
    conn.receive(&frame[..1000]);
    assert!(conn.poll_event().unwrap().is_none());
    assert_eq!(budget.used(), frame.len(), "the declared frame, reserved");
    assert!(
        conn.read_buf().capacity() >= frame.len(),
        "room for all of it"
    );
    let (messages, error) = feed(&mut conn, &frame[1000..], 64 << 10);
    assert_eq!((messages, error), (vec![2 << 20], None));
    assert_eq!(budget.used(), 0);
}

#[test]
fn a_frame_that_cannot_be_reserved_is_refused_before_its_bytes_are_buffered() {
    let budget = MemoryBudget::new(1 << 20);
    let mut conn = server(&budget, 8 << 20);
    let frame = encode_frame(true, 0, OP_BINARY, Some(MASK), &vec![7u8; 2 << 20]);
    conn.receive(&frame[..100]);
    let error = conn.poll_event().expect_err("refused at its header");
    assert!(is_budget_error(&error), "{error:?}");
    assert_eq!(budget.used(), 0);
    assert!(conn.read_buf().is_empty(), "nothing of it kept");
    assert!(conn.read_buf().capacity() <= 100, "nothing grown for it");
}

/// Writes `bytes` into the room the connection lends (as a driver's read
/// would), or copies them in when it lends none; `true` when it lent room.
fn read_into(conn: &mut Connection, bytes: &[u8]) -> bool {
    if let Some(mut space) = conn.receive_space() {
        bytes::BufMut::put_slice(&mut space, bytes);
        return true;
    }
    conn.receive(bytes);
    false
}

#[test]
fn room_lent_for_a_read_is_charged_before_it_is_allocated() {
    let budget = MemoryBudget::new(8 << 20);
    let mut conn = server(&budget, 8 << 20);
    let frame = encode_frame(true, 0, OP_BINARY, Some(MASK), &vec![9u8; 1 << 20]);
    // The first large frame teaches the connection the size of the next
    // reads; the next message is read into a buffer of that size.
    assert!(!read_into(&mut conn, &frame[..1000]));
    assert!(conn.poll_event().unwrap().is_none());
    assert!(read_into(&mut conn, &frame[1000..]));
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Message(m))) if m.len() == 1 << 20));
    assert_eq!(budget.used(), 0);

    let space = conn
        .receive_space()
        .map(|space| bytes::BufMut::remaining_mut(&space));
    assert!(space.is_some(), "a buffer for the next large message");
    assert_eq!(
        budget.used(),
        frame.len(),
        "charged before any byte arrived"
    );
    conn.receive_idle();
    assert_eq!(budget.used(), 0, "given back once the transport went idle");

    // Without room in the budget, the read is copied in instead.
    assert!(budget.try_charge(budget.available()), "another holder");
    assert!(!read_into(&mut conn, &frame[..1000]));
    let error = conn
        .poll_event()
        .expect_err("the frame itself cannot be reserved");
    assert!(is_budget_error(&error), "{error:?}");
    assert_eq!(conn.budget_charged(), 0);
    budget.release(budget.used());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the messages, their fragmentation, the reads, the delivery
    /// mode and whether they fit: the budget is back to zero after every
    /// delivered message and after the connection ends.
    #[test]
    fn the_budget_returns_to_zero(
        sizes in prop::collection::vec(0usize..300_000, 1..5),
        fragments in 1usize..4,
        chunk in prop::sample::select(vec![1000usize, 7000, 70_000, 1 << 20]),
        streaming in any::<bool>(),
        compressed in any::<bool>(),
        budget_size in prop::sample::select(vec![100_000usize, 1 << 20, 64 << 20]),
    ) {
        let budget = MemoryBudget::new(budget_size);
        let limits = Limits::default()
            .max_message_size(1 << 20)
            .memory_budget(budget.clone());
        let delivery = if streaming { Delivery::Chunks } else { Delivery::Messages };
        let setup = Setup { role: Role::Server, delivery };
        let mut conn = setup.connection_with(limits);
        if compressed {
            let config = DeflateConfig::default();
            let (_, ext) = config.server_negotiate(&config.client_offers()).unwrap();
            conn.set_extension(Box::new(ext));
        }
        for (index, size) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..*size).map(|i| (i * 7 + index) as u8).collect();
            let wire = if compressed { deflated(&data) } else { data.clone() };
            let piece = wire.len().div_ceil(fragments).max(1);
            let pieces: Vec<&[u8]> = if wire.is_empty() { vec![&[][..]] } else { wire.chunks(piece).collect() };
            let mut bytes = Vec::new();
            for (n, part) in pieces.iter().enumerate() {
                let opcode = if n == 0 { OP_BINARY } else { OP_CONT };
                let rsv = if compressed && n == 0 { RSV1 } else { 0 };
                bytes.extend(encode_frame(n + 1 == pieces.len(), rsv, opcode, Some(MASK), part));
            }
            let (_, error) = feed(&mut conn, &bytes, chunk);
            if let Some(error) = error {
                prop_assert_eq!(error.close_code().0, 1009, "{:?}", error);
                prop_assert_eq!(budget.used(), 0, "after a failure");
                break;
            }
            prop_assert_eq!(budget.used(), 0, "after message {}", index);
        }
        drop(conn);
        prop_assert_eq!(budget.used(), 0);
    }
}
