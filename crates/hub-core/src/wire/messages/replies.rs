//! The server-to-client side: `Reply` and the results it carries.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::common::{ClientInfo, Error, Publication};
use super::pushes::Push;
use crate::wire::json_fields::{is_default, raw_json};

/// One message from the server (client.proto `Reply`): the reply to a
/// command (`id > 0`), an asynchronous push (`id == 0`, `push` set), or the
/// server's ping (all fields empty: `{}` in JSON, an empty message in Protobuf).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Reply {
    /// The id of the command this answers; 0 for pushes and pings.
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub id: u32,
    /// The command failed; no result is set.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub error: Option<Error>,
    /// An asynchronous push.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub push: Option<Push>,
    /// The result of a connect command.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "is_default")]
    pub connect: Option<ConnectResult>,
    /// The result of a subscribe command.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub subscribe: Option<SubscribeResult>,
    /// The result of an unsubscribe command.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<UnsubscribeResult>,
    /// The result of a publish command.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishResult>,
    /// The result of a presence command.
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<PresenceResult>,
    /// The result of a presence stats command.
    #[prost(message, optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_stats: Option<PresenceStatsResult>,
    /// The result of a history command.
    #[prost(message, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryResult>,
    /// The result of a ping command.
    #[prost(message, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping: Option<PingResult>,
    /// The result of an RPC command.
    #[prost(message, optional, tag = "13")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc: Option<RpcResult>,
    /// The result of a refresh command.
    #[prost(message, optional, tag = "14")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RefreshResult>,
    /// The result of a sub_refresh command.
    #[prost(message, optional, tag = "15")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_refresh: Option<SubRefreshResult>,
}

/// The result of a connect command (client.proto `ConnectResult`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectResult {
    /// The connection's client id.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub client: String,
    /// The server's version.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub version: String,
    /// Whether the connection expires and must be refreshed.
    #[prost(bool, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub expires: bool,
    /// Seconds until the connection expires, when `expires`.
    #[prost(uint32, tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub ttl: u32,
    /// Custom connect data (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// Server-side subscriptions, by channel.
    #[prost(btree_map = "string, message", tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub subs: BTreeMap<String, SubscribeResult>,
    /// Seconds between server pings; 0 disables them.
    #[prost(uint32, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub ping: u32,
    /// Whether the client must answer each ping with an empty command.
    #[prost(bool, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub pong: bool,
    /// A session id, for unidirectional transports.
    #[prost(string, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub session: String,
    /// The node the client is connected to.
    #[prost(string, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub node: String,
    /// Server time, Unix milliseconds; 0 when not sent.
    #[prost(int64, tag = "11")]
    #[serde(skip_serializing_if = "is_default")]
    pub time: i64,
}

/// The result of a refresh command (client.proto `RefreshResult`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshResult {
    /// The connection's client id.
    #[prost(string, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub client: String,
    /// The server's version.
    #[prost(string, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub version: String,
    /// Whether the connection still expires.
    #[prost(bool, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub expires: bool,
    /// Seconds until the connection expires, when `expires`.
    #[prost(uint32, tag = "4")]
    #[serde(skip_serializing_if = "is_default")]
    pub ttl: u32,
}

/// The result of a subscribe command (client.proto `SubscribeResult`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscribeResult {
    /// Whether the subscription expires and must be refreshed.
    #[prost(bool, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub expires: bool,
    /// Seconds until the subscription expires, when `expires`.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub ttl: u32,
    /// Whether the client may recover this subscription after a drop.
    #[prost(bool, tag = "3")]
    #[serde(skip_serializing_if = "is_default")]
    pub recoverable: bool,
    /// The stream's current epoch.
    #[prost(string, tag = "6")]
    #[serde(skip_serializing_if = "is_default")]
    pub epoch: String,
    /// Recovered publications, oldest first.
    #[prost(message, repeated, tag = "7")]
    #[serde(skip_serializing_if = "is_default")]
    pub publications: Vec<Publication>,
    /// Whether every missed publication is in `publications`.
    #[prost(bool, tag = "8")]
    #[serde(skip_serializing_if = "is_default")]
    pub recovered: bool,
    /// The stream's current offset.
    #[prost(uint64, tag = "9")]
    #[serde(skip_serializing_if = "is_default")]
    pub offset: u64,
    /// Whether the subscription is positioned (the client tracks offsets).
    #[prost(bool, tag = "10")]
    #[serde(skip_serializing_if = "is_default")]
    pub positioned: bool,
    /// Custom subscribe data (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "11")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
    /// Whether the client asked to recover (then `recovered` is the answer).
    #[prost(bool, tag = "12")]
    #[serde(skip_serializing_if = "is_default")]
    pub was_recovering: bool,
    /// Whether publications may carry deltas.
    #[prost(bool, tag = "13")]
    #[serde(skip_serializing_if = "is_default")]
    pub delta: bool,
}

/// The result of a sub_refresh command (client.proto `SubRefreshResult`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct SubRefreshResult {
    /// Whether the subscription still expires.
    #[prost(bool, tag = "1")]
    #[serde(skip_serializing_if = "is_default")]
    pub expires: bool,
    /// Seconds until the subscription expires, when `expires`.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "is_default")]
    pub ttl: u32,
}

/// The result of an unsubscribe command (client.proto `UnsubscribeResult`); no fields.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct UnsubscribeResult {}

/// The result of a publish command (client.proto `PublishResult`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishResult {}

/// The result of a presence command (client.proto `PresenceResult`).
///
/// The JSON form always carries `presence`, as Centrifugo does.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceResult {
    /// Subscribed connections, by client id.
    #[prost(btree_map = "string, message", tag = "1")]
    pub presence: BTreeMap<String, ClientInfo>,
}

/// The result of a presence stats command (client.proto `PresenceStatsResult`).
///
/// The JSON form always carries both counts, as Centrifugo does.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceStatsResult {
    /// How many connections are subscribed.
    #[prost(uint32, tag = "1")]
    pub num_clients: u32,
    /// How many distinct users are subscribed.
    #[prost(uint32, tag = "2")]
    pub num_users: u32,
}

/// The result of a history command (client.proto `HistoryResult`).
///
/// The JSON form always carries all three fields, as Centrifugo does.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryResult {
    /// The publications, in the requested order.
    #[prost(message, repeated, tag = "1")]
    pub publications: Vec<Publication>,
    /// The stream's current epoch.
    #[prost(string, tag = "2")]
    pub epoch: String,
    /// The stream's current offset.
    #[prost(uint64, tag = "3")]
    pub offset: u64,
}

/// The result of a ping command (client.proto `PingResult`); no fields.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PingResult {}

/// The result of an RPC command (client.proto `RPCResult`).
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct RpcResult {
    /// The call's result (embedded JSON in JSON form).
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "is_default", with = "raw_json")]
    pub data: Bytes,
}
