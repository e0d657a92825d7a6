//! The wire format of the client protocol.
//!
//! - [`messages`]: the protocol messages, one struct set for both forms.
//! - [`Format`]: JSON or Protobuf, chosen per connection by
//!   [`Format::negotiate`]; it decodes a WebSocket message into commands
//!   ([`Format::decode_commands`]) and encodes replies into batches
//!   ([`Format::encode_reply`]) or a push once for fan-out
//!   ([`Format::encode_push`]).
//! - [`WireError`]: every way a frame can fail, with the close code to use.
//!
//! A JSON message is newline-delimited JSON objects, each a command or a
//! reply; a Protobuf message is a sequence of varint-length-prefixed
//! messages. An empty command is the client's pong and an empty reply the
//! server's ping: `{}` in JSON, the single byte `0x00` (length 0) in
//! Protobuf.

mod decode;
mod encode;
mod error;
mod format;
pub(crate) mod json_fields;
pub mod messages;

pub use decode::DEFAULT_MAX_COMMANDS_PER_FRAME;
pub use error::WireError;
pub use format::{Format, MessageKind, Negotiated, JSON_SUBPROTOCOL, PROTOBUF_SUBPROTOCOL};
pub use messages::*;
