//! Echo harness for the permessage-deflate conformance cases
//! (`tests/conformance_12_deflate_payloads.rs`,
//! `tests/conformance_13_deflate_params.rs`), mirroring Autobahn sections
//! 12 and 13.
//!
//! An Autobahn case sends a series of compressed messages and expects each
//! echoed back intact. Here both ends are `Connection`s: "ours" is the
//! endpoint under test, negotiated through the real header parser and
//! [`DeflateConfig::server_negotiate`] / [`DeflateConfig::client_accept`];
//! the "Autobahn" end is built from the parameters Autobahn's offer or
//! accept function implies. Every case runs in both modes:
//!
//! * fuzzingclient: Autobahn is the client, its offer header text goes to
//!   our server;
//! * fuzzingserver: Autobahn is the server, our client's offers get the
//!   response text Autobahn's accept function writes.
//!
//! Every message crosses the wire both ways and is checked on the wire by
//! an independent decoder: frames decoded by `common::decode_frames`,
//! RSV1 on the first frame only, auto-fragment sizes, and the compressed
//! payload inflated by a separate flate2 inflater that follows the agreed
//! context takeover (a fresh inflater per message when the sender
//! promised no context takeover, so a back-reference into an earlier
//! message fails the test). Window sizes are checked as negotiated
//! parameters, not on the wire (see `mirror_inflate`).
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::OnceLock;

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress};
use switchboard_proto::deflate::{
    DeflateConfig, DeflateParams, DirectionParams, PerMessageDeflate, DEFAULT_THRESHOLD,
};
use switchboard_proto::handshake::parse_extensions;
use switchboard_proto::{
    Connection, DataKind, Delivery, Event, ExtensionOffer, Message, Role, Utf8Bytes,
};

use crate::common::{decode_frames, drain_transmit, normalize, test_config, WireFrame};
use crate::common::{OP_BINARY, OP_CONT, OP_TEXT};

/// Autobahn's `MSG_SIZES` (payload length, auto-fragment size; 0 = none)
/// in case order: entry `i - 1` is case `12.j.i` / `13.j.i`.
pub const MSG_SIZES: [(usize, usize); 18] = [
    (16, 0),
    (64, 0),
    (256, 0),
    (1024, 0),
    (4096, 0),
    (8192, 0),
    (16384, 0),
    (32768, 0),
    (65536, 0),
    (131072, 0),
    (8192, 256),
    (16384, 256),
    (32768, 256),
    (65536, 256),
    (131072, 256),
    (131072, 1024),
    (131072, 4096),
    (131072, 32768),
];

/// Autobahn sends 1000 messages per case. For a fast local run the count
/// shrinks with the size: about this many payload bytes per direction, at
/// least [`MIN_MESSAGES`] so that context takeover (or its absence) spans
/// several messages.
const BYTES_PER_CASE: usize = 48 * 1024;
const MIN_MESSAGES: usize = 3;
const MAX_MESSAGES: usize = 1000;

/// The receiver reads the stream in pieces of this size, ignoring frame
/// boundaries, as from a socket.
const READ_SIZE: usize = 1459;

/// How many messages a case sends each way.
pub fn message_count(len: usize) -> usize {
    (BYTES_PER_CASE / len).clamp(MIN_MESSAGES, MAX_MESSAGES)
}

// ------------------------------------------------------------------ corpora

/// Stand-ins for Autobahn's test data files (section 12's sub-categories,
/// in Autobahn's order), generated deterministically with the same kind
/// of content, sizes and message type: text corpora are ASCII so that any
/// slice is valid UTF-8, like Autobahn's, which slices at any byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorpusKind {
    /// 12.1 "Large JSON data file" (utf8, 194056 bytes).
    Json,
    /// 12.2 "Lena Picture, Bitmap 512x512 bw" (binary, 263222 bytes).
    Bitmap,
    /// 12.3 "Human readable text, Goethe's Faust I (German)" (binary).
    GermanText,
    /// 12.4 "Large HTML file" (utf8).
    Html,
    /// 12.5 "A larger PDF" (binary, about 1 MB).
    Pdf,
}

