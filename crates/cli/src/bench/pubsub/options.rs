//! The pub/sub mode's own options: [`PubSubOptions`] and [`Protocol`].

use anyhow::bail;

use crate::bench::pubsub::payload::MIN_PUBSUB_PAYLOAD;

/// The protocol the load generator speaks to a fan-out server, each over
/// WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Centrifugo client protocol v2, JSON form (`/connection/websocket`).
    Centrifuge,
    /// Centrifugo client protocol v2, Protobuf form (subprotocol
    /// `centrifuge-protobuf`).
    CentrifugeProtobuf,
    /// The NATS client protocol (nats-server's `websocket` listener).
    Nats,
    /// MQTT 3.1.1 at QoS 0 (subprotocol `mqtt`, e.g. mosquitto's
    /// `websockets` listener).
    Mqtt,
    /// The text/binary protocol of `bench/uws-fanout` (uWebSockets pub/sub).
    Uws,
}

impl Protocol {
    /// The prefix of channel (subject, topic) names: `bench`, the
    /// protocol's usual separator, `ch`. (Not `bench:` for Centrifugo: a
    /// colon names a namespace, which a server's default configuration
    /// does not have.)
    pub fn default_channel_prefix(self) -> &'static str {
        match self {
            Protocol::Centrifuge | Protocol::CentrifugeProtobuf | Protocol::Nats => "bench.ch",
            Protocol::Mqtt | Protocol::Uws => "bench/ch",
        }
    }
}

/// Options of `switchboard bench --pubsub PROTOCOL`. The subscriber count
/// is `--connections`, the payload size `--size`; `--duration`, `--warmup`,
/// `--idle` and `--ready-file` mean what they mean in echo mode.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Pub/sub mode (--pubsub)")]
pub struct PubSubOptions {
    /// Fan-out mode: subscribers on --channels channels receive what
    /// --publishers publish at --rate, spoken in this protocol. Without it,
    /// `bench` loads an echo server.
    #[arg(long = "pubsub", value_enum, value_name = "PROTOCOL")]
    pub protocol: Option<Protocol>,

    /// Channels; the subscribers (--connections) are spread evenly over them.
    #[arg(long, default_value_t = 1, requires = "protocol")]
    pub channels: usize,

    /// Publisher connections; each publishes to every channel in turn.
    #[arg(long, default_value_t = 1, requires = "protocol")]
    pub publishers: usize,

    /// Publications per second, all publishers together.
    #[arg(long, default_value_t = 100.0, requires = "protocol")]
    pub rate: f64,

    /// Channel names are this prefix followed by the channel number
    /// (default per protocol: bench.ch, or bench/ch for mqtt and uws).
    #[arg(long, requires = "protocol")]
    pub channel_prefix: Option<String>,

    /// Longest wait after the last publication for deliveries still on
    /// their way; what has not arrived by then counts as missing.
    #[arg(long, default_value = "5s", value_parser = crate::bench::parse_duration, requires = "protocol")]
    pub drain: std::time::Duration,
}

impl Default for PubSubOptions {
    fn default() -> Self {
        PubSubOptions {
            protocol: None,
            channels: 1,
            publishers: 1,
            rate: 100.0,
            channel_prefix: None,
            drain: std::time::Duration::from_secs(5),
        }
    }
}

/// Most publishers: the payload carries the publisher id in 4 hex digits.
pub const MAX_PUBLISHERS: usize = 0xffff;
/// Most channels: the payload carries the channel number in 6 hex digits.
pub const MAX_CHANNELS: usize = 0xff_ffff;

impl PubSubOptions {
    /// The name of channel `index`.
    pub fn channel_name(&self, protocol: Protocol, index: usize) -> String {
        let prefix = self
            .channel_prefix
            .as_deref()
            .unwrap_or(protocol.default_channel_prefix());
        format!("{prefix}{index}")
    }

