//! The key layout in Redis.
//!
//! Every key of one channel carries the channel's name as its hash tag
//! (`{channel}`), so a channel's meta, stream, idempotency results and
//! presence share one Redis Cluster slot: the Lua scripts touch several of
//! them in one step, and Redis Cluster with sharded pub/sub can be added
//! without moving data. The layout (with the default prefix `sb`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `sb:meta:{ch}` | HASH | `e` the epoch, `t` the top offset |
//! | `sb:stream:{ch}` | STREAM | publications, entry id `<offset>-0`, field `d` |
//! | `sb:idem:{ch}:<hex key>` | STRING | `<offset>:<epoch>` of an idempotent publish |
//! | `sb:presence-z:{ch}` | ZSET | client id scored by its expiry (ms) |
//! | `sb:presence-h:{ch}` | HASH | client id to its encoded info |
//! | `sb:pub:{ch}` | pub/sub | the channel's live messages |
//! | `sb:nodes-z:{nodes}`, `sb:nodes-h:{nodes}` | ZSET, HASH | the node registry |
//! | `sb:node:{id}` | pub/sub | one node's service channel (liveness probe) |
//! | `sb:control` | pub/sub | user-targeted commands for every node |
//!
//! A channel name may itself contain `{` or `}`: Redis then takes a
//! shorter hash tag, which is the same for all of the channel's keys, so
//! they still share a slot. Idempotency keys are hex-encoded, so the last
//! `}` of a key always ends the channel's name and no two (channel, key)
//! pairs map to one Redis key.

use std::fmt::Write as _;

/// The default prefix of every key and pub/sub channel.
pub const DEFAULT_PREFIX: &str = "sb";

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (several hubs can share one Redis with
    /// distinct prefixes).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn tagged(&self, kind: &str, tag: &str) -> String {
        format!("{}:{kind}:{{{tag}}}", self.prefix)
    }

    /// The channel's meta HASH (epoch and top offset).
    pub fn meta(&self, channel: &str) -> String {
        self.tagged("meta", channel)
    }

    /// The channel's history STREAM.
    pub fn stream(&self, channel: &str) -> String {
        self.tagged("stream", channel)
    }

    /// Where the result of a publish with idempotency key `key` lives.
    pub fn idempotency(&self, channel: &str, key: &str) -> String {
        let mut name = self.tagged("idem", channel);
        name.push(':');
        for byte in key.as_bytes() {
            let _ = write!(name, "{byte:02x}");
        }
        name
    }

    /// The channel's presence ZSET (member expiries).
    pub fn presence_expiries(&self, channel: &str) -> String {
        self.tagged("presence-z", channel)
    }

    /// The channel's presence HASH (member infos).
    pub fn presence_infos(&self, channel: &str) -> String {
        self.tagged("presence-h", channel)
    }

    /// The channel's pub/sub channel.
    pub fn pubsub(&self, channel: &str) -> String {
        self.tagged("pub", channel)
    }

    /// The hub channel a pub/sub channel carries, if it is one.
    pub fn channel_of<'a>(&self, pubsub: &'a str) -> Option<&'a str> {
        pubsub
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":pub:{")?
            .strip_suffix('}')
    }

    /// The node registry's ZSET (node expiries).
    pub fn node_expiries(&self) -> String {
        self.tagged("nodes-z", "nodes")
    }

    /// The node registry's HASH (node infos).
    pub fn node_infos(&self) -> String {
        self.tagged("nodes-h", "nodes")
    }

    /// A node's service channel: its liveness probes travel here.
    pub fn node_channel(&self, node: &str) -> String {
        self.tagged("node", node)
    }

    /// The control channel every node listens to.
    pub fn control_channel(&self) -> String {
        format!("{}:control", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_keys_share_a_hash_tag_and_round_trip() {
        let keys = Keys::new(DEFAULT_PREFIX);
        assert_eq!(keys.meta("news"), "sb:meta:{news}");
        assert_eq!(keys.stream("news"), "sb:stream:{news}");
        assert_eq!(keys.idempotency("news", "k}"), "sb:idem:{news}:6b7d");
        assert_eq!(keys.pubsub("a}b"), "sb:pub:{a}b}");
        assert_eq!(keys.channel_of("sb:pub:{a}b}"), Some("a}b"));
        assert_eq!(keys.channel_of("sb:node:{x}"), None);
        assert_eq!(keys.channel_of("other:pub:{x}"), None);
        // ("a", "b}:c") and ("a}:b", "c") stay apart.
        assert_ne!(keys.idempotency("a", "b}:c"), keys.idempotency("a}:b", "c"));
    }
}