/// One generated corpus.
pub struct Corpus {
    /// Text or binary messages.
    pub kind: DataKind,
    /// The bytes messages are cut from, cyclically.
    pub data: Vec<u8>,
    /// Whether deflate is expected to shrink it (not for noise-like data).
    pub compressible: bool,
}

/// The corpus, generated once per test binary.
pub fn corpus(kind: CorpusKind) -> &'static Corpus {
    static CORPORA: [OnceLock<Corpus>; 5] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let (index, build): (usize, fn() -> Corpus) = match kind {
        CorpusKind::Json => (0, || text_corpus(json_corpus())),
        CorpusKind::Bitmap => (1, || binary_corpus(bitmap_corpus(), false)),
        CorpusKind::GermanText => (2, || binary_corpus(german_corpus(), true)),
        CorpusKind::Html => (3, || text_corpus(html_corpus())),
        CorpusKind::Pdf => (4, || binary_corpus(pdf_corpus(), false)),
    };
    CORPORA[index].get_or_init(build)
}

fn text_corpus(data: String) -> Corpus {
    assert!(data.is_ascii(), "text corpora must be ASCII");
    Corpus {
        kind: DataKind::Text,
        data: data.into_bytes(),
        compressible: true,
    }
}

fn binary_corpus(data: Vec<u8>, compressible: bool) -> Corpus {
    Corpus {
        kind: DataKind::Binary,
        data,
        compressible,
    }
}

/// SplitMix64: deterministic, so every run tests the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Niklaus",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
    "Wirth",
];
const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// A pretty-printed JSON array of user records, about 194 KB.
fn json_corpus() -> String {
    let mut rng = Rng(121);
    let mut out = String::from("[\n");
    let mut id = 0;
    while out.len() < 194_000 {
        if id > 0 {
            out.push_str(",\n");
        }
        let tags: Vec<String> = (0..1 + rng.below(5))
            .map(|_| format!("\"{}\"", rng.pick(WORDS)))
            .collect();
        out.push_str(&format!(
            concat!(
                "  {{\n    \"_id\": \"{:016x}\",\n    \"index\": {},\n",
                "    \"isActive\": {},\n    \"balance\": \"${},{:03}.{:02}\",\n",
                "    \"age\": {},\n    \"name\": \"{} {}\",\n",
                "    \"email\": \"{}.{}@example.com\",\n    \"tags\": [{}],\n",
                "    \"latitude\": {}.{:06},\n    \"longitude\": -{}.{:06}\n  }}"
            ),
            rng.next(),
            id,
            rng.below(2) == 1,
            rng.below(4),
            rng.below(1000),
            rng.below(100),
            18 + rng.below(60),
            rng.pick(FIRST_NAMES),
            rng.pick(LAST_NAMES),
            rng.pick(FIRST_NAMES).to_lowercase(),
            rng.pick(LAST_NAMES).to_lowercase(),
            tags.join(", "),
            rng.below(90),
            rng.below(1_000_000),
            rng.below(180),
            rng.below(1_000_000),
        ));
        id += 1;
    }
    out.push_str("\n]\n");
    out
}

/// An HTML page of nested sections, tables and paragraphs, about 256 KB.
fn html_corpus() -> String {
    let mut rng = Rng(124);
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Release notes</title>\n<link rel=\"stylesheet\" href=\"/static/site.css\">\n\
         </head>\n<body>\n<div id=\"content\" class=\"container\">\n",
    );
    let mut section = 0;
    while out.len() < 256_000 {
        out.push_str(&format!(
            "<section id=\"s{section}\" class=\"release\">\n<h2><a href=\"#s{section}\">Version {}.{}.{}</a></h2>\n",
            rng.below(5),
            rng.below(20),
            rng.below(10)
        ));
        for _ in 0..1 + rng.below(3) {
            let words: Vec<&str> = (0..20 + rng.below(40)).map(|_| rng.pick(WORDS)).collect();
            out.push_str(&format!("<p class=\"note\">{}.</p>\n", words.join(" ")));
        }
        out.push_str(
            "<table class=\"changes\">\n<tr><th>Area</th><th>Change</th><th>Author</th></tr>\n",
        );
        for _ in 0..2 + rng.below(6) {
            out.push_str(&format!(
                "<tr><td class=\"area\">{}</td><td>{} {}</td><td><a href=\"/people/{}\">{}</a></td></tr>\n",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.below(500),
                rng.pick(LAST_NAMES)
            ));
        }
        out.push_str("</table>\n</section>\n");
        section += 1;
    }
    out.push_str("</div>\n</body>\n</html>\n");
    out
}

