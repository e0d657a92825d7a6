//! `switchboard bench --pubsub PROTOCOL`: a fan-out load generator.
//!
//! It subscribes `--connections` subscribers spread evenly over
//! `--channels` channels, waits until the server has confirmed every
//! subscription, then has `--publishers` publishers publish `--rate`
//! publications per second (all together), each to every channel in turn.
//! Every publication carries its publisher, channel, sequence number and
//! send time (see `payload.rs`), so each subscriber checks each delivery's
//! content, order and count (see `checker.rs`) and its publish-to-delivery
//! time lands in an HDR histogram. After the measurement, publishing stops
//! and deliveries still on their way are awaited (`--drain`); what never
//! arrived is reported missing.
//!
//! Like echo mode it runs on the caller's thread only (one
//! `current_thread` runtime, a task per connection, no locks), and reports
//! its own CPU share, so a run shows whether the server or the load
//! generator was the bottleneck. Five protocols, each over WebSocket:
//! Centrifugo JSON and Protobuf, NATS, MQTT 3.1.1 and the uWebSockets
//! fan-out server in `bench/uws-fanout`.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use switchboard_cli::bench::{pubsub, BenchOptions};
//! let mut options = BenchOptions::new("ws://127.0.0.1:4223/");
//! options.pubsub.protocol = Some(pubsub::Protocol::Nats);
//! options.connections = 100;
//! options.payload_size = 100;
//! let report = pubsub::run(options).await?;
//! assert!(report.checks_passed());
//! # Ok(())
//! # }
//! ```

mod checker;
mod conn;
mod options;
mod payload;
mod protocol;
mod report;
mod shared;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::StreamExt as _;
use tokio::task::{JoinSet, LocalSet};

pub use checker::{CheckCounts, SubscriberCheck, Verdict};
pub use options::{Protocol, PubSubOptions, MAX_CHANNELS, MAX_PUBLISHERS};
pub use payload::{ContentError, Header, PublicationPattern, MIN_PUBSUB_PAYLOAD};
pub use protocol::ServerError;
pub use report::PubSubReport;

use crate::bench::BenchOptions;
use crate::runtime::{self, Scheduler};
use conn::{PubSubConnection, Role};
use shared::{Shared, Stage};

/// How often the drain checks whether every delivery has arrived.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Runs one pub/sub benchmark (`options.pubsub.protocol` must be set) and
/// returns its report. Call it from a `current_thread` runtime: every
/// connection runs on the calling thread.
///
/// Fails when the options are unusable, no subscriber could subscribe, or
/// no publisher could connect; connections that fail later are counted in
/// the report instead.
pub async fn run(options: BenchOptions) -> anyhow::Result<PubSubReport> {
    let protocol = options
        .pubsub
        .protocol
        .context("pub/sub mode needs --pubsub PROTOCOL")?;
    options.validate()?;
    let published_size = (!options.idle).then_some(options.payload_size);
    options
        .pubsub
        .validate(published_size, options.connections)?;
    crate::allocator::keep_freed_memory();
    LocalSet::new()
        .run_until(run_local(options, protocol))
        .await
}

