//! permessage-deflate throughput, end to end through two `Connection`s.
//!
//! One iteration is one JSON text message: the client `send`s it, its
//! transmit bytes are handed to the server, and the server `poll_event`s
//! the message out (compress, frame, mask, unmask, inflate, UTF-8 check).
//! Throughput counts application payload bytes. Each case cycles through
//! distinct messages so that context takeover only gains what realistic
//! traffic gains (repeated keys and values), not a copy of the previous
//! message.
//!
//! Criterion measures time only, so the compression ratio of each case
//! (wire bytes, frame headers included, over payload bytes) is printed
//! once before it runs.
//!
//! Run: `cargo bench -p switchboard-proto --bench deflate -- --warm-up-time 1 --measurement-time 3`.
//! The table in the `deflate` module docs comes from this bench.

use std::hint::black_box;
use std::io::IoSlice;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_proto::deflate::DeflateConfig;
use switchboard_proto::handshake::parse_extensions;
use switchboard_proto::{Config, Connection, Event, Message, Role, Utf8Bytes};

/// Distinct messages per case; the 64 KiB case keeps 1 MiB of payloads.
const DISTINCT_MESSAGES: usize = 16;

/// A small deterministic generator (SplitMix64), so every run benches the
/// same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const EVENTS: &[&str] = &[
    "presence.update",
    "message.create",
    "message.edit",
    "typing.start",
    "room.join",
    "room.leave",
    "reaction.add",
];
const TAGS: &[&str] = &["a", "b", "vip", "beta", "mobile", "eu", "us", "trial"];
const STATUSES: &[&str] = &["online", "away", "busy", "offline"];
const DEVICES: &[&str] = &["ios", "android", "web", "desktop"];
const WORDS: &[&str] = &[
    "hello", "see", "you", "at", "the", "standup", "deploy", "is", "green", "thanks", "lunch",
    "later", "review", "please", "merged", "ok",
];

/// One event record, e.g.
/// `{"id":123,"user":"user-123","event":"presence.update","ts":…,"tags":[…],"payload":{…}}`.
fn record(rng: &mut Rng, id: u64, ts: u64) -> String {
    let user = rng.below(5_000);
    let tags: Vec<String> = (0..1 + rng.below(3))
        .map(|_| format!("\"{}\"", rng.pick(TAGS)))
        .collect();
    let text: Vec<&str> = (0..2 + rng.below(6)).map(|_| rng.pick(WORDS)).collect();
    format!(
        concat!(
            "{{\"id\":{id},\"user\":\"user-{user}\",\"event\":\"{event}\",\"ts\":{ts},",
            "\"tags\":[{tags}],\"payload\":{{\"room\":\"room-{room}\",\"status\":\"{status}\",",
            "\"device\":\"{device}\",\"seq\":{seq},\"text\":\"{text}\",",
            "\"lat\":{lat}.{lat_frac:04},\"lon\":{lon}.{lon_frac:04}}}}}"
        ),
        id = id,
        user = user,
        event = rng.pick(EVENTS),
        ts = ts,
        tags = tags.join(","),
        room = rng.below(200),
        status = rng.pick(STATUSES),
        device = rng.pick(DEVICES),
        seq = rng.below(100_000),
        text = text.join(" "),
        lat = rng.below(90),
        lat_frac = rng.below(10_000),
        lon = rng.below(180),
        lon_frac = rng.below(10_000),
    )
}

/// A JSON array of records of exactly `size` bytes (padded with
/// whitespace before the closing bracket). `next_id` and `ts` carry on
/// across messages, as in a real event stream.
fn json_message(rng: &mut Rng, size: usize, next_id: &mut u64, ts: &mut u64) -> String {
    let mut text = String::from("[");
    loop {
        let entry = record(rng, *next_id, *ts);
        let separator = usize::from(text.len() > 1);
        if text.len() + separator + entry.len() + 1 > size {
            break;
        }
        if separator == 1 {
            text.push(',');
        }
        text.push_str(&entry);
        *next_id += 1;
        *ts += 1 + rng.below(250);
    }
    text.extend(std::iter::repeat_n(' ', size - text.len() - 1));
    text.push(']');
    assert_eq!(text.len(), size);
    text
}

