//! The Switchboard hub's Redis engine: the state that matters lives in
//! Redis, so that any node can serve any client and a node can die
//! without losing a publication.
//!
//! [`RedisBroker`] offers what the hub's engine needs:
//! - numbered publishes in one Lua script ([`RedisBroker::publish`]):
//!   offset, history stream, TTLs, idempotency result and PUBLISH in one
//!   atomic step, a new epoch whenever Redis lost the channel's metadata;
//! - history and the all-or-nothing recovery decision
//!   ([`RedisBroker::history`], [`RedisBroker::recover`]) read with
//!   XRANGE/XREVRANGE and decided by hub-core's own function;
//! - presence in a ZSET and a HASH per channel, expiring unless refreshed;
//! - a node registry with heartbeats and a control channel for
//!   user-targeted commands ([`registry`]);
//! - interest-based pub/sub with batched SUBSCRIBEs, reconnects with
//!   backoff, resync against the stream top and a liveness probe
//!   ([`subscriber`], events as [`BrokerEvent`]).
//!
//! [`keys`] documents the key layout (every channel key hash-tagged by
//! the channel's name) and `docs/scaling.md` the design and the failure
//! modes handled.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod broker;
pub mod codec;
mod config;
mod error;
pub mod keys;
pub mod registry;
mod scripts;
pub mod subscriber;

pub use broker::{PublishRequest, Published, RedisBroker};
pub use config::{HistoryOptions, RedisEngineConfig};
pub use error::RedisEngineError;
pub use registry::{ControlCommand, ControlMessage, NodeInfo};
pub use subscriber::BrokerEvent;
