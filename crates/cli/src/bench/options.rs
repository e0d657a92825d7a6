//! What load to generate: [`BenchOptions`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::bench::payload::MIN_PAYLOAD_SIZE;
use crate::bench::pubsub::PubSubOptions;

/// Text or binary messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadKind {
    /// Binary messages (opcode 0x2).
    Binary,
    /// Text messages (opcode 0x1): the server must validate UTF-8.
    Text,
}

/// The load shape of one `switchboard bench` run. Also the clap arguments
/// of the `bench` subcommand (`#[command(flatten)]` it).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Echo server to load: ws://host:port/path. With --raw-tcp only host
    /// and port are used.
    pub url: String,

    /// Concurrent connections (with --pubsub: subscribers).
    #[arg(short = 'c', long, default_value_t = 100)]
    pub connections: usize,

    /// Payload bytes per message (at least 16); accepts suffixes B, KiB, MiB
    /// (e.g. 16, 1KiB, 64KiB, 1MiB).
    #[arg(short = 's', long = "size", default_value = "16", value_parser = parse_size)]
    pub payload_size: usize,

    /// Messages in flight per connection: each echo received sends the next.
    #[arg(short = 'n', long, default_value_t = 8)]
    pub in_flight: usize,

    /// Send text messages (UTF-8 with multi-byte characters) instead of binary.
    #[arg(long)]
    pub text: bool,

    /// How long to measure, after the warm-up (e.g. 5, 5s, 500ms).
    #[arg(short = 'd', long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Load applied before measuring starts; not counted (e.g. 1s, 0).
    #[arg(short = 'w', long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Plain TCP to an echo server (the physical limit): sends the same
    /// masked WebSocket frames without the opening handshake and parses the
    /// echoed frames, so both modes put the same bytes on the wire.
    #[arg(long)]
    pub raw_tcp: bool,

    /// Open the connections and hold them idle for --duration, sending
    /// nothing (for memory-per-connection measurements).
    #[arg(long)]
    pub idle: bool,

    /// Create this file once every connection is open (before the warm-up),
    /// so a script knows when to take a measurement of the server.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,

    /// Connection attempts in progress at once while opening connections.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,

    /// Hide the progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// The fan-out mode's options (`--pubsub PROTOCOL` selects it; then
    /// --connections counts subscribers).
    #[command(flatten)]
    pub pubsub: PubSubOptions,
}

impl BenchOptions {
    /// The defaults of the `bench` subcommand for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        BenchOptions {
            url: url.into(),
            connections: 100,
            payload_size: 16,
            in_flight: 8,
            text: false,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            raw_tcp: false,
            idle: false,
            ready_file: None,
            connect_concurrency: 256,
            no_progress: false,
            pubsub: PubSubOptions::default(),
        }
    }

    /// Text or binary.
    pub fn kind(&self) -> PayloadKind {
        if self.text {
            PayloadKind::Text
        } else {
            PayloadKind::Binary
        }
    }

    /// Checks the values that clap cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.connections == 0 {
            bail!("--connections must be at least 1");
        }
        if self.in_flight == 0 && !self.idle && self.pubsub.protocol.is_none() {
            bail!("--in-flight must be at least 1 (use --idle for connections without traffic)");
        }
        if self.payload_size < MIN_PAYLOAD_SIZE {
            bail!(
                "--size must be at least {MIN_PAYLOAD_SIZE} bytes: each message carries a sequence number for checking"
            );
        }
        if self.connect_concurrency == 0 {
            bail!("--connect-concurrency must be at least 1");
        }
        if self.duration.is_zero() {
            bail!("--duration must be longer than zero");
        }
        Ok(())
    }
}

/// Parses a byte size: a number with an optional B, K/KiB/KB (1024) or
/// M/MiB/MB (1024²) suffix.
pub fn parse_size(text: &str) -> anyhow::Result<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .with_context(|| format!("{text:?} is not a size: write e.g. 16, 1KiB or 1MiB"))?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        other => bail!("unknown size unit {other:?}: use B, KiB or MiB"),
    };
    number
        .checked_mul(multiplier)
        .with_context(|| format!("{text:?} is too large"))
}

/// Parses a duration: seconds as a number (`5`, `0.5`), or with an `s` or
/// `ms` suffix.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("{text:?} is not a duration: write e.g. 5, 5s or 500ms"))?;
    Duration::try_from_secs_f64(value * scale)
        .with_context(|| format!("{text:?} is not a valid duration (negative or too large)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("16").unwrap(), 16);
        assert_eq!(parse_size("16B").unwrap(), 16);
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert!(parse_size("1GiB").is_err());
        assert!(parse_size("KiB").is_err());
    }

    #[test]
    fn durations_parse_as_seconds_or_milliseconds() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn validation_rejects_unusable_loads() {
        let ok = BenchOptions::new("ws://127.0.0.1:1/");
        assert!(ok.validate().is_ok());
        let mut small = ok.clone();
        small.payload_size = 8;
        assert!(small.validate().is_err());
        let mut none = ok.clone();
        none.in_flight = 0;
        assert!(none.validate().is_err());
        none.idle = true;
        assert!(none.validate().is_ok());
    }
}
