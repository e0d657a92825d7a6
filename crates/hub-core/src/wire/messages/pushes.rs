//! Asynchronous server-to-client pushes, carried in `Reply.push`.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::common::{ClientInfo, Publication};
use super::replies::SubscribeResult;
use crate::wire::json_fields::{is_default, raw_json};

/// An asynchronous push (client.proto `Push`): exactly one of the event
/// fields is set, and `channel` names the channel it concerns.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Push {
    /// The channel the push concerns; empty for connection-level pushes.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
    /// A publication in the channel (JSON key `pub`).
    #[prost(message, optional, tag = "4")]
    #[serde(rename = "pub", skip_serializing_if = "is_default")]
    pub publication: Option<Publication>,
    /// A client joined the channel.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub join: Option<Join>,
    /// A client left the channel.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub leave: Option<Leave>,
    /// The server unsubscribed the client from the channel.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub unsubscribe: Option<Unsubscribe>,
    /// An asynchronous message to the client.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub message: Option<Message>,
    /// The server subscribed the client to the channel.
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub subscribe: Option<Subscribe>,
    /// Connect result, for unidirectional transports.
    #[prost(message, optional, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub connect: Option<Connect>,
    /// The server is closing the connection.
    #[prost(message, optional, tag = "11")]
    #[serde(skip_serializing_if = "is_default")]
    pub disconnect: Option<Disconnect>,
    /// The connection's expiry changed.
    #[prost(message, optional, tag = "12")]
    #[serde(skip_serializing_if = "is_default")]
    pub refresh: Option<Refresh>,
}

/// A client joined a channel (client.proto `Join`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Join {
    /// Who joined.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub info: Option<ClientInfo>,
}

/// A client left a channel (client.proto `Leave`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Leave {
    /// Who left.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub info: Option<ClientInfo>,
}

/// The server unsubscribed the client (client.proto `Unsubscribe`).
///
/// `code` is one of [`crate::codes::UnsubscribeCode`]: below 2500 the
/// subscription ends, from 2500 the client resubscribes.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Unsubscribe {
    /// The unsubscribe code.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub code: u32,
    /// A short human-readable reason.
    #[prost(string, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
}

/// The server subscribed the client (client.proto `Subscribe`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscribe {
    /// Whether the subscription is recoverable.
    #[prost(bool, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub recoverable: bool,
    /// The stream's current epoch.
    #[prost(string, tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub epoch: String,
    /// The stream's current offset.
    #[prost(uint64, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub offset: u64,
    /// Whether the subscription is positioned.
    #[prost(bool, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub positioned: bool,
    /// Custom subscribe data (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
}

/// An asynchronous message to the client (client.proto `Message`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// The payload (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
}

/// Connect result pushed on unidirectional transports (client.proto `Connect`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Connect {
    /// The connection's client id.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub client: String,
    /// The server's version.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub version: String,
    /// Custom connect data (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// Server-side subscriptions, by channel.
    #[prost(btree_map = "string, message", tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub subs: BTreeMap<String, SubscribeResult>,
    /// Whether the connection expires.
    #[prost(bool, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub expires: bool,
    /// Seconds until the connection expires, when `expires`.
    #[prost(uint32, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub ttl: u32,
    /// Seconds between server pings.
    #[prost(uint32, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub ping: u32,
    /// Whether the client must answer pings.
    #[prost(bool, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub pong: bool,
    /// A session id.
    #[prost(string, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub session: String,
    /// The node the client is connected to.
    #[prost(string, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub node: String,
    /// Server time, Unix milliseconds.
    #[prost(int64, tag = "11")]
    #[serde(skip_serializing_if = "is_default")]
    pub time: i64,
}

/// The server is closing the connection (client.proto `Disconnect`).
///
/// `code` is one of [`crate::codes::DisconnectCode`].
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Disconnect {
    /// The disconnect code.
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub code: u32,
    /// A short human-readable reason.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
    /// Whether the client should reconnect (legacy; the code range decides).
    #[prost(bool, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub reconnect: bool,
}

/// The connection's expiry changed (client.proto `Refresh`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Refresh {
    /// Whether the connection expires.
    #[prost(bool, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub expires: bool,
    /// Seconds until the connection expires, when `expires`.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub ttl: u32,
}
