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
//!    [`UpgradeFuture::downcast`] (or
//!    [`WebSocketUpgrade::on_upgrade_downcast`]) takes the connection out of
//!    hyper's box instead, so that the WebSocket runs over the socket
//!    itself: no wrappers and no virtual call on each read and write, and
//!    one allocation less per connection.
//!
//! With hyper, use [`Upgrade`] in your service; serve connections with
//! `hyper::server::conn::http1::Builder::serve_connection(..).with_upgrades()`
//! (or hyper-util's auto builder with `serve_connection_with_upgrades`),
//! otherwise the upgrade never completes. With axum, take a
//! [`WebSocketUpgrade`] argument in a handler; `axum::serve` already
//! serves with upgrades.
//!
//! WebSockets over HTTP/2 (RFC 8441): serve the connection with hyper's
//! HTTP/2 server and `enable_connect_protocol()` (it advertises
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL`), or hyper-util's auto builder with
//! `.http2().enable_connect_protocol()`. An extended CONNECT with
//! `:protocol websocket` then goes through the same [`Upgrade`] (or
//! [`WebSocketUpgrade`]): the core checks it against RFC 8441 §4-5, the
//! answer is `200` instead of `101`, and the WebSocket runs over the
//! HTTP/2 stream with RFC 6455 framing unchanged (client frames stay
//! masked). HTTP/2 flow control is the backpressure; a WebSocket close
//! ends the stream with END_STREAM, a peer's RST_STREAM reads as an
//! abnormal close. With axum, route WebSocket paths with `any(..)` (or
//! `get(..).connect(..)`): the HTTP/2 request method is CONNECT.
//! [`Upgrade::is_http2`] tells the two apart.

#[cfg(feature = "axum")]
mod axum_extract;
mod future;
mod pending;
mod rejection;

#[cfg(feature = "axum")]
pub use axum_extract::WebSocketUpgrade;
pub use future::{Downcast, DowncastFuture, UpgradeFuture, UpgradedWebSocket};
pub use pending::Upgrade;
pub use rejection::UpgradeRejection;
