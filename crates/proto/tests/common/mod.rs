//! Shared harness for the conformance suite (`tests/conformance_*.rs`).
//!
//! The suite mirrors the public Autobahn|Testsuite cases that the sans-I/O
//! core can decide on its own. Each case runs against both roles (a client
//! [`Connection`] receives unmasked server frames, a server [`Connection`]
//! receives masked client frames), in both delivery modes, and under several
//! ways of cutting the byte stream into reads: the core must report the same
//! thing however the bytes arrive.
//!
//! The wire bytes are built by hand ([`wire_bytes`]), independently of the
//! crate's own frame codec, so a bug in the codec cannot hide itself.
#![allow(dead_code)] // every test binary uses a different subset of the harness

use std::io::IoSlice;

use bytes::Bytes;
use switchboard_proto::{
    Chunk, CloseCode, Config, Connection, DataKind, Delivery, Error, Event, Limits, Message, Role,
    State, Utf8Bytes,
};

mod wire_bytes;
pub use wire_bytes::*;

/// A masking key that changes with the frame, so that an implementation
/// that ignores the key, or only handles one, fails.
fn key_for(opcode: u8, payload: &[u8]) -> [u8; 4] {
    let len = payload.len() as u32;
    let first = payload.first().copied().unwrap_or(0x5A);
    [
        0x37 ^ (len as u8),
        0xFA ^ ((len >> 8) as u8),
        0x21 ^ opcode.wrapping_mul(17),
        0x3D ^ first,
    ]
}

/// Decodes everything `sender` wrote. Checks the masking rule for the sender
/// (RFC 6455 §5.1: clients mask, servers do not) and that no partial frame
/// is left over.
pub fn decode_frames(bytes: &[u8], sender: Role) -> Vec<WireFrame> {
    let frames = parse_frames(bytes);
    for frame in &frames {
        assert_eq!(
            frame.masked,
            sender == Role::Client,
            "{sender:?} broke the masking rule (RFC 6455 §5.1)"
        );
    }
    frames
}

/// Takes everything out of the transmit buffer through the vectored-write
/// API, the way a driver would.
pub fn drain_transmit(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.transmit_len() > 0 {
        let pending = conn.transmit_len();
        let written = {
            let mut slices = [IoSlice::new(&[]); 8];
            let filled = conn.transmit_slices(&mut slices);
            assert!(
                filled > 0 && filled <= slices.len(),
                "transmit_slices filled {filled} of 8 with {pending} bytes pending"
            );
            let mut written = 0;
            for slice in &slices[..filled] {
                out.extend_from_slice(slice);
                written += slice.len();
            }
            written
        };
        assert!(
            written > 0 && written <= pending,
            "slices hold {written} bytes, transmit_len says {pending}"
        );
        conn.advance_transmit(written);
        assert_eq!(conn.transmit_len(), pending - written);
    }
    out
}

// -------------------------------------------------------------------- setups

/// One way to run a case: the role under test and how it delivers data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// Role of the connection under test; its peer has the other role.
    pub role: Role,
    /// Whole messages or streamed fragments.
    pub delivery: Delivery,
}

/// Both roles, each in both delivery modes.
pub const SETUPS: [Setup; 4] = [
    Setup {
        role: Role::Client,
        delivery: Delivery::Messages,
    },
    Setup {
        role: Role::Server,
        delivery: Delivery::Messages,
    },
    Setup {
        role: Role::Client,
        delivery: Delivery::Chunks,
    },
    Setup {
        role: Role::Server,
        delivery: Delivery::Chunks,
    },
];

/// The role at the other end.
pub fn peer_of(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// Config for the connection under test: no keepalive (no clock in these
/// tests) and the setup's delivery mode.
pub fn test_config(delivery: Delivery) -> Config {
    Config::default().ping_interval(None).delivery(delivery)
}

/// How the byte stream is cut into reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chop {
    /// All frames in one read.
    Whole,
    /// One read per frame.
    Frames,
    /// One read per byte.
    Octets,
    /// Reads of this many bytes, ignoring frame boundaries.
    Every(usize),
}

/// The chop patterns every small case is run under.
pub const CHOPS: [Chop; 4] = [Chop::Whole, Chop::Frames, Chop::Octets, Chop::Every(3)];

impl Setup {
    /// A fresh connection for this setup.
    pub fn connection(&self) -> Connection {
        self.connection_with(Limits::default())
    }

    /// A fresh connection with explicit limits.
    pub fn connection_with(&self, limits: Limits) -> Connection {
        Connection::with_limits(self.role, test_config(self.delivery), limits)
    }

    /// A frame as the peer sends it: masked when the connection under test
    /// is a server.
    pub fn frame(&self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = (self.role == Role::Server).then(|| key_for(opcode, payload));
        encode_frame(fin, rsv, opcode, mask, payload)
    }