async fn run_local(options: BenchOptions, protocol: Protocol) -> anyhow::Result<PubSubReport> {
    let uri: http::Uri = options.url.parse().with_context(|| {
        format!(
            "{:?} is not a URL: write e.g. ws://127.0.0.1:8000/connection/websocket",
            options.url
        )
    })?;
    let addr = crate::bench::resolve(&uri, false).await?;
    let pubsub = &options.pubsub;
    let channel_names: Vec<String> = (0..pubsub.channels)
        .map(|index| pubsub.channel_name(protocol, index))
        .collect();
    let mut shared = Shared::new(
        // Idle runs publish nothing; any valid size does.
        PublicationPattern::new(options.payload_size.max(MIN_PUBSUB_PAYLOAD)),
        channel_names,
        pubsub.publishers,
    );
    let progress = crate::bench::progress_bar(&options);

    // Subscribers first, every one confirmed before anything is published.
    progress.set_message(format!("subscribing {} connections", options.connections));
    let mut subscribers = Vec::new();
    let mut subscriber_errors = Vec::new();
    {
        let names = &shared.channel_names;
        let (uri, size) = (&uri, options.payload_size);
        let mut attempts = futures_util::stream::iter(0..options.connections)
            .map(|index| async move {
                let channel = index % names.len();
                let role = Role::Subscriber(&names[channel]);
                (
                    channel,
                    conn::open(uri, addr, protocol, index, role, size).await,
                )
            })
            .buffer_unordered(options.connect_concurrency);
        while let Some((channel, result)) = attempts.next().await {
            match result {
                Ok(connection) => subscribers.push((channel, connection)),
                Err(error) => subscriber_errors.push(error),
            }
        }
    }
    for error in &subscriber_errors {
        shared.record_error(error);
    }
    if subscribers.is_empty() {
        let error = shared.first_error.borrow().clone().unwrap_or_default();
        bail!("no subscriber could subscribe at {addr}: {error}");
    }
    let mut subscribers_per_channel = vec![0u64; pubsub.channels];
    shared.checks = subscribers
        .iter()
        .map(|&(channel, _)| {
            subscribers_per_channel[channel] += 1;
            RefCell::new(SubscriberCheck::new(channel as u32, pubsub.publishers))
        })
        .collect();
    let subscribers_open = subscribers.len();
    let shared = Rc::new(shared);
    let mut tasks = JoinSet::new();
    for (index, (_, connection)) in subscribers.into_iter().enumerate() {
        let shared = shared.clone();
        tasks.spawn_local(async move {
            if let Err(error) = connection.run_subscriber(index, &shared).await {
                shared.record_error(&error);
            }
        });
    }
    if let Some(path) = &options.ready_file {
        std::fs::write(path, format!("{subscribers_open}\n"))
            .with_context(|| format!("writing the ready file {}", path.display()))?;
    }

    let mut report = PubSubReport {
        url: options.url.clone(),
        mode: "pubsub",
        protocol,
        subscribers: options.connections,
        subscribers_open,
        channels: pubsub.channels,
        publishers: pubsub.publishers,
        publishers_open: 0,
        publish_rate: pubsub.rate,
        payload_size: options.payload_size,
        idle: options.idle,
        warmup_secs: 0.0,
        duration_secs: 0.0,
        published: 0,
        published_per_sec: 0.0,
        deliveries: 0,
        deliveries_per_sec: 0.0,
        latency: None,
        load_generator_cpu: None,
        delivered_total: 0,
        missing: 0,
        duplicates: 0,
        out_of_order: 0,
        corrupt: 0,
        publish_errors: 0,
        connection_errors: 0,
        first_error: None,
    };

    if options.idle {
        progress.set_message(format!("holding {subscribers_open} idle subscribers"));
        let started = Instant::now();
        tokio::time::sleep(options.duration).await;
        report.duration_secs = started.elapsed().as_secs_f64();
    } else {
        progress.set_message(format!("connecting {} publishers", pubsub.publishers));
        let publishers = open_publishers(&options, &uri, addr, protocol, &shared).await;
        report.publishers_open = publishers.len();
        if publishers.is_empty() {
            let error = shared.first_error.borrow().clone().unwrap_or_default();
            bail!("no publisher could connect to {addr}: {error}");
        }
        let rate_each = pubsub.rate / publishers.len() as f64;
        for (number, connection) in publishers {
            let shared = shared.clone();
            tasks.spawn_local(async move {
                if let Err(error) = connection.run_publisher(number, rate_each, &shared).await {
                    shared.record_error(&error);
                }
            });
        }

        progress.set_message("warm-up");
        tokio::time::sleep(options.warmup).await;
        shared.stage.set(Stage::Measure);
        progress.set_message("measuring");
        let started = Instant::now();
        let cpu_before = crate::bench::thread_cpu_time();
        tokio::time::sleep(options.duration).await;
        shared.stage.set(Stage::Drain);
        let measured = started.elapsed();
        let cpu = cpu_before
            .zip(crate::bench::thread_cpu_time())
            .map(|(before, after)| after.saturating_sub(before));

        progress.set_message("draining");
        drain(&shared, &subscribers_per_channel, pubsub.drain).await;

        let seconds = measured.as_secs_f64();
        report.warmup_secs = options.warmup.as_secs_f64();
        report.duration_secs = seconds;
        report.published = shared.published_measured.get();
        report.published_per_sec = report.published as f64 / seconds;
        report.deliveries = shared.delivered_measured.get();
        report.deliveries_per_sec = report.deliveries as f64 / seconds;
        report.latency = crate::bench::Latency::from_nanos(&shared.latency.borrow());
        report.load_generator_cpu = cpu.map(|busy| busy.as_secs_f64() / seconds);
        report.delivered_total = shared.delivered_total.get();
        report.publish_errors = shared.publish_errors();
    }
    progress.finish_and_clear();
    tasks.shutdown().await;

    let mut counts = CheckCounts::default();
    for check in &shared.checks {
        let check = check.borrow();
        counts
            .add(&check.finish(|publisher| shared.published(publisher, check.channel() as usize)));
    }
    report.missing = counts.missing;
    report.duplicates = counts.duplicates;
    report.out_of_order = counts.out_of_order;
    report.corrupt = counts.corrupt;
    report.connection_errors = shared.connection_errors.get();
    report.first_error = shared.first_error.borrow().clone();
    Ok(report)
}

