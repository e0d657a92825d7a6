//! The command line: what load to apply to which server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};

/// Text or binary messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Opcode 0x2.
    Binary,
    /// Opcode 0x1, UTF-8 with 1- to 4-byte characters (the server validates it).
    Text,
}

impl Kind {
    /// The frame opcode.
    pub fn opcode(self) -> u8 {
        match self {
            Kind::Binary => 0x2,
            Kind::Text => 0x1,
        }
    }

    /// The name used in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Text => "text",
        }
    }
}

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// `ws://host:port/path`, or `tcp://host:port/` with `raw_tcp`.
    pub url: String,
    /// Connections to open.
    pub connections: usize,
    /// Payload bytes per message.
    pub payload_size: usize,
    /// Messages in flight per connection (W).
    pub in_flight: usize,
    /// Text or binary.
    pub kind: Kind,
    /// Measurement window.
    pub duration: Duration,
    /// Load before the window, not counted.
    pub warmup: Duration,
    /// Plain TCP to an echo of bytes: no handshake, the masked frames come back as sent.
    pub raw_tcp: bool,
    /// Open the connections and hold them without traffic for `duration`.
    pub idle: bool,
    /// Written with the number of open connections once they are all open.
    pub ready_file: Option<PathBuf>,
    /// The server's process id: its CPU time over the window is reported.
    pub server_pid: Option<u32>,
    /// Compare the content of every N-th echo of each connection (the first included).
    pub check_every: u64,
    /// Read every echoed byte into user space, even payloads not compared
    /// (by default those of large messages are discarded in the kernel).
    pub read_all: bool,
    /// Poll without sleeping: the server never pays for waking the load
    /// generator (the load generator's busy share then excludes empty polls).
    pub spin: bool,
    /// Print one JSON line instead of a human-readable summary.
    pub json: bool,
}

const USAGE: &str = "usage: echo-loadgen URL [-c CONNECTIONS] [-s SIZE] [-n IN_FLIGHT] [--text] \
[-d SECONDS] [-w SECONDS] [--raw-tcp] [--idle] [--ready-file PATH] [--server-pid PID] \
[--check-every N] [--read-all] [--spin] [--json]";

impl Options {
    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Options> {
        let mut options = Options {
            url: String::new(),
            connections: 100,
            payload_size: 16,
            in_flight: 8,
            kind: Kind::Binary,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            raw_tcp: false,
            idle: false,
            ready_file: None,
            server_pid: None,
            check_every: 64,
            read_all: false,
            spin: false,
            json: false,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .with_context(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "-c" | "--connections" => options.connections = number(&value(&arg)?)?,
                "-s" | "--size" => options.payload_size = parse_size(&value(&arg)?)?,
                "-n" | "--in-flight" => options.in_flight = number(&value(&arg)?)?,
                "-d" | "--duration" => options.duration = parse_seconds(&value(&arg)?)?,
                "-w" | "--warmup" => options.warmup = parse_seconds(&value(&arg)?)?,
                "--ready-file" => options.ready_file = Some(value(&arg)?.into()),
                "--server-pid" => options.server_pid = Some(number(&value(&arg)?)?),
                "--check-every" => options.check_every = number(&value(&arg)?)?,
                "--text" => options.kind = Kind::Text,
                "--raw-tcp" => options.raw_tcp = true,
                "--idle" => options.idle = true,
                "--json" => options.json = true,
                "--read-all" => options.read_all = true,
                "--spin" => options.spin = true,
                "-h" | "--help" => bail!("{USAGE}"),
                flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
                url if options.url.is_empty() => options.url = url.to_owned(),
                extra => bail!("unexpected argument {extra:?}\n{USAGE}"),
            }
        }
        options.validate()?;
        Ok(options)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.url.is_empty() {
            bail!("no URL given\n{USAGE}");
        }
        if self.connections == 0 || (!self.idle && self.in_flight == 0) {
            bail!("--connections and --in-flight must be at least 1");
        }
        if self.payload_size == 0 {
            bail!("--size must be at least 1 byte");
        }
        if self.check_every == 0 {
            bail!("--check-every must be at least 1 (1 compares every echo)");
        }
        if self.duration.is_zero() {
            bail!("--duration must be longer than zero");
        }
        Ok(())
    }
}

fn number<T: std::str::FromStr>(text: &str) -> anyhow::Result<T> {
    text.parse()
        .ok()
        .with_context(|| format!("{text:?} is not a number"))
}

/// A byte count with an optional B, KiB or MiB suffix (16, 1KiB, 1MiB).
pub fn parse_size(text: &str) -> anyhow::Result<usize> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        other => bail!("unknown size unit {other:?}: use B, KiB or MiB"),
    };
    Ok(number::<usize>(digits)? * multiplier)
}

/// Seconds as a decimal number, with an optional `s` suffix.
pub fn parse_seconds(text: &str) -> anyhow::Result<Duration> {
    let seconds: f64 = number(text.strip_suffix('s').unwrap_or(text))?;
    Duration::try_from_secs_f64(seconds)
        .with_context(|| format!("{text:?} is not a duration in seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> anyhow::Result<Options> {
        Options::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn flags_set_the_load() {
        let options =
            parse("ws://127.0.0.1:1/ -c 10 -s 64KiB -n 2 -d 0.5 -w 0 --text --json").unwrap();
        assert_eq!(options.connections, 10);
        assert_eq!(options.payload_size, 65536);
        assert_eq!(options.in_flight, 2);
        assert_eq!(options.duration, Duration::from_millis(500));
        assert_eq!(options.warmup, Duration::ZERO);
        assert_eq!(options.kind, Kind::Text);
        assert!(options.json);
    }

    #[test]
    fn unusable_loads_are_refused() {
        assert!(parse("-c 1").is_err());
        assert!(parse("ws://x/ -c 0").is_err());
        assert!(parse("ws://x/ -s 1GiB").is_err());
        assert!(parse("ws://x/ --check-every 0").is_err());
        assert!(parse("ws://x/ --bogus").is_err());
        assert!(parse("ws://x/ -n 0 --idle").is_ok());
    }
}
