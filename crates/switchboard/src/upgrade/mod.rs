//! WebSocket upgrades inside hyper 1.x and axum 0.8 servers (features
//! `hyper` and `axum`).
//!
//! An HTTP server that already owns the port answers plain HTTP and
//! WebSocket requests side by side; switchboard only takes over a
//! connection once it has switched protocols:
//!
//! 1. The request is checked with the protocol core's RFC 6455 §4.2.1
//!    rules ([`UpgradeRequest::from_request`](crate::UpgradeRequest::from_request)),
//!    exactly as [`ServerBuilder`](crate::ServerBuilder) checks requests on
//!    a bare socket. A bad request becomes an [`UpgradeRejection`] whose
//!    response (405, 426 or 400, with a text body) goes back to the client.
//! 2. The server picks a subprotocol and permessage-deflate settings;
//!    the core builds the `101 Switching Protocols` response.
//! 3. hyper writes the 101 and hands over the connection
//!    (`hyper::upgrade::on`); switchboard wraps it as an
//!    [`UpgradedWebSocket`]. Bytes the client pipelined behind its request
//!    stay in hyper's `Upgraded` read buffer and are read first.
//!
//! With hyper, use [`Upgrade`] in your service; serve connections with
//! `hyper::server::conn::http1::Builder::serve_connection(..).with_upgrades()`
//! (or hyper-util's auto builder with `serve_connection_with_upgrades`),
//! otherwise the upgrade never completes. With axum, take a
//! [`WebSocketUpgrade`] argument in a handler; `axum::serve` already
//! serves with upgrades.
//!
//! WebSockets over HTTP/2 (RFC 8441 extended CONNECT) are not supported:
//! such requests are rejected as the core decides (405, since the method
//! is not GET).

#[cfg(feature = "axum")]
mod axum_extract;
mod future;
mod pending;
mod rejection;

#[cfg(feature = "axum")]
pub use axum_extract::WebSocketUpgrade;
pub use future::{UpgradeFuture, UpgradedWebSocket};
pub use pending::Upgrade;
pub use rejection::UpgradeRejection;