    /// An unfragmented text frame.
    pub fn text(&self, payload: &[u8]) -> Vec<u8> {
        self.frame(true, 0, OP_TEXT, payload)
    }

    /// An unfragmented binary frame.
    pub fn binary(&self, payload: &[u8]) -> Vec<u8> {
        self.frame(true, 0, OP_BINARY, payload)
    }

    /// A continuation frame.
    pub fn cont(&self, fin: bool, payload: &[u8]) -> Vec<u8> {
        self.frame(fin, 0, OP_CONT, payload)
    }

    /// A ping frame.
    pub fn ping(&self, payload: &[u8]) -> Vec<u8> {
        self.frame(true, 0, OP_PING, payload)
    }

    /// A pong frame.
    pub fn pong(&self, payload: &[u8]) -> Vec<u8> {
        self.frame(true, 0, OP_PONG, payload)
    }

    /// A close frame with a code and a reason.
    pub fn close(&self, code: u16, reason: &[u8]) -> Vec<u8> {
        self.frame(true, 0, OP_CLOSE, &close_payload(code, reason))
    }

    /// A close frame with an arbitrary payload.
    pub fn close_raw(&self, payload: &[u8]) -> Vec<u8> {
        self.frame(true, 0, OP_CLOSE, payload)
    }

    /// `payload` as a fragmented data message, cut after each offset in
    /// `cuts` (offsets may repeat, which makes empty fragments).
    pub fn fragmented(&self, opcode: u8, payload: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut start = 0;
        let mut bounds: Vec<usize> = cuts.to_vec();
        bounds.push(payload.len());
        for (i, &end) in bounds.iter().enumerate() {
            let op = if i == 0 { opcode } else { OP_CONT };
            frames.push(self.frame(i + 1 == bounds.len(), 0, op, &payload[start..end]));
            start = end;
        }
        frames
    }

    /// `payload` as a data message in fragments of `size` bytes (at least one
    /// fragment, even when empty).
    pub fn chunked(&self, opcode: u8, payload: &[u8], size: usize) -> Vec<Vec<u8>> {
        let cuts: Vec<usize> = (1..payload.len().div_ceil(size))
            .map(|i| i * size)
            .collect();
        self.fragmented(opcode, payload, &cuts)
    }

    /// Feeds `frames` cut as `chop` into a fresh connection and records
    /// everything (see [`feed`]).
    pub fn run(&self, frames: &[Vec<u8>], chop: Chop) -> Outcome {
        feed(self.connection(), self.role, frames, chop)
    }

    /// Like [`Setup::run`] with explicit limits.
    pub fn run_with(&self, limits: Limits, frames: &[Vec<u8>], chop: Chop) -> Outcome {
        feed(self.connection_with(limits), self.role, frames, chop)
    }

    /// Runs `frames` under every pattern in [`CHOPS`], asserts that all give
    /// the same messages, error and sent frames, and returns the outcome of
    /// [`Chop::Frames`] (whose `error_frame` is meaningful).
    pub fn run_chopped(&self, frames: &[Vec<u8>]) -> Outcome {
        self.run_chopped_with(Limits::default(), frames)
    }

    /// [`Setup::run_chopped`] with explicit limits.
    pub fn run_chopped_with(&self, limits: Limits, frames: &[Vec<u8>]) -> Outcome {
        let reference = self.run_with(limits.clone(), frames, Chop::Frames);
        for chop in CHOPS {
            if chop == Chop::Frames {
                continue;
            }
            let other = self.run_with(limits.clone(), frames, chop);
            assert_same_outcome(self, &reference, &other, chop);
            if chop == Chop::Octets {
                assert_eq!(
                    reference.error_frame, other.error_frame,
                    "{self:?}: fed byte by byte, the error appeared in another frame"
                );
            }
        }
        reference
    }
}

/// Asserts that two runs of the same frames reported the same thing.
fn assert_same_outcome(setup: &Setup, reference: &Outcome, other: &Outcome, chop: Chop) {
    assert_eq!(
        reference.messages(),
        other.messages(),
        "{setup:?} {chop:?}: messages differ from the frame-wise run"
    );
    assert_eq!(
        reference.error(),
        other.error(),
        "{setup:?} {chop:?}: error differs from the frame-wise run"
    );
    assert_eq!(
        reference.sent, other.sent,
        "{setup:?} {chop:?}: sent frames differ from the frame-wise run"
    );
}

/// Calls [`Setup::run_chopped`]-style checks for every setup.
pub fn for_each_setup(mut case: impl FnMut(&Setup)) {
    for setup in &SETUPS {
        case(setup);
    }
}

// -------------------------------------------------------------------- runner

