//! The result of a pub/sub run: [`PubSubReport`], printable as a table or
//! one line of JSON.

use std::fmt;

use serde::Serialize;

use crate::bench::pubsub::options::Protocol;
use crate::bench::report::{grouped, Latency};

/// What one `switchboard bench --pubsub` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PubSubReport {
    /// The target.
    pub url: String,
    /// Always `"pubsub"` (tells this report from an echo report).
    pub mode: &'static str,
    /// The protocol spoken.
    pub protocol: Protocol,
    /// Subscribers asked for.
    pub subscribers: usize,
    /// Subscribers whose subscription the server confirmed.
    pub subscribers_open: usize,
    /// Channels.
    pub channels: usize,
    /// Publishers asked for.
    pub publishers: usize,
    /// Publishers that connected.
    pub publishers_open: usize,
    /// Publications per second asked for (all publishers).
    pub publish_rate: f64,
    /// Bytes per publication.
    pub payload_size: usize,
    /// Whether the subscribers were held idle (no publishers).
    pub idle: bool,
    /// Warm-up before measuring, in seconds.
    pub warmup_secs: f64,
    /// Length of the measurement window as observed, in seconds.
    pub duration_secs: f64,
    /// Publications sent during the window.
    pub published: u64,
    /// `published / duration_secs`: the rate actually achieved.
    pub published_per_sec: f64,
    /// Distinct, verified deliveries received during the window.
    pub deliveries: u64,
    /// `deliveries / duration_secs`.
    pub deliveries_per_sec: f64,
    /// Publish-to-delivery times (send time in the payload to arrival)
    /// during the window; `None` without deliveries.
    pub latency: Option<Latency>,
    /// Share of one core the load generator used while measuring; near 1.0
    /// means it, not the server, may be the bottleneck.
    pub load_generator_cpu: Option<f64>,
    /// Distinct verified deliveries over the whole run (warm-up and drain
    /// included).
    pub delivered_total: u64,
    /// Publications a subscriber never received (whole run, after the
    /// drain).
    pub missing: u64,
    /// Extra copies of publications already delivered.
    pub duplicates: u64,
    /// Publications delivered after a later one of the same publisher.
    pub out_of_order: u64,
    /// Deliveries with wrong content (altered, truncated, wrong channel).
    pub corrupt: u64,
    /// Publications the server refused (Centrifugo replies with an error).
    pub publish_errors: u64,
    /// Connections that failed to open or failed while running.
    pub connection_errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

impl PubSubReport {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the report serialises: plain fields only")
    }

    /// Whether every publication reached every subscriber once, in order,
    /// intact.
    pub fn checks_passed(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0 && self.corrupt == 0
    }
}

impl fmt::Display for PubSubReport {
    /// A human-readable table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = clap::ValueEnum::to_possible_value(&self.protocol)
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default();
        writeln!(f, "target        {} (pub/sub, {protocol})", self.url)?;
        writeln!(
            f,
            "subscribers   {} open of {} on {} channel(s)",
            self.subscribers_open, self.subscribers, self.channels
        )?;
        if self.idle {
            writeln!(f, "load          idle, held {:.1} s", self.duration_secs)?;
        } else {
            writeln!(
                f,
                "load          {} of {} publisher(s) at {} pub/s x {} B, {:.1} s after {:.1} s warm-up",
                self.publishers_open,
                self.publishers,
                self.publish_rate,
                self.payload_size,
                self.duration_secs,
                self.warmup_secs
            )?;
            writeln!(
                f,
                "published/s   {}",
                grouped(self.published_per_sec.round() as u64)
            )?;
            writeln!(
                f,
                "deliveries/s  {}",
                grouped(self.deliveries_per_sec.round() as u64)
            )?;
            match &self.latency {
                Some(l) => writeln!(
                    f,
                    "latency µs    p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
                    l.p50_us, l.p99_us, l.p99_9_us, l.max_us
                )?,
                None => writeln!(f, "latency µs    no deliveries measured")?,
            }
            if let Some(cpu) = self.load_generator_cpu {
                writeln!(f, "client CPU    {:.0}% of one core", cpu * 100.0)?;
            }
            writeln!(
                f,
                "checked       {} deliveries: {} missing, {} duplicate, {} out of order, {} corrupt",
                grouped(self.delivered_total),
                self.missing,
                self.duplicates,
                self.out_of_order,
                self.corrupt
            )?;
            writeln!(f, "pub errors    {}", self.publish_errors)?;
        }
        write!(f, "conn errors   {}", self.connection_errors)?;
        if let Some(error) = &self.first_error {
            write!(f, " (first: {error})")?;
        }
        Ok(())
    }
}
