//! The opening handshake (RFC 6455 §4), sans-I/O.
//!
//! Client: build a [`ClientRequest`], [`encode`](ClientRequest::encode) it,
//! write the bytes, then feed what arrives to
//! [`ClientRequest::parse_response`] until it returns `Some`.
//!
//! Server: feed what arrives to [`parse_request`] until it returns `Some`,
//! check it with [`UpgradeRequest::from_request`], decide on a subprotocol
//! and extensions, then [`UpgradeRequest::accept`] and [`encode_response`].
//! A failed check answers with [`HandshakeError::to_response`].
//!
//! Over HTTP/2 (RFC 8441 extended CONNECT) the server checks with
//! [`UpgradeRequest::from_extended_connect`] and answers
//! [`UpgradeRequest::accept_extended_connect`] (200); the client sends
//! [`ClientRequest::to_extended_connect`] and checks the answer with
//! [`ClientRequest::check_extended_connect_response`].
//!
//! Both parsers accept the head split anywhere across reads (call again
//! with the grown buffer), never look past `Limits::max_header_bytes`, and
//! report how many bytes the head took, since the WebSocket stream may
//! follow in the same read.

mod client;
mod error;
mod extended_connect;
mod extensions_header;
mod header_values;
mod http_head;
mod key;
mod server;

pub use client::{ClientOutcome, ClientRequest};
pub use error::HandshakeError;
pub use extended_connect::WEBSOCKET_PROTOCOL;
pub use extensions_header::parse_extensions;
pub use http_head::encode_response;
pub use key::{accept_key, generate_key, GUID};
pub use server::{parse_request, UpgradeRequest};