    /// Checks the values that clap cannot, with the payload size (`None`
    /// when nothing is published: idle subscribers) and subscriber count
    /// given to the whole run.
    pub fn validate(&self, payload_size: Option<usize>, subscribers: usize) -> anyhow::Result<()> {
        if payload_size.is_some_and(|size| size < MIN_PUBSUB_PAYLOAD) {
            bail!("--size must be at least {MIN_PUBSUB_PAYLOAD} bytes in pub/sub mode: each publication carries its publisher, channel, sequence number and send time");
        }
        if self.channels == 0 || self.channels > MAX_CHANNELS {
            bail!("--channels must be between 1 and {MAX_CHANNELS}");
        }
        if subscribers < self.channels {
            bail!(
                "--connections ({subscribers}) must be at least --channels ({}): every channel needs a subscriber",
                self.channels
            );
        }
        if self.publishers == 0 || self.publishers > MAX_PUBLISHERS {
            bail!("--publishers must be between 1 and {MAX_PUBLISHERS}");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("--rate must be a positive number of publications per second");
        }
        if let Some(prefix) = &self.channel_prefix {
            if prefix.is_empty() || prefix.contains(char::is_whitespace) {
                bail!("--channel-prefix must be non-empty and contain no whitespace");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_each_protocol() {
        let options = PubSubOptions::default();
        assert_eq!(options.channel_name(Protocol::Centrifuge, 3), "bench.ch3");
        assert_eq!(options.channel_name(Protocol::Nats, 0), "bench.ch0");
        assert_eq!(options.channel_name(Protocol::Mqtt, 12), "bench/ch12");
        let custom = PubSubOptions {
            channel_prefix: Some("x-".into()),
            ..PubSubOptions::default()
        };
        assert_eq!(custom.channel_name(Protocol::Uws, 1), "x-1");
    }

    /// The `bench` command line as main.rs and switchboard-bench build it.
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        options: crate::bench::BenchOptions,
    }

    #[test]
    fn pubsub_flags_parse_and_need_the_mode() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from([
            "bench",
            "--pubsub",
            "centrifuge-protobuf",
            "-c",
            "10000",
            "--channels",
            "1000",
            "--publishers",
            "4",
            "--rate",
            "2500.5",
            "--channel-prefix",
            "bench:ch",
            "--drain",
            "2s",
            "-s",
            "1KiB",
            "ws://127.0.0.1:1/connection/websocket",
        ])
        .unwrap();
        let pubsub = &cli.options.pubsub;
        assert_eq!(pubsub.protocol, Some(Protocol::CentrifugeProtobuf));
        assert_eq!((pubsub.channels, pubsub.publishers), (1000, 4));
        assert_eq!(pubsub.rate, 2500.5);
        assert_eq!(pubsub.drain, std::time::Duration::from_secs(2));
        assert_eq!(cli.options.connections, 10000);
        assert!(pubsub
            .validate(Some(cli.options.payload_size), 10000)
            .is_ok());
        // Pub/sub options without the mode are a mistake, not ignored.
        assert!(Cli::try_parse_from(["bench", "--channels", "3", "ws://a/"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--pubsub", "stomp", "ws://a/"]).is_err());
        let echo = Cli::try_parse_from(["bench", "ws://a/"]).unwrap();
        assert_eq!(echo.options.pubsub.protocol, None);
    }

    #[test]
    fn validation_rejects_unusable_shapes() {
        let ok = PubSubOptions::default();
        assert!(ok.validate(Some(100), 10).is_ok());
        assert!(ok.validate(Some(MIN_PUBSUB_PAYLOAD - 1), 10).is_err());
        assert!(ok.validate(None, 10).is_ok());
        let more_channels = PubSubOptions {
            channels: 20,
            ..PubSubOptions::default()
        };
        assert!(more_channels.validate(Some(100), 10).is_err());
        let no_rate = PubSubOptions {
            rate: 0.0,
            ..PubSubOptions::default()
        };
        assert!(no_rate.validate(Some(100), 10).is_err());
    }
}