fn messages(size: usize) -> Vec<Utf8Bytes> {
    let mut rng = Rng(0x5EED_0000 + size as u64);
    let (mut next_id, mut ts) = (1, 1_700_000_000_000);
    (0..DISTINCT_MESSAGES)
        .map(|_| Utf8Bytes::from(json_message(&mut rng, size, &mut next_id, &mut ts)))
        .collect()
}

/// The compression settings compared.
#[derive(Clone, Copy)]
enum Setting {
    Off,
    Default,
    LowMemory,
}

impl Setting {
    const ALL: [Setting; 3] = [Setting::Off, Setting::Default, Setting::LowMemory];

    fn name(self) -> &'static str {
        match self {
            Setting::Off => "off",
            Setting::Default => "default",
            Setting::LowMemory => "low_memory",
        }
    }

    fn config(self) -> Option<DeflateConfig> {
        match self {
            Setting::Off => None,
            Setting::Default => Some(DeflateConfig::default()),
            Setting::LowMemory => Some(DeflateConfig::low_memory()),
        }
    }
}

/// A client and a server, negotiated through header text like a real
/// handshake (both ends use the same settings).
fn pair(setting: Setting) -> (Connection, Connection) {
    let config = Config::default().ping_interval(None);
    let mut client = Connection::new(Role::Client, config.clone());
    let mut server = Connection::new(Role::Server, config);
    if let Some(deflate) = setting.config() {
        let offers: Vec<String> = deflate
            .client_offers()
            .iter()
            .map(ToString::to_string)
            .collect();
        let offers = parse_extensions(&offers.join(", ")).expect("our offers parse");
        let (response, server_ext) = deflate
            .server_negotiate(&offers)
            .expect("the server accepts our offer");
        let response = parse_extensions(&response.to_string()).expect("the response parses");
        let client_ext = deflate
            .client_accept(&response)
            .expect("the response is valid")
            .expect("compression is on");
        client.set_extension(Box::new(client_ext));
        server.set_extension(Box::new(server_ext));
    }
    (client, server)
}

/// Moves the client's transmit bytes to the server; returns how many.
fn transfer(client: &mut Connection, server: &mut Connection) -> usize {
    let mut moved = 0;
    while client.transmit_len() > 0 {
        let mut slices = [IoSlice::new(&[]); 8];
        let filled = client.transmit_slices(&mut slices);
        let mut written = 0;
        for slice in &slices[..filled] {
            server.receive(slice);
            written += slice.len();
        }
        client.advance_transmit(written);
        moved += written;
    }
    moved
}

/// Sends one message from client to server and returns its size as the
/// server received it.
fn round(client: &mut Connection, server: &mut Connection, text: &Utf8Bytes) -> (usize, usize) {
    client
        .send(Message::Text(text.clone()))
        .expect("the connection is open");
    let wire = transfer(client, server);
    match server.poll_event() {
        Ok(Some(Event::Message(message))) => (wire, black_box(message).len()),
        other => panic!("expected the message, got {other:?}"),
    }
}

/// Wire bytes over payload bytes for one pass over the messages on a fresh
/// pair (with context takeover the first message has no history).
fn compression_ratio(setting: Setting, texts: &[Utf8Bytes]) -> f64 {
    let (mut client, mut server) = pair(setting);
    let (mut wire, mut payload) = (0, 0);
    for text in texts {
        let (sent, received) = round(&mut client, &mut server, text);
        assert_eq!(received, text.len());
        wire += sent;
        payload += text.len();
    }
    wire as f64 / payload as f64
}

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    for (label, size) in [("1KiB", 1024), ("64KiB", 64 * 1024)] {
        let texts = messages(size);
        group.throughput(Throughput::Bytes(size as u64));
        for setting in Setting::ALL {
            println!(
                "deflate/{}/{label}: compression ratio (wire / payload) {:.4}",
                setting.name(),
                compression_ratio(setting, &texts)
            );
            let (mut client, mut server) = pair(setting);
            let mut next = texts.iter().cycle();
            group.bench_function(BenchmarkId::new(setting.name(), label), |b| {
                b.iter(|| {
                    let text = next.next().expect("cycle never ends");
                    round(&mut client, &mut server, text)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
