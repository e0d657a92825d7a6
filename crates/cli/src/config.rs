//! Value parsers shared by the flags and the `serve` config file: byte
//! sizes (`64MiB`), durations (`25s`, `off`) and the log format.

use std::time::Duration;

use bytesize::ByteSize;
use serde::Deserialize;
use switchboard::proto::deflate::DeflateConfig;

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (`2026-01-01T00:00:00Z  INFO listening on ...`).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// permessage-deflate (RFC 7692) settings, by the memory they cost per
/// connection (measured in `switchboard_proto::deflate`'s docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// No compression (no memory cost).
    #[default]
    Off,
    /// 4 KiB windows with context takeover: good ratio, moderate memory.
    #[value(alias = "on")]
    #[serde(alias = "on")]
    Balanced,
    /// No context takeover, 1 KiB windows: no deflate state while idle.
    LowMemory,
    /// 32 KiB windows with context takeover: best ratio, most memory.
    High,
}

impl Compression {
    /// The deflate settings, or `None` when off.
    pub fn deflate_config(self) -> Option<DeflateConfig> {
        match self {
            Compression::Off => None,
            Compression::Balanced => Some(DeflateConfig::balanced()),
            Compression::LowMemory => Some(DeflateConfig::low_memory()),
            Compression::High => Some(DeflateConfig::high_compression()),
        }
    }
}

/// Parses a byte size: a plain number of bytes (`65536`) or a number with a
/// unit (`64KiB`, `16 MiB`, `1MB`). Binary and decimal units are both
/// accepted, as `bytesize` reads them.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let size: ByteSize = text.trim().parse().map_err(|error| {
        format!("{text:?} is not a size ({error}); write bytes like 65536 or 64KiB or 16MiB")
    })?;
    usize::try_from(size.as_u64())
        .map_err(|_| format!("{text:?} is larger than this machine can address"))
}

/// Parses an optional interval: a humantime duration (`25s`, `1m 30s`,
/// `500ms`), or `off`/`0` for none.
pub fn parse_interval(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let duration = humantime::parse_duration(text).map_err(|error| {
        format!("{text:?} is not a duration ({error}); write e.g. 25s, 1m, 500ms, or off")
    })?;
    Ok((!duration.is_zero()).then_some(duration))
}

/// Like [`parse_interval`] but `off` is not allowed: a duration that must
/// be positive (timeouts).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_interval(text)? {
        Some(duration) => Ok(duration),
        None => Err(format!("{text:?}: this duration must be greater than zero")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_plain_bytes_and_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(64 * 1024));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert!(parse_size("lots").unwrap_err().contains("64KiB"));
    }

    #[test]
    fn compression_modes_map_to_deflate_presets() {
        assert_eq!(Compression::Off.deflate_config(), None);
        assert_eq!(
            Compression::Balanced.deflate_config(),
            Some(DeflateConfig::balanced())
        );
        assert_eq!(
            Compression::LowMemory.deflate_config(),
            Some(DeflateConfig::low_memory())
        );
        assert_eq!(
            Compression::High.deflate_config(),
            Some(DeflateConfig::high_compression())
        );
        #[derive(Deserialize)]
        struct Probe {
            compression: Compression,
        }
        let probe: Probe = toml::from_str("compression = \"on\"").unwrap();
        assert_eq!(probe.compression, Compression::Balanced);
        let probe: Probe = toml::from_str("compression = \"low-memory\"").unwrap();
        assert_eq!(probe.compression, Compression::LowMemory);
    }

    #[test]
    fn intervals_accept_durations_and_off() {
        assert_eq!(parse_interval("25s"), Ok(Some(Duration::from_secs(25))));
        assert_eq!(parse_interval("1m 30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(parse_interval("off"), Ok(None));
        assert_eq!(parse_interval("0s"), Ok(None));
        assert!(parse_interval("soon").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(
            parse_positive_duration("250ms"),
            Ok(Duration::from_millis(250))
        );
    }
}