/// What a connection reported while it was fed a case.
#[derive(Debug)]
pub struct Outcome {
    /// The setup that was run.
    pub setup: Setup,
    /// Events in the order `poll_event` returned them.
    pub events: Vec<Event>,
    /// The error `poll_event` returned, if any.
    pub error: Option<Error>,
    /// Index of the frame whose bytes were being fed when the error
    /// appeared (for [`Chop::Whole`]: always the last frame read).
    pub error_frame: Option<usize>,
    /// Everything the connection queued for sending, decoded.
    pub sent: Vec<WireFrame>,
    /// The connection after the run, for state checks.
    pub conn: Connection,
}

/// Feeds `frames` cut as `chop` into `conn`, polling after every read.
///
/// Enforces the rules that hold for every case: after an error,
/// `poll_event` only returns `Ok(None)`, nothing more is queued for sending
/// whatever arrives, and the connection is [`State::Closed`] and wants the
/// transport closed.
pub fn feed(mut conn: Connection, role: Role, frames: &[Vec<u8>], chop: Chop) -> Outcome {
    let stream: Vec<u8> = frames.concat();
    // Frame index of every byte, to tell in which frame an error appeared.
    let mut frame_ends = Vec::with_capacity(frames.len());
    let mut total = 0;
    for frame in frames {
        total += frame.len();
        frame_ends.push(total);
    }
    let reads: Vec<std::ops::Range<usize>> = match chop {
        Chop::Whole => std::iter::once(0..stream.len()).collect(),
        Chop::Frames => {
            let mut start = 0;
            frame_ends
                .iter()
                .map(|&end| {
                    let range = start..end;
                    start = end;
                    range
                })
                .collect()
        }
        Chop::Octets => (0..stream.len()).map(|i| i..i + 1).collect(),
        Chop::Every(size) => (0..stream.len())
            .step_by(size)
            .map(|i| i..(i + size).min(stream.len()))
            .collect(),
    };

    let mut events = Vec::new();
    let mut error = None;
    let mut error_frame = None;
    let mut sent_bytes = Vec::new();
    for range in reads {
        let end = range.end;
        conn.receive(&stream[range]);
        loop {
            match conn.poll_event() {
                Ok(Some(event)) => {
                    assert!(
                        error.is_none(),
                        "{role:?}: event {event:?} after error {error:?}"
                    );
                    events.push(event);
                }
                Ok(None) => break,
                Err(err) => {
                    assert!(
                        error.is_none(),
                        "{role:?}: second error {err:?} after {error:?}"
                    );
                    // The frame containing the last byte read so far.
                    let frame = frame_ends.partition_point(|&frame_end| frame_end < end);
                    error_frame = Some(frame.min(frames.len().saturating_sub(1)));
                    error = Some(err);
                    sent_bytes.extend(drain_transmit(&mut conn));
                    // RFC 6455 §7.1.7: after failing, the endpoint closes and
                    // processes nothing more.
                    assert_eq!(
                        conn.state(),
                        State::Closed,
                        "{role:?}: not Closed after an error"
                    );
                    assert!(
                        conn.should_close_transport(),
                        "{role:?}: after an error the transport must be closed"
                    );
                    break;
                }
            }
        }
        let more = drain_transmit(&mut conn);
        assert!(
            error.is_none() || more.is_empty(),
            "{role:?}: sent {more:?} after failing with {error:?}"
        );
        sent_bytes.extend(more);
    }
    let sent = decode_frames(&sent_bytes, role);
    Outcome {
        setup: Setup {
            role,
            delivery: conn.config().delivery,
        },
        events,
        error,
        error_frame,
        sent,
        conn,
    }
}

impl Outcome {
    /// The error, if any (cloned for comparisons).
    pub fn error(&self) -> Option<Error> {
        self.error.clone()
    }

    /// The events with streamed fragments joined into whole messages (see
    /// [`normalize`]).
    pub fn messages(&self) -> Vec<Message> {
        normalize(&self.events, self.setup.delivery)
    }

    /// Frames sent of one opcode.
    pub fn sent_with(&self, opcode: u8) -> Vec<&WireFrame> {
        self.sent.iter().filter(|f| f.opcode == opcode).collect()
    }

    /// Payloads of the pongs the connection sent.
    pub fn pongs(&self) -> Vec<Vec<u8>> {
        self.sent_with(OP_PONG)
            .into_iter()
            .map(|f| f.payload.clone())
            .collect()
    }

    /// Payloads of the pings the peer's frames produced as events.
    pub fn ping_events(&self) -> Vec<Bytes> {
        self.messages()
            .into_iter()
            .filter_map(|m| {
                if let Message::Ping(p) = m {
                    Some(p)
                } else {
                    None
                }
            })
            .collect()
    }

    /// Asserts the run ended without error.
    pub fn assert_no_error(&self) {
        assert!(
            self.error.is_none(),
            "{:?}: unexpected error {:?}",
            self.setup,
            self.error
        );
    }

