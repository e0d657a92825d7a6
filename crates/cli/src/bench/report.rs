//! The result of a run: [`BenchReport`], printable as a table or JSON.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bench::options::PayloadKind;

/// Round-trip time percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p99_9_us: f64,
    /// Slowest round trip.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    /// Summarises a histogram of nanoseconds; `None` when it is empty.
    pub(crate) fn from_nanos(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let us = |nanos: u64| nanos as f64 / 1000.0;
        Some(Latency {
            p50_us: us(histogram.value_at_quantile(0.50)),
            p90_us: us(histogram.value_at_quantile(0.90)),
            p99_us: us(histogram.value_at_quantile(0.99)),
            p99_9_us: us(histogram.value_at_quantile(0.999)),
            max_us: us(histogram.max()),
            mean_us: histogram.mean() / 1000.0,
        })
    }
}

/// What one `switchboard bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The target.
    pub url: String,
    /// `"websocket"` or `"raw-tcp"`.
    pub mode: &'static str,
    /// Connections asked for.
    pub connections: usize,
    /// Connections that opened (and completed the handshake).
    pub connections_open: usize,
    /// Payload bytes per message.
    pub payload_size: usize,
    /// Text or binary.
    pub kind: PayloadKind,
    /// Messages in flight per connection (0 when idle).
    pub in_flight: usize,
    /// Whether the connections were held idle instead of loaded.
    pub idle: bool,
    /// Warm-up before measuring, in seconds.
    pub warmup_secs: f64,
    /// Length of the measurement window actually observed, in seconds.
    pub duration_secs: f64,
    /// Echoed messages received and verified during the window.
    pub messages: u64,
    /// Their payload bytes (one direction).
    pub bytes: u64,
    /// `messages / duration_secs`.
    pub messages_per_sec: f64,
    /// `bytes / duration_secs`, in MB/s (10⁶ bytes).
    pub megabytes_per_sec: f64,
    /// Round-trip times of the verified echoes; `None` when there were none.
    pub latency: Option<Latency>,
    /// Share of one core the load generator used while measuring (1.0 =
    /// busy all the time): near 1.0 means the load generator, not the
    /// server, may be the bottleneck. `None` where the OS does not tell.
    pub load_generator_cpu: Option<f64>,
    /// Echoes whose payload, kind or order differed from what was sent
    /// (warm-up included). Anything but 0 means the server is broken.
    pub mismatches: u64,
    /// Connections that failed to open or failed while running.
    pub connection_errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

impl BenchReport {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("the report serialises: it holds no maps or custom types")
    }

    /// Whether the run saw no mismatches and no failed connections.
    pub fn is_clean(&self) -> bool {
        self.mismatches == 0 && self.connection_errors == 0
    }
}

/// Formats `value` with thousands separators.
pub(crate) fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl fmt::Display for BenchReport {
    /// A human-readable table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PayloadKind::Binary => "binary",
            PayloadKind::Text => "text",
        };
        writeln!(f, "target       {} ({})", self.url, self.mode)?;
        if self.idle {
            writeln!(
                f,
                "load         {} idle connections held {:.1} s",
                self.connections, self.duration_secs
            )?;
        } else {
            writeln!(
                f,
                "load         {} connections x {} B {kind}, {} in flight, {:.1} s after {:.1} s warm-up",
                self.connections, self.payload_size, self.in_flight, self.duration_secs, self.warmup_secs
            )?;
        }
        writeln!(f, "connections  {} open", self.connections_open)?;
        if !self.idle {
            writeln!(
                f,
                "messages/s   {}",
                grouped(self.messages_per_sec.round() as u64)
            )?;
            writeln!(f, "MB/s         {:.1}", self.megabytes_per_sec)?;
            match &self.latency {
                Some(l) => writeln!(
                    f,
                    "latency µs   p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
                    l.p50_us, l.p90_us, l.p99_us, l.p99_9_us, l.max_us
                )?,
                None => writeln!(f, "latency µs   no echoes measured")?,
            }
            writeln!(f, "verified     {} messages", grouped(self.messages))?;
            if let Some(cpu) = self.load_generator_cpu {
                writeln!(f, "client CPU   {:.0}% of one core", cpu * 100.0)?;
            }
        }
        writeln!(f, "mismatches   {}", self.mismatches)?;
        write!(f, "conn errors  {}", self.connection_errors)?;
        if let Some(error) = &self.first_error {
            write!(f, " (first: {error})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn latency_percentiles_come_from_the_histogram() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        assert!(Latency::from_nanos(&histogram).is_none());
        for micros in 1..=1000u64 {
            histogram.record(micros * 1000).unwrap();
        }
        let latency = Latency::from_nanos(&histogram).unwrap();
        assert!((latency.p50_us - 500.0).abs() < 1.0, "{latency:?}");
        assert!((latency.p99_us - 990.0).abs() < 2.0, "{latency:?}");
        assert!((latency.max_us - 1000.0).abs() < 2.0, "{latency:?}");
    }
}
