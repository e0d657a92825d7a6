//! The server API's request bodies, as Centrifugo's HTTP API names their
//! fields (`cent` sends them with unset fields left out).

use serde::Deserialize;
use serde_json::value::RawValue;

/// A stream position (`since`, `recover_since`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Position {
    pub(crate) offset: u64,
    pub(crate) epoch: String,
}

/// `publish`.
#[derive(Debug, Deserialize)]
pub(crate) struct Publish {
    #[serde(default)]
    pub(crate) channel: String,
    pub(crate) data: Option<Box<RawValue>>,
    pub(crate) b64data: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

/// `broadcast`.
#[derive(Debug, Deserialize)]
pub(crate) struct Broadcast {
    #[serde(default)]
    pub(crate) channels: Vec<String>,
    pub(crate) data: Option<Box<RawValue>>,
    pub(crate) b64data: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

/// `subscribe`.
#[derive(Debug, Deserialize)]
pub(crate) struct Subscribe {
    #[serde(default)]
    pub(crate) user: String,
    #[serde(default)]
    pub(crate) channel: String,
    pub(crate) client: Option<String>,
    pub(crate) info: Option<Box<RawValue>>,
    pub(crate) b64info: Option<String>,
    pub(crate) data: Option<Box<RawValue>>,
    pub(crate) b64data: Option<String>,
}

/// `unsubscribe`.
#[derive(Debug, Deserialize)]
pub(crate) struct Unsubscribe {
    #[serde(default)]
    pub(crate) user: String,
    #[serde(default)]
    pub(crate) channel: String,
    pub(crate) client: Option<String>,
}

/// A custom disconnect code and reason.
#[derive(Debug, Deserialize)]
pub(crate) struct DisconnectCode {
    #[serde(default)]
    pub(crate) code: u32,
    #[serde(default)]
    pub(crate) reason: String,
}

/// `disconnect`.
#[derive(Debug, Deserialize)]
pub(crate) struct Disconnect {
    #[serde(default)]
    pub(crate) user: String,
    pub(crate) client: Option<String>,
    #[serde(default)]
    pub(crate) whitelist: Vec<String>,
    pub(crate) disconnect: Option<DisconnectCode>,
}

/// `refresh`.
#[derive(Debug, Deserialize)]
pub(crate) struct Refresh {
    #[serde(default)]
    pub(crate) user: String,
    pub(crate) client: Option<String>,
    #[serde(default)]
    pub(crate) expired: bool,
}

/// `presence`, `presence_stats` and `history_remove`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelOnly {
    #[serde(default)]
    pub(crate) channel: String,
}

/// `history`.
#[derive(Debug, Deserialize)]
pub(crate) struct History {
    #[serde(default)]
    pub(crate) channel: String,
    pub(crate) limit: Option<i64>,
    pub(crate) since: Option<Position>,
    #[serde(default)]
    pub(crate) reverse: bool,
}

/// `channels`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Channels {
    #[serde(default)]
    pub(crate) pattern: String,
}
