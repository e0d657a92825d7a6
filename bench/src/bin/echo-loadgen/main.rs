//! `echo-loadgen`: a lean load generator for the echo benchmark, built so
//! that the server, not the load generator, runs out of CPU first.
//!
//! Per message it does as little as a client can: the frame is encoded and
//! masked once (a fixed masking key; see `frames`), W copies sit in one
//! buffer, and the replacements for all echoes found in a read leave in
//! one write. Echoes go through a minimal streaming parser that checks
//! every echo's header (final frame, opcode, length) and compares the
//! content of every N-th echo per connection (`--check-every`, default 64,
//! the first included), so a broken server cannot score. It runs on one
//! thread (one mio/epoll loop) and reports its own CPU time and, with
//! `--server-pid`, the server's, both over the measurement window.
//!
//! The product's `switchboard bench` builds, masks and fully compares every
//! message; it is the general tool. This one lives in the bench workspace
//! because its shortcuts (fixed mask, sampled comparison) only make sense
//! for measuring echo servers.

mod connect;
mod cpu;
mod drive;
mod frames;
mod options;
mod parser;
mod report;

use std::time::Duration;

use anyhow::{bail, Context as _};

use options::Options;

fn main() -> anyhow::Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    let target = connect::Target::parse(&options.url)?;
    let (streams, first_error) = open(&options, &target);
    if streams.is_empty() {
        bail!(
            "no connection opened to {}: {}",
            target.addr,
            first_error.unwrap_or_default()
        );
    }
    let open_count = streams.len();
    if let Some(path) = &options.ready_file {
        std::fs::write(path, format!("{open_count}\n"))
            .with_context(|| format!("writing the ready file {}", path.display()))?;
    }
    if options.idle {
        std::thread::sleep(options.duration);
        println!("{{\"idle\":true,\"connections_open\":{open_count}}}");
        return Ok(());
    }
    let (frame, expected) = frames::build(
        options.kind,
        options.payload_size,
        options.raw_tcp,
        options.check_every,
    );
    let batch = frames::Batch::new(&frame, options.in_flight);
    let mut outcome = drive::run(streams, &batch, &expected, &options)?;
    let failed_to_open = (options.connections - open_count) as u64;
    outcome.connection_errors += failed_to_open;
    if outcome.first_error.is_none() {
        outcome.first_error = first_error;
    }
    let report = report::json(&options, open_count, &outcome);
    if options.json {
        println!("{report}");
    } else {
        println!("{}", report::summary(&report));
    }
    Ok(())
}

/// Opens the connections one after another (handshake included); returns
/// those that opened and the first failure.
fn open(options: &Options, target: &connect::Target) -> (Vec<std::net::TcpStream>, Option<String>) {
    let mut streams = Vec::with_capacity(options.connections);
    let mut first_error = None;
    for index in 0..options.connections {
        let opened = if options.raw_tcp {
            connect::tcp(target)
        } else {
            connect::websocket(target, index)
        };
        match opened {
            Ok(stream) => streams.push(stream),
            Err(error) => {
                first_error.get_or_insert_with(|| format!("{error:#}"));
                // A server out of descriptors refuses the rest too: give it a moment.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    (streams, first_error)
}
