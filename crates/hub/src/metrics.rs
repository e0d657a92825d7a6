//! [`Metrics`]: the hub's running totals and their `/metrics` page in the
//! Prometheus text format (OpenMetrics flavour, from `prometheus-client`).
//!
//! The hot path stays lock-free for metrics: sessions count into their own
//! hub-core counters and merge them here at most once per
//! [`MERGE_INTERVAL`] (when the [`MergeClock`]'s epoch has changed) and when
//! they end; the node's counters and the
//! gauges are read under the engine lock only when `/metrics` is scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use switchboard_hub_core::counters::{Counters, Method};

use crate::engine::EngineStats;
use crate::merge_clock::MergeClock;

/// How often a busy session merges its counters into the totals.
pub(crate) const MERGE_INTERVAL: Duration = Duration::from_secs(1);

/// The content type of the `/metrics` page.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Totals merged from sessions, and counts the runtime keeps itself.
#[derive(Debug)]
pub(crate) struct Metrics {
    started: Instant,
    sessions: Mutex<Counters>,
    /// When sessions merge into `sessions`.
    merge_clock: MergeClock,
    /// Connections closed as slow consumers (3008).
    slow_disconnects: AtomicU64,
    /// Server API commands by method: `[ok, error]`.
    api: Mutex<Vec<(&'static str, [u64; 2])>>,
    /// The drain's progress (all zero until the stop signal).
    drain: DrainFigures,
    /// WebSocket opening requests by HTTP version: `[HTTP/1.1 Upgrade,
    /// HTTP/2 extended CONNECT]`.
    websocket_requests: [AtomicU64; 2],
}

/// The drain's figures, updated by the server loop as it goes.
#[derive(Debug, Default)]
struct DrainFigures {
    /// 1 once the drain has started.
    draining: AtomicU64,
    /// WebSocket sessions open when the drain started.
    open_at_start: AtomicU64,
    /// Sessions released per tick at most.
    batch: AtomicU64,
    /// When the process exits at the latest, in Unix seconds.
    deadline_unix: AtomicU64,
    /// Sessions still open.
    left: AtomicU64,
    /// Sessions that ended since the drain started.
    disconnected: AtomicU64,
    /// Hub clients the drain closed with 3001 (shutdown).
    shutdown_closes: AtomicU64,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    method: &'static str,
    result: &'static str,
}

impl Metrics {
    /// Totals starting now.
    pub(crate) fn new() -> Self {
        Metrics {
            started: Instant::now(),
            sessions: Mutex::new(Counters::default()),
            merge_clock: MergeClock::new(MERGE_INTERVAL),
            slow_disconnects: AtomicU64::new(0),
            api: Mutex::new(Vec::new()),
            drain: DrainFigures::default(),
            websocket_requests: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// How long the hub has been up.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn sessions(&self) -> MutexGuard<'_, Counters> {
        // Plain sums: a panic mid-merge leaves numbers worth keeping.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When sessions merge their counters.
    pub(crate) fn merge_clock(&self) -> &MergeClock {
        &self.merge_clock
    }

    /// Adds a session's counters (from `Session::take_counters`).
    pub(crate) fn merge(&self, counters: &Counters) {
        self.sessions().merge(counters);
    }

    /// A connection was closed as a slow consumer.
    pub(crate) fn slow_disconnect(&self) {
        self.slow_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one server API command.
    pub(crate) fn api_command(&self, method: &'static str, ok: bool) {
        let mut api = self
            .api
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let index = usize::from(!ok);
        match api.iter_mut().find(|(name, _)| *name == method) {
            Some((_, counts)) => counts[index] += 1,
            None => {
                let mut counts = [0; 2];
                counts[index] = 1;
                api.push((method, counts));
            }
        }
    }

    /// A WebSocket opening request arrived, over HTTP/2 (RFC 8441
    /// extended CONNECT) or HTTP/1.1 (Upgrade).
    pub(crate) fn websocket_request(&self, http2: bool) {
        self.websocket_requests[usize::from(http2)].fetch_add(1, Ordering::Relaxed);
    }

    /// The drain started with `open` sessions, releasing at most `batch`
    /// per tick, and ends at `deadline` (Unix seconds) at the latest.
    pub(crate) fn drain_started(&self, open: u64, batch: u64, deadline_unix: u64) {
        let drain = &self.drain;
        drain.open_at_start.store(open, Ordering::Relaxed);
        drain.batch.store(batch, Ordering::Relaxed);
        drain.deadline_unix.store(deadline_unix, Ordering::Relaxed);
        drain.left.store(open, Ordering::Relaxed);
        drain.draining.store(1, Ordering::Relaxed);
    }

    /// The drain's progress: sessions still open and those that ended
    /// since it started.
    pub(crate) fn drain_progress(&self, left: u64, disconnected: u64) {
        self.drain.left.store(left, Ordering::Relaxed);
        self.drain
            .disconnected
            .store(disconnected, Ordering::Relaxed);
    }

    /// A hub client was closed with 3001 (shutdown) by the drain.
    pub(crate) fn drained_one(&self) {
        self.drain.shutdown_closes.fetch_add(1, Ordering::Relaxed);
    }

    /// The `/metrics` page: the merged session totals, the node's
    /// counters and the engine's gauges.
    pub(crate) fn render(&self, node: &Counters, stats: &EngineStats) -> String {
        let mut totals = self.sessions().clone();
        totals.merge(node);
        totals.slow_disconnects += self.slow_disconnects.load(Ordering::Relaxed);
        let mut registry = Registry::with_prefix("switchboard_hub");

        gauge(
            &mut registry,
            "connections",
            "Connected clients (after a successful connect)",
            stats.num_clients as i64,
        );
        gauge(
            &mut registry,
            "users",
            "Distinct users among connected clients",
            stats.num_users as i64,
        );
        gauge(
            &mut registry,
            "channels",
            "Channels with at least one subscriber",
            stats.num_channels as i64,
        );
        gauge(
            &mut registry,
            "subscriptions",
            "Subscriptions held by connected clients",
            stats.num_subs as i64,
        );
        gauge(
            &mut registry,
            "outbound_queue_bytes",
            "Bytes waiting in clients' outbound queues",
            stats.queued_bytes as i64,
        );
        gauge(
            &mut registry,
            "uptime_seconds",
            "Seconds since the hub started",
            self.uptime().as_secs() as i64,
        );
        counter(
            &mut registry,
            "connects",
            "Connections that completed connect",
            totals.connections,
        );
        counter(
            &mut registry,
            "subscribes",
            "Subscriptions made",
            totals.subscriptions,
        );
        counter(
            &mut registry,
            "publications",
            "Publications accepted by the node",
            totals.publications,
        );
        counter(
            &mut registry,
            "messages_in",
            "WebSocket messages received from clients",
            totals.messages_in,
        );
        counter(
            &mut registry,
            "bytes_in",
            "Bytes of WebSocket messages received from clients",
            totals.bytes_in,
        );
        counter(
            &mut registry,
            "messages_out",
            "WebSocket messages sent to clients",
            totals.messages_out,
        );
        counter(
            &mut registry,
            "bytes_out",
            "Bytes of WebSocket messages sent to clients",
            totals.bytes_out,
        );
        counter(
            &mut registry,
            "slow_disconnects",
            "Connections closed as slow consumers (3008)",
            totals.slow_disconnects,
        );
        counter(
            &mut registry,
            "websocket_requests_http1",
            "WebSocket opening requests over HTTP/1.1 (Upgrade)",
            self.websocket_requests[0].load(Ordering::Relaxed),
        );
        counter(
            &mut registry,
            "websocket_requests_http2",
            "WebSocket opening requests over HTTP/2 (RFC 8441 extended CONNECT)",
            self.websocket_requests[1].load(Ordering::Relaxed),
        );
        counter(
            &mut registry,
            "recovered",
            "Subscriptions that asked to recover and were recovered",
            totals.recovered,
        );
        counter(
            &mut registry,
            "not_recovered",
            "Subscriptions that asked to recover and were not",
            totals.not_recovered,
        );
        counter(
            &mut registry,
            "position_gaps",
            "Live publications that arrived with an offset gap",
            totals.position_gaps,
        );

        let commands = Family::<CommandLabels, Counter>::default();
        for method in Method::ALL {
            for (result, count) in [
                ("ok", totals.commands_ok(method)),
                ("error", totals.commands_failed(method)),
            ] {
                commands
                    .get_or_create(&CommandLabels {
                        method: method.name(),
                        result,
                    })
                    .inc_by(count);
            }
        }
        registry.register(
            "client_commands",
            "Client protocol commands by method and result",
            commands,
        );

        let api = Family::<CommandLabels, Counter>::default();
        for (method, [ok, failed]) in self
            .api
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            for (result, count) in [("ok", *ok), ("error", *failed)] {
                api.get_or_create(&CommandLabels { method, result })
                    .inc_by(count);
            }
        }
        registry.register(
            "api_commands",
            "Server API commands by method and result",
            api,
        );

        self.drain.register(&mut registry);

        let mut page = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut page, &registry);
        page
    }
}

impl DrainFigures {
    /// Adds the `drain_*` figures to the page.
    fn register(&self, registry: &mut Registry) {
        let read = |figure: &AtomicU64| figure.load(Ordering::Relaxed);
        gauge(
            registry,
            "draining",
            "1 once the stop signal came and the drain runs, else 0",
            read(&self.draining) as i64,
        );
        gauge(
            registry,
            "drain_connections",
            "WebSocket sessions open when the drain started (0: no drain)",
            read(&self.open_at_start) as i64,
        );
        gauge(
            registry,
            "drain_batch_size",
            "WebSocket sessions the drain closes per tick (250 ms) at most",
            read(&self.batch) as i64,
        );
        gauge(
            registry,
            "drain_deadline_timestamp_seconds",
            "When the process exits at the latest (Unix seconds): drain window plus grace",
            read(&self.deadline_unix) as i64,
        );
        gauge(
            registry,
            "drain_clients_left",
            "WebSocket sessions still open during the drain",
            read(&self.left) as i64,
        );
        counter(
            registry,
            "drain_disconnected",
            "WebSocket sessions that ended since the drain started",
            read(&self.disconnected),
        );
        counter(
            registry,
            "drain_shutdown_closes",
            "Hub clients the drain closed with 3001 (shutdown, reconnect advised)",
            read(&self.shutdown_closes),
        );
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let gauge = Gauge::<i64>::default();
    gauge.set(value);
    registry.register(name, help, gauge);
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let counter = Counter::<u64>::default();
    counter.inc_by(value);
    registry.register(name, help, counter);
}
