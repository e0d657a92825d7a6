//! The JWT claims Centrifugo defines for connection and subscription
//! tokens.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use switchboard_hub_core::session::{ConnectionToken, SubscriptionToken};

/// Claims of a connection token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectionClaims {
    /// The user id; empty for an anonymous user with a token.
    #[serde(default)]
    pub sub: String,
    /// Expiry, seconds since the Unix epoch; none: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issued at, seconds since the Unix epoch (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Connection info, any JSON: `conn_info` in presence, join/leave and
    /// publications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Box<RawValue>>,
    /// Channels to subscribe the connection to on the server side.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Server-side subscriptions with options, by channel (the options
    /// are accepted and not used; the channels are subscribed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subs: BTreeMap<String, serde_json::Value>,
}

impl ConnectionClaims {
    pub(super) fn into_token(self, expires_in: Option<Duration>) -> ConnectionToken {
        let mut channels = self.channels;
        for channel in self.subs.into_keys() {
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        ConnectionToken {
            user: self.sub,
            expires_in,
            info: raw_bytes(self.info),
            channels,
        }
    }
}

/// Claims of a subscription token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscriptionClaims {
    /// The user id: must be the connection's user.
    #[serde(default)]
    pub sub: String,
    /// The channel the token grants.
    #[serde(default)]
    pub channel: String,
    /// Expiry, seconds since the Unix epoch; none: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issued at (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Channel info, any JSON: `chan_info` of the subscriber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Box<RawValue>>,
}

impl SubscriptionClaims {
    pub(super) fn into_token(self, expires_in: Option<Duration>) -> SubscriptionToken {
        SubscriptionToken {
            user: self.sub,
            channel: self.channel,
            expires_in,
            info: raw_bytes(self.info),
        }
    }
}

/// The raw JSON of a claim; `null` counts as absent.
fn raw_bytes(value: Option<Box<RawValue>>) -> Option<Bytes> {
    value
        .filter(|raw| raw.get() != "null")
        .map(|raw| Bytes::copy_from_slice(raw.get().as_bytes()))
}