/// Verse in German (UTF-8 with umlauts, sent as binary like Autobahn's
/// Faust), about 222 KB.
fn german_corpus() -> Vec<u8> {
    const SPEAKERS: &[&str] = &["FAUST", "MEPHISTOPHELES", "WAGNER", "MARGARETE", "MARTHE"];
    const GERMAN: &[&str] = &[
        "Habe",
        "nun",
        "ach",
        "Philosophie",
        "Juristerei",
        "und",
        "Medizin",
        "leider",
        "auch",
        "Theologie",
        "durchaus",
        "studiert",
        "mit",
        "heißem",
        "Bemühn",
        "da",
        "steh",
        "ich",
        "armer",
        "Tor",
        "bin",
        "so",
        "klug",
        "als",
        "wie",
        "zuvor",
        "Grüße",
        "Mädchen",
        "schön",
        "über",
        "Nacht",
        "Geist",
        "der",
        "stets",
        "verneint",
    ];
    let mut rng = Rng(123);
    let mut out = String::new();
    while out.len() < 222_000 {
        out.push_str(&format!("\n{}:\n", rng.pick(SPEAKERS)));
        for _ in 0..2 + rng.below(8) {
            let words: Vec<&str> = (0..4 + rng.below(5)).map(|_| rng.pick(GERMAN)).collect();
            out.push_str(&words.join(" "));
            out.push_str(if rng.below(3) == 0 { "!\n" } else { ",\n" });
        }
    }
    out.into_bytes()
}

/// A 512x512 8-bit grayscale BMP (header, palette, pixels) with smooth
/// shapes and sensor noise: 263222 bytes like Autobahn's picture.
fn bitmap_corpus() -> Vec<u8> {
    const SIDE: u32 = 512;
    const HEADER: u32 = 14 + 40 + 256 * 4;
    let file_size = HEADER + SIDE * SIDE;
    let mut out = Vec::with_capacity(file_size as usize);
    out.extend_from_slice(b"BM");
    for value in [file_size, 0, HEADER, 40, SIDE, SIDE] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    for value in [0u32, SIDE * SIDE, 2835, 2835, 256, 0] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    for gray in 0..=255u8 {
        out.extend_from_slice(&[gray, gray, gray, 0]);
    }
    let mut rng = Rng(122);
    for y in 0..SIDE as i64 {
        for x in 0..SIDE as i64 {
            let (dx, dy) = (x - 300, y - 220);
            let disc = if dx * dx + dy * dy < 110 * 110 { 70 } else { 0 };
            let base = (x + 2 * y) / 6 + disc + ((x / 40 + y / 40) % 2) * 12;
            let noise = rng.below(9) as i64 - 4;
            out.push((base + noise).clamp(0, 255) as u8);
        }
    }
    assert_eq!(out.len(), file_size as usize);
    out
}

