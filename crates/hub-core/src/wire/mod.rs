//! The wire format of the client protocol.
//!
//! [`messages`] holds the protocol messages, one struct set for the JSON and
//! Protobuf forms.

pub(crate) mod json_fields;
pub mod messages;

pub use messages::*;
