//! [`RedisEngineConfig`]: where Redis is and how the engine uses it.

use std::time::Duration;

use crate::keys::DEFAULT_PREFIX;

/// Settings of the Redis engine. [`RedisEngineConfig::new`] gives the
/// defaults; tests shorten the TTLs and intervals.
#[derive(Debug, Clone)]
pub struct RedisEngineConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// Prefix of every key and pub/sub channel.
    pub prefix: String,
    /// This node's id, unique among the nodes sharing the Redis (its
    /// service channel and its registry entry are named by it).
    pub node_id: String,
    /// How long a channel's position outlives its last publication; after
    /// it the epoch changes (Centrifugo's `history_meta_ttl`).
    pub history_meta_ttl: Duration,
    /// How long a presence entry lives unless its node refreshes it.
    pub presence_ttl: Duration,
    /// How long the result of a publish with an idempotency key is kept.
    pub idempotency_ttl: Duration,
    /// How long a node stays in the registry without a heartbeat.
    pub node_ttl: Duration,
    /// How often the pub/sub connection proves itself alive by receiving a
    /// probe published to the node's service channel; a probe not back by
    /// the next one marks the subscription dead and reconnects it.
    pub probe_interval: Duration,
    /// How long one Redis command may take before it fails.
    pub command_timeout: Duration,
    /// The first reconnect delay; doubled per failure up to
    /// [`RedisEngineConfig::reconnect_max`].
    pub reconnect_min: Duration,
    /// The longest reconnect delay.
    pub reconnect_max: Duration,
    /// Most channels in one SUBSCRIBE or UNSUBSCRIBE command.
    pub subscribe_batch: usize,
    /// Most publications the subscriber fetches from a stream to fill a
    /// gap after a reconnect; a longer gap is reported instead.
    pub resync_max_publications: usize,
}

impl RedisEngineConfig {
    /// The defaults for `url` and a node id.
    pub fn new(url: impl Into<String>, node_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            node_id: node_id.into(),
            history_meta_ttl: Duration::from_secs(30 * 24 * 3600),
            presence_ttl: Duration::from_secs(60),
            idempotency_ttl: Duration::from_secs(5 * 60),
            node_ttl: Duration::from_secs(30),
            probe_interval: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(5),
            subscribe_batch: 512,
            resync_max_publications: 300,
        }
    }
}

/// A channel's history settings (from its namespace's options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Most publications kept.
    pub size: usize,
    /// How long publications are kept after the channel's last publish.
    pub ttl: Duration,
}

/// Milliseconds as Redis wants them (at least 1: 0 would mean "expire now"
/// to PEXPIRE and "none" to the scripts).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