/// PDF-like: text objects and dictionaries between high-entropy streams
/// (as if Flate-compressed), about 1 MB.
fn pdf_corpus() -> Vec<u8> {
    let mut rng = Rng(125);
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut object = 1;
    while out.len() < 1_040_000 {
        let length = 500 + rng.below(6000);
        out.extend_from_slice(
            format!(
                "{object} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Contents {} 0 R /Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n\
                 {} 0 obj\n<< /Length {length} /Filter /FlateDecode >>\nstream\n",
                object + 1,
                object + 1
            )
            .as_bytes(),
        );
        for _ in 0..length / 8 {
            out.extend_from_slice(&rng.next().to_le_bytes());
        }
        out.extend_from_slice(b"\nendstream\nendobj\n");
        object += 2;
    }
    out.extend_from_slice(format!("xref\n0 {object}\n0000000000 65535 f \n").as_bytes());
    for i in 1..object {
        out.extend_from_slice(format!("{:010} 00000 n \n", i * 977).as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {object} /Root 1 0 R >>\n%%EOF\n").as_bytes());
    out
}

/// Autobahn's `sendOne`: messages are consecutive `len`-byte slices of the
/// corpus, wrapping around at its end.
pub fn messages(corpus: &Corpus, len: usize, count: usize) -> Vec<Message> {
    let data = &corpus.data;
    let mut position = 0;
    (0..count)
        .map(|_| {
            let payload: Vec<u8> = data
                .iter()
                .cycle()
                .skip(position)
                .take(len)
                .copied()
                .collect();
            position = (position + len) % data.len();
            match corpus.kind {
                DataKind::Text => Message::Text(
                    Utf8Bytes::try_from_bytes(Bytes::from(payload)).expect("ASCII corpus"),
                ),
                DataKind::Binary => Message::Binary(Bytes::from(payload)),
            }
        })
        .collect()
}

// -------------------------------------------------------------- negotiation

/// What was agreed for the connection, per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// How the client compresses.
    pub client: DirectionParams,
    /// How the server compresses.
    pub server: DirectionParams,
}

impl Agreed {
    /// The agreement as `role` sees it.
    pub fn seen_by(&self, role: Role) -> DeflateParams {
        match role {
            Role::Client => DeflateParams {
                outgoing: self.client,
                incoming: self.server,
            },
            Role::Server => DeflateParams {
                outgoing: self.server,
                incoming: self.client,
            },
        }
    }
}

/// One direction's parameters.
pub fn direction(no_context_takeover: bool, max_window_bits: u8) -> DirectionParams {
    DirectionParams {
        no_context_takeover,
        max_window_bits,
    }
}

/// Both ends of a negotiated connection.
pub struct Negotiated {
    /// The role of the endpoint under test.
    pub our_role: Role,
    /// Our extension, from the real negotiation functions.
    pub ours: PerMessageDeflate,
    /// The Autobahn end's extension, from the agreed parameters.
    pub autobahn: PerMessageDeflate,
    /// What was agreed.
    pub agreed: Agreed,
}

fn header(elements: &[ExtensionOffer]) -> String {
    elements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Autobahn as fuzzing client: `offer_header` is the
/// `Sec-WebSocket-Extensions` text it sends; our server (default
/// [`DeflateConfig`]) must answer exactly `expected_response` and agree
/// on `agreed`.
pub fn autobahn_client(offer_header: &str, expected_response: &str, agreed: Agreed) -> Negotiated {
    let offers = parse_extensions(offer_header).expect("Autobahn's offer parses");
    let (response, ours) = DeflateConfig::default()
        .server_negotiate(&offers)
        .expect("our server accepts Autobahn's offer");
    assert_eq!(
        response.to_string(),
        expected_response,
        "our server's response"
    );
    assert_eq!(
        *ours.params(),
        agreed.seen_by(Role::Server),
        "our server's view"
    );
    // The Autobahn client reads our response text back.
    assert_eq!(
        parse_extensions(&response.to_string()).expect("our response parses"),
        [response]
    );
    Negotiated {
        our_role: Role::Server,
        ours,
        autobahn: PerMessageDeflate::new(agreed.seen_by(Role::Client), &DeflateConfig::default()),
        agreed,
    }
}

/// The offers our client (default [`DeflateConfig`]) sends.
pub const OUR_CLIENT_OFFERS: &str =
    "permessage-deflate; client_max_window_bits, permessage-deflate";

/// Autobahn as fuzzing server: it answers our client's offers with
/// `response_header`; our client must accept it and agree on `agreed`.
pub fn autobahn_server(response_header: &str, agreed: Agreed) -> Negotiated {
    let config = DeflateConfig::default();
    assert_eq!(header(&config.client_offers()), OUR_CLIENT_OFFERS);
    let response = parse_extensions(response_header).expect("Autobahn's response parses");
    let ours = config
        .client_accept(&response)
        .expect("our client accepts Autobahn's response")
        .expect("compression is on");
    assert_eq!(
        *ours.params(),
        agreed.seen_by(Role::Client),
        "our client's view"
    );
    Negotiated {
        our_role: Role::Client,
        ours,
        autobahn: PerMessageDeflate::new(agreed.seen_by(Role::Server), &DeflateConfig::default()),
        agreed,
    }
}

// --------------------------------------------------------------------- echo

/// One end of the echo: its connection, and an independent inflater for
/// what it sends.
struct End {
    conn: Connection,
    role: Role,
    delivery: Delivery,
    outgoing: DirectionParams,
    /// Independent inflater of this end's messages while context takeover
    /// keeps it (`None`: build one per message).
    mirror: Option<Decompress>,
}

impl End {
    fn new(role: Role, delivery: Delivery, fragment: usize, ext: PerMessageDeflate) -> End {
        let outgoing = ext.params().outgoing;
        let config =
            test_config(delivery).max_outgoing_frame_size((fragment > 0).then_some(fragment));
        let mut conn = Connection::new(role, config);
        conn.set_extension(Box::new(ext));
        End {
            conn,
            role,
            delivery,
            outgoing,
            mirror: None,
        }
    }
}

/// Wire totals of a case.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Payload bytes sent.
    pub payload: usize,
    /// Frame payload bytes on the wire (after compression).
    pub wire: usize,
}

/// Runs one case: `count` messages of `len` bytes from `corpus`, each sent
/// by the Autobahn end and echoed back by ours, auto-fragmented to
/// `fragment` bytes (0: one frame per message) on both ends. The
/// receiving Autobahn end streams fragments when the case fragments, so
/// both delivery modes inflate frame by frame somewhere.
pub fn run_echo(negotiated: Negotiated, corpus: &Corpus, len: usize, fragment: usize) -> Traffic {
    let count = message_count(len);
    let our_role = negotiated.our_role;
    let their_role = match our_role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let their_delivery = if fragment > 0 {
        Delivery::Chunks
    } else {
        Delivery::Messages
    };
    let mut ours = End::new(our_role, Delivery::Messages, fragment, negotiated.ours);
    let mut theirs = End::new(their_role, their_delivery, fragment, negotiated.autobahn);
    let mut traffic = Traffic::default();
    for (index, message) in messages(corpus, len, count).into_iter().enumerate() {
        let context = format!("{our_role:?} under test, message {index} of {count}, {len} bytes");
        traffic.wire += transfer(&mut theirs, &mut ours, &message, fragment, &context);
        // Our end echoes what it received, as an Autobahn test peer expects.
        traffic.wire += transfer(&mut ours, &mut theirs, &message, fragment, &context);
        traffic.payload += 2 * len;
    }
    if corpus.compressible && len >= 1024 {
        assert!(
            traffic.wire < traffic.payload / 2,
            "{our_role:?} under test, {len} bytes: {traffic:?} barely compressed"
        );
    }
    traffic
}

/// Sends `message` from `from` to `to`, checks the wire and what arrives;
/// returns the frame payload bytes on the wire.
fn transfer(
    from: &mut End,
    to: &mut End,
    message: &Message,
    fragment: usize,
    context: &str,
) -> usize {
    from.conn
        .send(message.clone())
        .expect("the connection is open");
    let wire = drain_transmit(&mut from.conn);
    let frames = decode_frames(&wire, from.role);
    let payload = message_payload(message);
    let on_wire = check_frames(from, &frames, message, fragment, context);

    let mut events = Vec::new();
    for read in wire.chunks(READ_SIZE) {
        to.conn.receive(read);
        while let Some(event) = to
            .conn
            .poll_event()
            .unwrap_or_else(|e| panic!("{context}: {:?} failed to receive: {e}", to.role))
        {
            events.push(event);
        }
    }
    let received = normalize(&events, to.delivery);
    assert_eq!(
        received.len(),
        1,
        "{context}: {:?} received {} messages",
        to.role,
        received.len()
    );
    let same_kind = matches!(
        (&received[0], message),
        (Message::Text(_), Message::Text(_)) | (Message::Binary(_), Message::Binary(_))
    );
    assert!(same_kind, "{context}: message type changed");
    assert!(
        message_payload(&received[0]) == payload,
        "{context}: {:?} received different content ({} bytes)",
        to.role,
        received[0].len()
    );
    assert!(events
        .iter()
        .all(|e| matches!(e, Event::Message(_) | Event::Chunk(_))));
    on_wire
}

fn message_payload(message: &Message) -> &[u8] {
    match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(data) => data,
        other => panic!("not a data message: {other:?}"),
    }
}

