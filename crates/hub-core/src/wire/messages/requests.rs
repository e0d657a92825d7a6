//! The client-to-server side: `Command` and the requests it carries.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::common::StreamPosition;
use crate::wire::json_fields::{is_default, raw_json};

/// One command from a client (client.proto `Command`).
///
/// At most one request field is meant to be set; a command with none set and
/// `id == 0` is the client's pong (an empty object `{}` in JSON, an empty
/// message in Protobuf).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Command {
    /// The id the reply echoes; 0 for commands that get no reply (send, pong).
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub id: u32,
    /// Authenticate the connection; must be the first command.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub connect: Option<ConnectRequest>,
    /// Subscribe to a channel.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub subscribe: Option<SubscribeRequest>,
    /// Unsubscribe from a channel.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub unsubscribe: Option<UnsubscribeRequest>,
    /// Publish into a channel.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub publish: Option<PublishRequest>,
    /// Ask who is subscribed to a channel.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub presence: Option<PresenceRequest>,
    /// Ask how many clients and users are subscribed to a channel.
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub presence_stats: Option<PresenceStatsRequest>,
    /// Read a channel's history.
    #[prost(message, optional, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub history: Option<HistoryRequest>,
    /// An application-level ping the server answers.
    #[prost(message, optional, tag = "11")]
    #[serde(skip_serializing_if = "is_default")]
    pub ping: Option<PingRequest>,
    /// An asynchronous message to the server; gets no reply.
    #[prost(message, optional, tag = "12")]
    #[serde(skip_serializing_if = "is_default")]
    pub send: Option<SendRequest>,
    /// A remote procedure call.
    #[prost(message, optional, tag = "13")]
    #[serde(skip_serializing_if = "is_default")]
    pub rpc: Option<RpcRequest>,
    /// Refresh the connection's token.
    #[prost(message, optional, tag = "14")]
    #[serde(skip_serializing_if = "is_default")]
    pub refresh: Option<RefreshRequest>,
    /// Refresh a subscription's token.
    #[prost(message, optional, tag = "15")]
    #[serde(skip_serializing_if = "is_default")]
    pub sub_refresh: Option<SubRefreshRequest>,
}

/// Authenticate a connection (client.proto `ConnectRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectRequest {
    /// The connection token (JWT); empty for anonymous connections.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub token: String,
    /// Custom connect data (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// Server-side subscriptions to recover, by channel.
    #[prost(btree_map = "string, message", tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub subs: BTreeMap<String, SubscribeRequest>,
    /// The SDK's name, e.g. `js`.
    #[prost(string, tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    /// The SDK's version.
    #[prost(string, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub version: String,
    /// Emulated HTTP headers.
    #[prost(btree_map = "string, string", tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub headers: BTreeMap<String, String>,
    /// Connection-level feature flags.
    #[prost(int64, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub flag: i64,
}

/// Refresh the connection token (client.proto `RefreshRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshRequest {
    /// The new connection token.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub token: String,
}

/// Subscribe to a channel (client.proto `SubscribeRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscribeRequest {
    /// The channel name.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
    /// The subscription token, for channels that need one.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub token: String,
    /// Recover missed publications since (`epoch`, `offset`).
    #[prost(bool, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub recover: bool,
    /// The epoch of the last seen position, when recovering.
    #[prost(string, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub epoch: String,
    /// The offset of the last seen publication, when recovering.
    #[prost(uint64, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub offset: u64,
    /// Custom subscribe data (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "8")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// The client asks for a positioned subscription.
    #[prost(bool, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub positioned: bool,
    /// The client asks for a recoverable subscription.
    #[prost(bool, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub recoverable: bool,
    /// The client asks for join and leave pushes.
    #[prost(bool, tag = "11")]
    #[serde(skip_serializing_if = "is_default")]
    pub join_leave: bool,
    /// The delta compression the client asks for (e.g. `fossil`); empty for none.
    #[prost(string, tag = "12")]
    #[serde(skip_serializing_if = "is_default")]
    pub delta: String,
    /// Subscription-level feature flags.
    #[prost(int64, tag = "14")]
    #[serde(skip_serializing_if = "is_default")]
    pub flag: i64,
}

/// Refresh a subscription token (client.proto `SubRefreshRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct SubRefreshRequest {
    /// The channel whose subscription is refreshed.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
    /// The new subscription token.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub token: String,
}

/// Unsubscribe from a channel (client.proto `UnsubscribeRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct UnsubscribeRequest {
    /// The channel name.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
}

/// Publish into a channel (client.proto `PublishRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishRequest {
    /// The channel name.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
    /// The payload (embedded JSON in JSON form, so always valid JSON there).
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
}

/// Ask for a channel's presence (client.proto `PresenceRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceRequest {
    /// The channel name.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
}

/// Ask for a channel's presence counts (client.proto `PresenceStatsRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceStatsRequest {
    /// The channel name.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
}

/// Read a channel's history (client.proto `HistoryRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryRequest {
    /// The channel name.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub channel: String,
    /// How many publications to return: 0 returns only the current
    /// position, a negative value all that the window holds.
    #[prost(int32, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub limit: i32,
    /// Return publications after this position.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub since: Option<StreamPosition>,
    /// Newest first.
    #[prost(bool, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub reverse: bool,
}

/// An application-level ping (client.proto `PingRequest`); no fields.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PingRequest {}

/// A remote procedure call (client.proto `RPCRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct RpcRequest {
    /// The call's payload (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// The method name.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub method: String,
}

/// An asynchronous message to the server (client.proto `SendRequest`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct SendRequest {
    /// The payload (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
}