/// Opens the publishers, at most `connect_concurrency` at a time; returns
/// them with their publisher numbers. Failures are recorded in `shared`.
async fn open_publishers(
    options: &BenchOptions,
    uri: &http::Uri,
    addr: std::net::SocketAddr,
    protocol: Protocol,
    shared: &Shared,
) -> Vec<(u16, PubSubConnection)> {
    let first_index = options.connections;
    let size = options.payload_size;
    let results: Vec<_> = futures_util::stream::iter(0..options.pubsub.publishers)
        .map(|number| async move {
            let opened = conn::open(
                uri,
                addr,
                protocol,
                first_index + number,
                Role::Publisher,
                size,
            )
            .await;
            (number as u16, opened)
        })
        .buffer_unordered(options.connect_concurrency)
        .collect()
        .await;
    let mut publishers = Vec::with_capacity(results.len());
    for (number, result) in results {
        match result {
            Ok(connection) => publishers.push((number, connection)),
            Err(error) => shared.record_error(&error),
        }
    }
    publishers
}

/// Waits until every subscriber has every publication sent on its channel,
/// at most `limit`, and less when deliveries stop making progress for a
/// second (a server that dropped some will not send them later).
async fn drain(shared: &Shared, subscribers_per_channel: &[u64], limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last_progress = (Instant::now(), shared.delivered_total.get());
    loop {
        let expected: u64 = subscribers_per_channel
            .iter()
            .enumerate()
            .map(|(channel, subscribers)| shared.published_on(channel) * subscribers)
            .sum();
        let delivered = shared.delivered_total.get();
        let now = Instant::now();
        if delivered >= expected || now >= deadline {
            return;
        }
        if delivered != last_progress.1 {
            last_progress = (now, delivered);
        } else if now - last_progress.0 > Duration::from_secs(1) {
            return;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// The pub/sub mode's command-line entry: runs on a fresh `current_thread`
/// runtime, prints the report (`json`: one line of JSON), and returns the
/// exit code: failure when the run failed or any delivery check failed.
pub fn main(options: BenchOptions, json: bool) -> std::process::ExitCode {
    use std::process::ExitCode;
    let Some(runtime) = runtime::start(Scheduler::CurrentThread) else {
        return ExitCode::FAILURE;
    };
    let report = match runtime.block_on(run(options)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    if !report.checks_passed() {
        eprintln!(
            "error: deliveries failed the check: {} missing, {} duplicate, {} out of order, {} corrupt",
            report.missing, report.duplicates, report.out_of_order, report.corrupt
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