/// The wire checks of one message; returns its frame payload bytes.
fn check_frames(
    from: &mut End,
    frames: &[WireFrame],
    message: &Message,
    fragment: usize,
    context: &str,
) -> usize {
    let payload = message_payload(message);
    let opcode = match message {
        Message::Text(_) => OP_TEXT,
        _ => OP_BINARY,
    };
    assert!(!frames.is_empty(), "{context}: nothing sent");
    let wire: Vec<u8> = frames
        .iter()
        .flat_map(|f| f.payload.iter().copied())
        .collect();
    for (i, frame) in frames.iter().enumerate() {
        let last = i + 1 == frames.len();
        assert_eq!(
            frame.opcode,
            if i == 0 { opcode } else { OP_CONT },
            "{context}: frame {i} opcode"
        );
        assert_eq!(frame.fin, last, "{context}: frame {i} FIN");
        if i > 0 {
            // RFC 7692 §6: RSV1 is set on the first frame of a message only.
            assert_eq!(
                frame.rsv, 0,
                "{context}: RSV bits on continuation frame {i}"
            );
        }
    }
    if fragment == 0 {
        assert_eq!(
            frames.len(),
            1,
            "{context}: an unfragmented case sent {} frames",
            frames.len()
        );
    } else {
        assert_eq!(
            frames.len(),
            wire.len().div_ceil(fragment).max(1),
            "{context}: auto-fragmentation to {fragment} bytes"
        );
        assert!(frames.iter().all(|f| f.payload.len() <= fragment));
    }
    // Whole messages below the threshold go uncompressed (RFC 7692 §6
    // allows it); Autobahn only checks the echo.
    let compressed = payload.len() >= DEFAULT_THRESHOLD;
    assert_eq!(
        frames[0].rsv,
        if compressed { 0b100 } else { 0 },
        "{context}: RSV1 on the first frame (compressed: {compressed})"
    );
    if compressed {
        let inflated = mirror_inflate(from, &wire, payload.len(), context);
        assert!(
            inflated == payload,
            "{context}: the wire does not inflate to the message"
        );
    } else {
        assert!(wire == payload, "{context}: uncompressed payload differs");
    }
    wire.len()
}

