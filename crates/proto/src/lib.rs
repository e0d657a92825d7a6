//! # switchboard-proto
//!
//! A sans-I/O WebSocket protocol core: RFC 6455 (handshake, framing,
//! masking, fragmentation, UTF-8, control frames, close handshake, limits)
//! and RFC 7692 permessage-deflate. It owns no socket, runs no async runtime
//! and reads no clock: bytes and the current time go in, events and bytes to
//! send come out. The tokio driver lives in the `switchboard` crate.
//!
//! The shape follows quinn-proto and python-websockets' sans-I/O core: one
//! [`Connection`] per WebSocket, fed through [`Connection::read_buf`] and
//! drained through [`Connection::transmit_slices`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod budget;
mod close;
mod config;
pub mod connection;
pub mod deflate;
mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
mod limits;
pub mod mask;
mod message;
mod role;
mod settings;
mod stats;
pub mod utf8;

pub use budget::MemoryBudget;
pub use close::{CloseCode, CloseFrame, ReceivedClose};
pub use config::{Config, Delivery};
pub use connection::{Connection, State};
pub use error::{Error, FragmentOrder, LimitError, ProtocolError, SendError};
pub use extension::{EncodeError, Encoded, Extension, ExtensionOffer, ExtensionParam};
pub use handshake::HandshakeError;
pub use limits::Limits;
pub use message::{Chunk, DataKind, Event, Message, Utf8Bytes};
pub use role::Role;
pub use settings::Settings;
pub use stats::Stats;
