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
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod codes;
pub mod config;
pub mod counters;
pub mod error;
pub mod history;
pub mod node;
pub mod outbound;
pub mod position;
pub mod presence;
pub mod session;
pub mod subscribers;
pub mod wire;

pub use config::{ChannelOptions, NodeConfig, Settings};
pub use error::HubError;
pub use node::Node;
pub use session::Session;
pub use subscribers::SessionId;
