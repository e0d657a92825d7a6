//! Messages shared by commands, replies and pushes.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::wire::json_fields::{is_default, raw_json};

/// An error in a reply to a command (client.proto `Error`).
///
/// The codes live in [`crate::codes`]; `temporary` tells the client it may
/// retry the command.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Error {
    /// The error code, one of [`crate::codes::ErrorCode`].
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub code: u32,
    /// A short human-readable description.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub message: String,
    /// Whether the client may retry the same command later.
    #[prost(bool, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub temporary: bool,
}

/// Who a connection is (client.proto `ClientInfo`), in presence, join and
/// leave, and publications from clients.
///
/// As in Centrifugo, the JSON form always carries `user` and `client`, even
/// when empty (anonymous users).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientInfo {
    /// The user id; empty for anonymous connections.
    #[prost(string, tag = "1")]
    pub user: String,
    /// The connection's client id, unique per connection.
    #[prost(string, tag = "2")]
    pub client: String,
    /// Connection info attached at connect time (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub conn_info: Bytes,
    /// Channel info attached at subscribe time (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub chan_info: Bytes,
}

/// One publication in a channel (client.proto `Publication`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Publication {
    /// The payload (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// The publisher, when a client published.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub info: Option<ClientInfo>,
    /// The publication's offset in the channel stream; the epoch travels in
    /// the subscribe reply.
    #[prost(uint64, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub offset: u64,
    /// Optional tags.
    #[prost(btree_map = "string, string", tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub tags: BTreeMap<String, String>,
    /// Whether `data` is a delta against the previous publication.
    #[prost(bool, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub delta: bool,
    /// Publication time, Unix milliseconds; 0 when not sent.
    #[prost(int64, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub time: i64,
    /// The channel, for publications of wildcard subscriptions.
    #[prost(string, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
}

/// A position in a channel stream (client.proto `StreamPosition`).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamPosition {
    /// The offset of the last publication at this position.
    #[prost(uint64, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub offset: u64,
    /// The stream's epoch; a new epoch means the history was lost.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub epoch: String,
}