    /// Asserts the run failed with exactly `expected` and that the last (and
    /// only) close frame sent carries its close code.
    pub fn assert_failed(&self, expected: Error) {
        assert_eq!(
            self.error.as_ref(),
            Some(&expected),
            "{:?}: wrong outcome",
            self.setup
        );
        self.assert_close_sent(expected.close_code());
    }

    /// Asserts the run failed, with an error whose close code is `code`,
    /// and that this code was sent in the last frame.
    pub fn assert_failed_with_code(&self, code: CloseCode) {
        let err = self
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}: expected close code {code}, no error", self.setup));
        assert_eq!(err.close_code(), code, "{:?}: {err:?}", self.setup);
        self.assert_close_sent(code);
    }

    /// Asserts the connection sent exactly one close frame, as its last
    /// frame, carrying `code`.
    pub fn assert_close_sent(&self, code: CloseCode) {
        let closes = self.sent_with(OP_CLOSE);
        assert_eq!(
            closes.len(),
            1,
            "{:?}: expected one close frame, sent {:?}",
            self.setup,
            self.sent
        );
        let last = self.sent.last().expect("nothing sent");
        assert_eq!(
            last.opcode, OP_CLOSE,
            "{:?}: close frame is not the last frame sent: {:?}",
            self.setup, self.sent
        );
        assert_eq!(
            last.close_code(),
            Some(code.0),
            "{:?}: sent close frame {last:?}",
            self.setup
        );
        assert!(
            std::str::from_utf8(last.close_reason()).is_ok(),
            "close reason is not UTF-8"
        );
    }

    /// Asserts the error appeared while frame `index` was being read.
    pub fn assert_failed_in_frame(&self, index: usize) {
        assert_eq!(
            self.error_frame,
            Some(index),
            "{:?}: error {:?} appeared in the wrong frame",
            self.setup,
            self.error
        );
    }
}

/// A text message event payload, for readable expectations.
pub fn text(s: &str) -> Message {
    Message::Text(Utf8Bytes::from(s))
}

/// A binary message.
pub fn binary(data: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(data))
}

/// A ping event.
pub fn ping(data: &[u8]) -> Message {
    Message::Ping(Bytes::copy_from_slice(data))
}

/// A pong event.
pub fn pong(data: &[u8]) -> Message {
    Message::Pong(Bytes::copy_from_slice(data))
}

/// The events with streamed fragments joined into whole messages, so that
/// both delivery modes can be checked with the same expectations. A message
/// whose last fragment never came (the stream failed or closed first) is
/// left out, as in [`Delivery::Messages`] mode.
///
/// Also checks the streaming contract: pieces come in order (`first` only
/// on the first, nothing after `fin`), one kind per message, whole data
/// messages never appear in streaming mode, and the text streamed so far
/// is always a valid UTF-8 prefix (a piece may end inside a character).
pub fn normalize(events: &[Event], delivery: Delivery) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut partial: Option<(DataKind, Vec<u8>)> = None;
    // Bytes of the streamed text known to end at a character boundary, so
    // each piece is checked once (linear, not quadratic, in the message).
    let mut checked = 0;
    for event in events {
        match event {
            Event::Message(message) => {
                if delivery == Delivery::Chunks {
                    assert!(!message.is_data(), "whole data message in streaming mode");
                }
                messages.push(message.clone());
            }
            Event::Chunk(Chunk {
                kind,
                payload,
                first,
                fin,
            }) => {
                assert_eq!(delivery, Delivery::Chunks, "fragment event in message mode");
                match (&mut partial, first) {
                    (None, true) => {
                        partial = Some((*kind, payload.to_vec()));
                        checked = 0;
                    }
                    (Some((open_kind, data)), false) => {
                        assert_eq!(open_kind, kind, "fragment kind changed mid-message");
                        data.extend_from_slice(payload);
                    }
                    (None, false) => panic!("continuation fragment without a first"),
                    (Some(_), true) => panic!("new message before the last ended"),
                }
                let (kind, data) = partial.as_ref().expect("fragment state");
                if *kind == DataKind::Text {
                    match std::str::from_utf8(&data[checked..]) {
                        Ok(_) => checked = data.len(),
                        Err(e) if e.error_len().is_none() => checked += e.valid_up_to(),
                        Err(_) => panic!("streamed text is not a valid UTF-8 prefix: {data:02x?}"),
                    }
                }
                if *fin {
                    let (kind, data) = partial.take().expect("fragment state");
                    messages.push(match kind {
                        DataKind::Text => Message::Text(
                            Utf8Bytes::try_from_bytes(Bytes::from(data))
                                .expect("streamed text message is not UTF-8"),
                        ),
                        DataKind::Binary => Message::Binary(Bytes::from(data)),
                    });
                }
            }
        }
    }
    messages
}
