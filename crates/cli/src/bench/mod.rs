//! `switchboard bench`: an echo load generator for WebSocket servers, and
//! with `--pubsub PROTOCOL` a fan-out load generator ([`pubsub`]).
//!
//! It opens N connections to an echo server, keeps a fixed number of
//! messages in flight on each, checks every echoed byte against what was
//! sent (each payload carries its sequence number and a pattern derived
//! from it), and reports messages/s, MB/s and round-trip latency
//! percentiles from an HDR histogram.
//!
//! It is built to never be the bottleneck against a server on one core:
//! everything runs on the caller's thread (one `current_thread` runtime,
//! one task per connection, no locks, no atomics) and each connection
//! drives the sans-I/O `switchboard_proto::Connection` directly: reads land
//! in the connection's own buffer, every echo in a read is decoded and
//! checked in place, and the replacements go out with one vectored write.
//! `--raw-tcp` sends the same masked frames to a plain TCP echo server to
//! show the limit of the machine itself.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use switchboard_cli::bench::{run, BenchOptions};
//! let mut options = BenchOptions::new("ws://127.0.0.1:9001/");
//! options.connections = 10;
//! options.payload_size = 1024;
//! let report = run(options).await?;
//! println!("{report}");
//! assert_eq!(report.mismatches, 0);
//! # Ok(())
//! # }
//! ```

mod load;
mod options;
mod payload;
pub mod pubsub;
mod raw;
mod report;
mod stats;
mod wire;
mod ws;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::net::TcpStream;
use tokio::task::{JoinSet, LocalSet};

pub use options::{parse_duration, parse_size, BenchOptions, PayloadKind};
pub use payload::MIN_PAYLOAD_SIZE;
pub use report::{BenchReport, Latency};

use payload::Pattern;
use raw::RawWire;
use stats::{Phase, Stats};
use ws::WsWire;

/// How often the progress bar refreshes.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// An open benchmark connection, ready for load. (The WebSocket state is
/// boxed only to keep this list compact while connections are opened.)
enum Established {
    WebSocket(TcpStream, Box<WsWire>),
    RawTcp(TcpStream, RawWire),
}

/// Runs one benchmark and returns its report.
///
/// All connections run as tasks on the calling thread (a `LocalSet` inside
/// this future), so call it from a `current_thread` runtime (or
/// `block_on`); it must not be `tokio::spawn`ed onto another thread.
///
/// Fails when the options are unusable or no connection could be opened;
/// connections that fail later are counted in the report instead.
pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    if options.pubsub.protocol.is_some() {
        bail!("--pubsub selects the pub/sub mode: run it with bench::pubsub::run");
    }
    options.validate()?;
    crate::allocator::keep_freed_memory();
    LocalSet::new().run_until(run_local(options)).await
}

async fn run_local(options: BenchOptions) -> anyhow::Result<BenchReport> {
    let uri: http::Uri = options.url.parse().with_context(|| {
        format!(
            "{:?} is not a URL: write e.g. ws://127.0.0.1:9001/",
            options.url
        )
    })?;
    let addr = resolve(&uri, options.raw_tcp).await?;
    let pattern = Rc::new(Pattern::new(options.kind(), options.payload_size));
    let stats = Rc::new(Stats::new());

    let progress = progress_bar(&options);
    progress.set_message(format!("opening {} connections", options.connections));
    let established = open_connections(&options, &uri, addr, &stats).await;
    if established.is_empty() {
        let error = stats.first_error.borrow().clone().unwrap_or_default();
        bail!("could not open any connection to {addr}: {error}");
    }
    let connections_open = established.len();
    if let Some(path) = &options.ready_file {
        std::fs::write(path, format!("{connections_open}\n"))
            .with_context(|| format!("writing the ready file {}", path.display()))?;
    }

    let (measured, cpu) = if options.idle {
        progress.set_message(format!("holding {connections_open} idle connections"));
        let started = Instant::now();
        tokio::time::sleep(options.duration).await;
        let held = started.elapsed();
        drop(established);
        (held, None)
    } else {
        apply_load(&options, established, &pattern, &stats, &progress).await
    };
    progress.finish_and_clear();

    let seconds = measured.as_secs_f64();
    let messages = stats.messages.get();
    let bytes = stats.bytes.get();
    let latency = report::Latency::from_nanos(&stats.latency.borrow());
    let first_error = stats.first_error.borrow().clone();
    Ok(BenchReport {
        url: options.url.clone(),
        mode: if options.raw_tcp {
            "raw-tcp"
        } else {
            "websocket"
        },
        connections: options.connections,
        connections_open,
        payload_size: options.payload_size,
        kind: options.kind(),
        in_flight: if options.idle { 0 } else { options.in_flight },
        idle: options.idle,
        warmup_secs: if options.idle {
            0.0
        } else {
            options.warmup.as_secs_f64()
        },
        duration_secs: seconds,
        messages,
        bytes,
        messages_per_sec: messages as f64 / seconds,
        megabytes_per_sec: bytes as f64 / seconds / 1e6,
        latency,
        load_generator_cpu: cpu.map(|busy: Duration| busy.as_secs_f64() / seconds),
        mismatches: stats.mismatches.get(),
        connection_errors: stats.connection_errors.get(),
        first_error,
    })
}

