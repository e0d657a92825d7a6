//! Centrifugo client protocol v2 messages (`client.proto`, package
//! `centrifugal.centrifuge.protocol`), one set of structs for both forms.
//!
//! Each struct derives `prost::Message` with client.proto's field numbers for
//! the Protobuf form and serde for the JSON form. The JSON form follows
//! Centrifugo: fields holding default values are omitted, `bytes` fields are
//! embedded JSON values, unknown keys are ignored. Fields this server never
//! uses (filters, keyed items, map publications) are left out; both decoders
//! skip them.

mod common;
mod pushes;
mod replies;
mod requests;

pub use common::{ClientInfo, Error, Publication, StreamPosition};
pub use pushes::{
    Connect, Disconnect, Join, Leave, Message, Push, Refresh, Subscribe, Unsubscribe,
};
pub use replies::{
    ConnectResult, HistoryResult, PingResult, PresenceResult, PresenceStatsResult, PublishResult,
    RefreshResult, Reply, RpcResult, SubRefreshResult, SubscribeResult, UnsubscribeResult,
};
pub use requests::{
    Command, ConnectRequest, HistoryRequest, PingRequest, PresenceRequest, PresenceStatsRequest,
    PublishRequest, RefreshRequest, RpcRequest, SendRequest, SubRefreshRequest, SubscribeRequest,
    UnsubscribeRequest,
};
