//! The sans-I/O core of the Switchboard hub.
//!
//! It speaks Centrifugo's client protocol (version 2) in its JSON and
//! Protobuf forms and keeps the state of a real-time pub/sub node: sessions,
//! channels and namespaces, stream positions, history windows and the
//! recovery decision, presence, the slow-consumer rule and counters.
//!
//! Like `switchboard-proto`, it has no sockets, no async runtime and no
//! clock: time is an input, and the tokio runtime in `switchboard-hub`
//! drives it.
//!
//! # Layout
//!
//! - [`config`]: [`NodeConfig`], the one home of every option and its
//!   default; [`Settings`] (the checked config and its namespace table,
//!   shared by the node and every session).
//! - [`position`], [`history`]: stream positions `(epoch, offset)`, the
//!   bounded in-memory window of a channel and the all-or-nothing recovery
//!   decision.
//! - [`presence`], [`subscribers`]: who is subscribed, for presence and for
//!   fan-out.
//! - [`node`]: the memory engine's state ([`Node`]); the runtime keeps it
//!   behind a lock.
//! - [`session`]: the per-connection state machine ([`Session`]): frames
//!   in, actions for the node and encoded replies out.
//! - [`outbound`]: the slow-consumer rule (3008) for a connection's queue.
//! - [`rate`]: token buckets for connections per second and commands per
//!   connection per second.
//! - [`counters`]: plain counters for the runtime to export.
//! - [`codes`], [`wire`]: the protocol's codes and messages.
//!
//! # How the runtime drives it
//!
//! One [`Node`] per process (`Node::new(settings, epoch_seed)`), one
//! [`Session`] per WebSocket connection. The session never touches the
//! node: it queues [`session::Action`]s that the connection's task runs
//! against the locked node, reporting each outcome back. A publish returns
//! its recipients as a borrowed slice; the runtime encodes the push once
//! per format ([`session::encode_publication_push`]) and appends the same
//! `Bytes` to every recipient's outbound queue while it still holds the
//! lock, so each queue sees a channel's offsets in order. The session
//! later receives each push through [`Session::deliver`], which drops
//! offsets it already delivered, holds pushes that race a subscribe until
//! the reply is out, and turns a gap into an `unsubscribe` push (2500).
//! The [`session`] module documents the loop step by step.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod codes;
pub mod config;
pub mod counters;
pub mod error;
pub mod history;
pub mod idempotency;
pub mod node;
pub mod outbound;
pub mod position;
pub mod presence;
pub mod rate;
pub mod session;
pub mod subscribers;
pub mod wire;

pub use config::{ChannelOptions, NodeConfig, Settings};
pub use error::HubError;
pub use node::Node;
pub use session::Session;
pub use subscribers::SessionId;