/// The socket address to connect to: the URL's host and port (default 80
/// for ws://). wss:// is refused until TLS lands in the load generator.
pub(crate) async fn resolve(uri: &http::Uri, raw_tcp: bool) -> anyhow::Result<SocketAddr> {
    match uri.scheme_str() {
        Some("ws") | Some("http") => {}
        Some("tcp") if raw_tcp => {}
        Some("wss") | Some("https") => {
            bail!("{uri}: wss:// is not supported by the load generator yet; benchmark over ws://")
        }
        _ => bail!("{uri}: the URL must start with ws:// (e.g. ws://127.0.0.1:9001/)"),
    }
    let host = uri
        .host()
        .with_context(|| format!("{uri} has no host: write e.g. ws://127.0.0.1:9001/"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} resolved to no address"))
}

/// Opens every connection, at most `connect_concurrency` at a time. Failures
/// are recorded in `stats`; the open connections are returned.
async fn open_connections(
    options: &BenchOptions,
    uri: &http::Uri,
    addr: SocketAddr,
    stats: &Stats,
) -> Vec<Established> {
    let attempts = futures_util::stream::iter(0..options.connections)
        .map(|index| async move {
            if options.raw_tcp {
                let stream = TcpStream::connect(addr)
                    .await
                    .with_context(|| format!("connecting to {addr}"))?;
                stream.set_nodelay(true)?;
                let seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(index as u64 + 1);
                Ok(Established::RawTcp(stream, RawWire::new(seed)))
            } else {
                let (stream, wire) = ws::connect(uri, addr).await?;
                Ok(Established::WebSocket(stream, Box::new(wire)))
            }
        })
        .buffer_unordered(options.connect_concurrency);
    let results: Vec<anyhow::Result<Established>> = attempts.collect().await;
    let mut established = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(connection) => established.push(connection),
            Err(error) => stats.record_error(&error),
        }
    }
    established
}

/// Spawns the load on every connection, lets it warm up, measures for the
/// configured duration and stops every connection. Returns the length of
/// the measurement window as observed and, where the OS tells, the CPU time
/// this thread used during it.
async fn apply_load(
    options: &BenchOptions,
    established: Vec<Established>,
    pattern: &Rc<Pattern>,
    stats: &Rc<Stats>,
    progress: &ProgressBar,
) -> (Duration, Option<Duration>) {
    let mut tasks = JoinSet::new();
    for connection in established {
        let (stats, pattern, in_flight) = (stats.clone(), pattern.clone(), options.in_flight);
        tasks.spawn_local(async move {
            let result = match connection {
                Established::WebSocket(stream, wire) => {
                    load::drive(stream, *wire, &stats, &pattern, in_flight).await
                }
                Established::RawTcp(stream, wire) => {
                    load::drive(stream, wire, &stats, &pattern, in_flight).await
                }
            };
            if let Err(error) = result {
                stats.record_error(&error);
            }
        });
    }
    let ticker = tokio::task::spawn_local(tick_progress(progress.clone(), stats.clone()));

    stats.phase.set(Phase::Warmup);
    tokio::time::sleep(options.warmup).await;
    stats.phase.set(Phase::Measure);
    let started = Instant::now();
    let cpu_before = thread_cpu_time();
    tokio::time::sleep(options.duration).await;
    stats.phase.set(Phase::Done);
    let measured = started.elapsed();
    let cpu = cpu_before
        .zip(thread_cpu_time())
        .map(|(before, after)| after.saturating_sub(before));

    ticker.abort();
    tasks.shutdown().await;
    (measured, cpu)
}

/// CPU time the calling thread has run, from Linux's
/// `/proc/thread-self/schedstat` (nanoseconds on the CPU, first field).
/// Every connection runs on this thread, so this is the load generator's
/// whole cost; `None` elsewhere.
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

pub(crate) fn progress_bar(options: &BenchOptions) -> ProgressBar {
    if options.no_progress {
        return ProgressBar::hidden();
    }
    let total = options.duration
        + if options.idle {
            Duration::ZERO
        } else {
            options.warmup
        };
    let bar = ProgressBar::new(total.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {elapsed:>3} {msg}")
            .expect("static progress template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// Updates the progress bar with the phase and the current rate.
async fn tick_progress(bar: ProgressBar, stats: Rc<Stats>) {
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let mut interval = tokio::time::interval(PROGRESS_TICK);
    loop {
        interval.tick().await;
        let now = Instant::now();
        let echoes = stats.echoes_total.get();
        let rate = (echoes - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-9);
        last = (now, echoes);
        let phase = match stats.phase.get() {
            Phase::Warmup => "warm-up",
            Phase::Measure => "measuring",
            Phase::Done => "stopping",
        };
        bar.set_position((now - started).as_millis() as u64);
        bar.set_message(format!(
            "{phase}: {rate:.0} msg/s, {} mismatches, {} errors",
            stats.mismatches.get(),
            stats.connection_errors.get()
        ));
    }
}