/// Inflates one message's compressed payload with flate2, independently of
/// the crate's codec: appends the tail RFC 7692 §7.2.2 removes, uses the
/// agreed window size and a fresh inflater per message when the sender
/// promised no context takeover, so that a match into an earlier message
/// fails. The window size itself is not enforced here: zlib-rs' inflater
/// keeps a 32 KiB window whatever it is asked for, and resolves matches
/// from its output buffer as well (`tests/deflate_window8.rs` checks match
/// distances of 8-bit output with its own decoder).
fn mirror_inflate(
    from: &mut End,
    compressed: &[u8],
    expected_len: usize,
    context: &str,
) -> Vec<u8> {
    let bits = from.outgoing.max_window_bits.max(9);
    let mut fresh = None;
    let decompressor = if from.outgoing.no_context_takeover {
        fresh.insert(Decompress::new_with_window_bits(false, bits))
    } else {
        from.mirror
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits))
    };
    let mut input = compressed.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut out = Vec::with_capacity(expected_len + 64);
    let mut rest = &input[..];
    loop {
        let before = decompressor.total_in();
        decompressor
            .decompress_vec(rest, &mut out, FlushDecompress::Sync)
            .unwrap_or_else(|e| {
                panic!("{context}: independent inflate with a {bits}-bit window failed: {e}")
            });
        rest = &rest[(decompressor.total_in() - before) as usize..];
        if rest.is_empty() && out.len() < out.capacity() {
            return out;
        }
        assert!(
            out.len() <= 2 * expected_len + 64,
            "{context}: inflates past the message"
        );
        out.reserve(expected_len.max(64));
    }
}
