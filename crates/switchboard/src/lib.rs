//! # switchboard
//!
//! WebSocket client and server for tokio, driving the sans-I/O
//! [`switchboard_proto`] core.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod client;
mod core;
mod error;
mod handshake_io;
mod server;
mod split;
mod timer;
mod transport;
mod websocket;

pub use switchboard_proto as proto;

pub use client::{connect, ClientBuilder, DEFAULT_CLIENT_TIMEOUT};
pub use error::{Error, TimeoutKind};
pub use server::{
    accept, accept_with, Accept, Reject, ServerBuilder, DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
};
pub use split::{ReadHalf, ReuniteError, WriteHalf};
pub use switchboard_proto::handshake::UpgradeRequest;
pub use switchboard_proto::{
    CloseCode, CloseFrame, Config, DataKind, Delivery, Event, Fragment, Limits, Message, Role,
    State, Utf8Bytes,
};
pub use websocket::WebSocket;
