//! Measures the memory one WebSocket connection holds with and without
//! permessage-deflate, per preset. The numbers feed the table in the
//! `switchboard_proto::deflate` module docs.
//!
//! ```text
//! cargo run -p switchboard-proto --example deflate_memory
//! ```
//!
//! A counting global allocator tracks live heap bytes. For each setting a
//! client and a server [`Connection`] are created, the extension is
//! negotiated, one 16 KiB JSON message goes each way, and the transport
//! buffers are drained. "Idle" is what the pair still holds afterwards,
//! "peak" the most it held while the messages were processed. Both are
//! reported per endpoint (half the pair).

use std::io::IoSlice;

use switchboard_proto::deflate::DeflateConfig;
use switchboard_proto::{Config, Connection, Event, Message, Role};
use switchboard_testkit::alloc::{CountingAllocator, ProcessMeter};

#[global_allocator]
static ALLOCATOR: CountingAllocator<ProcessMeter> = CountingAllocator::new(ProcessMeter::new());

/// Moves every queued byte from `from` to `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    while from.transmit_len() > 0 {
        let mut slices = [IoSlice::new(&[]); 16];
        let count = from.transmit_slices(&mut slices);
        let mut written = 0;
        for slice in &slices[..count] {
            to.receive(slice);
            written += slice.len();
        }
        from.advance_transmit(written);
    }
}

fn expect_message(conn: &mut Connection, len: usize) {
    match conn.poll_event() {
        Ok(Some(Event::Message(message))) => assert_eq!(message.len(), len),
        other => panic!("expected a message, got {other:?}"),
    }
}

fn json(len: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"price\":{}.{:02}}},",
            i % 17,
            i * 7 % 1000,
            i % 100
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

struct Measurement {
    idle: usize,
    peak: usize,
    compressed: Option<usize>,
}

fn measure(deflate: Option<&DeflateConfig>) -> Measurement {
    let text = json(16 * 1024);
    let meter = ALLOCATOR.meter();
    let base = meter.live();
    meter.reset_peak();

    let config = Config::default().ping_interval(None);
    let mut client = Connection::new(Role::Client, config.clone());
    let mut server = Connection::new(Role::Server, config);
    if let Some(deflate) = deflate {
        let (response, server_ext) = deflate
            .server_negotiate(&deflate.client_offers())
            .expect("own offers are acceptable");
        let client_ext = deflate
            .client_accept(&[response])
            .expect("valid response")
            .expect("compression accepted");
        client.set_extension(Box::new(client_ext));
        server.set_extension(Box::new(server_ext));
    }

    client.send(Message::text(text.clone())).unwrap();
    let wire = client.transmit_len();
    pump(&mut client, &mut server);
    expect_message(&mut server, text.len());
    server.send(Message::text(text.clone())).unwrap();
    pump(&mut server, &mut client);
    expect_message(&mut client, text.len());

    let idle = (meter.live() - base) as usize / 2;
    let peak = (meter.peak() - base) as usize / 2;
    drop((client, server));
    Measurement {
        idle,
        peak,
        compressed: deflate.map(|_| wire),
    }
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn main() {
    let rows: [(&str, &str, Option<DeflateConfig>); 5] = [
        ("compression off", "–", None),
        (
            "`DeflateConfig::default()` / `high_compression()`",
            "15 / 15, context takeover",
            Some(DeflateConfig::default()),
        ),
        (
            "`DeflateConfig::balanced()`",
            "12 / 12, context takeover",
            Some(DeflateConfig::balanced()),
        ),
        (
            "10-bit windows, context takeover",
            "10 / 10, context takeover",
            Some(
                DeflateConfig::default()
                    .max_window_bits(10)
                    .peer_max_window_bits(10),
            ),
        ),
        (
            "`DeflateConfig::low_memory()`",
            "10 / 10, no context takeover",
            Some(DeflateConfig::low_memory()),
        ),
    ];
    // Warm up lazily initialised statics (thread-locals, CPU feature
    // detection) so they do not count against the first row.
    let _ = measure(Some(&DeflateConfig::default()));

    println!("| Setting | Windows (ours / peer's) | Idle per connection | Peak per connection | 16 KiB JSON on the wire |");
    println!("|---|---|---|---|---|");
    for (name, windows, config) in &rows {
        let m = measure(config.as_ref());
        let wire = m
            .compressed
            .map_or_else(|| "16.0 KiB + header".to_string(), kib);
        println!(
            "| {name} | {windows} | {} | {} | {wire} |",
            kib(m.idle),
            kib(m.peak)
        );
    }
}
