//! [`WebSocketUpgrade`]: the axum extractor.

use std::fmt;
use std::future::Future;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use futures_util::future::{Either, FutureExt};
use http::request::Parts;
use http::Request;
use hyper::ext::Protocol;
use switchboard_proto::handshake::UpgradeRequest;
use tokio::io::{AsyncRead, AsyncWrite};

use super::future::{Downcast, UpgradeFuture, UpgradedWebSocket};
use super::pending::Upgrade;
use super::rejection::UpgradeRejection;
use crate::connection_setup::connection_setters;
use crate::error::Error;

type FailedUpgradeCallback = Box<dyn FnOnce(Error) + Send>;

/// An axum extractor for a WebSocket upgrade request, checked against
/// RFC 6455 §4.2.1 by the protocol core.
///
/// Choose subprotocols, compression and limits, then answer with
/// [`on_upgrade`](WebSocketUpgrade::on_upgrade), which returns the 101
/// response and runs your callback with the [`WebSocket`](crate::WebSocket)
/// in a new task once the connection has switched.
///
/// HTTP/2 extended CONNECT requests (RFC 8441) are accepted too when the
/// server enables them (see the [module docs](super)); route with
/// `any(..)` so the CONNECT method reaches the handler.
///
/// A request that is not a valid upgrade is rejected before the handler
/// runs, with the response [`UpgradeRejection`] describes (405, 426 or
/// 400). Take `Option<WebSocketUpgrade>` to serve plain HTTP on the same
/// route: it is `None` for requests without `Upgrade: websocket` (invalid
/// upgrade requests are still rejected).
///
/// ```no_run
/// use axum::{response::Response, routing::get, Router};
/// use switchboard::upgrade::WebSocketUpgrade;
/// use switchboard::{DeflateConfig, Message};
///
/// async fn chat(ws: WebSocketUpgrade) -> Response {
///     ws.protocols(["chat.v2", "chat.v1"])
///         .deflate(DeflateConfig::low_memory())
///         .on_upgrade(|mut ws| async move {
///             while let Some(Ok(message)) = ws.recv().await {
///                 if let m @ (Message::Text(_) | Message::Binary(_)) = message {
///                     if ws.send(m).await.is_err() {
///                         break;
///                     }
///                 }
///             }
///         })
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let app = Router::new().route("/chat", get(chat));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub struct WebSocketUpgrade {
    upgrade: Upgrade,
    on_failed_upgrade: Option<FailedUpgradeCallback>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("upgrade", &self.upgrade)
            .field("on_failed_upgrade", &self.on_failed_upgrade.is_some())
            .finish()
    }
}

impl WebSocketUpgrade {
    /// The checked request: path, headers, `Origin`, and the subprotocols
    /// and extensions the client offered.
    pub fn request(&self) -> &UpgradeRequest {
        self.upgrade.request()
    }

    /// The subprotocols this server speaks, most preferred first; the first
    /// one the client also offered is selected. See [`Upgrade::protocols`].
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.upgrade = self.upgrade.protocols(protocols);
        self
    }

    /// Whether the WebSocket rides on an HTTP/2 stream (RFC 8441).
    pub fn is_http2(&self) -> bool {
        self.upgrade.is_http2()
    }

    /// The subprotocol the 101 response will name, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.upgrade.selected_protocol()
    }

    connection_setters!(
        "Accepts permessage-deflate (RFC 7692) when the client offers it, with these settings, as ServerBuilder::deflate does.",
        upgrade.setup
    );

    /// Called instead of the [`on_upgrade`](WebSocketUpgrade::on_upgrade)
    /// callback when the connection is not handed over after the 101
    /// (usually the client went away). By default the error is logged at
    /// `debug` level through `tracing`.
    pub fn on_failed_upgrade(mut self, callback: impl FnOnce(Error) + Send + 'static) -> Self {
        self.on_failed_upgrade = Some(Box::new(callback));
        self
    }

    /// Answers the request with `101 Switching Protocols` and spawns a
    /// tokio task that runs `callback` with the WebSocket once axum has
    /// sent the response and handed the connection over.
    ///
    /// Return the response from the handler (headers such as `Set-Cookie`
    /// may be added to it).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(UpgradedWebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn_upgrade(|upgrade| upgrade, callback)
    }

    /// As [`on_upgrade`](WebSocketUpgrade::on_upgrade), but the WebSocket
    /// runs over the connection's own type `T` when the server was
    /// serving it as `TokioIo<T>` (`axum::serve` over a `TcpListener`
    /// does: `T` is `tokio::net::TcpStream`), and over hyper's boxed
    /// connection otherwise. See [`UpgradeFuture::downcast`] for what it
    /// saves.
    ///
    /// [`UpgradeFuture::downcast`]: super::UpgradeFuture::downcast
    pub fn on_upgrade_downcast<T, F, Fut>(self, callback: F) -> Response
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: FnOnce(Downcast<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn_upgrade(UpgradeFuture::downcast::<T>, callback)
    }

    /// Answers with the 101 and spawns the task that waits for the
    /// handover (`handover` turns the upgrade into the future that
    /// resolves to the WebSocket) and then runs `callback`.
    fn spawn_upgrade<H, W, F, Fut>(
        self,
        handover: impl FnOnce(UpgradeFuture) -> H,
        callback: F,
    ) -> Response
    where
        H: Future<Output = Result<W, Error>> + Send + 'static,
        F: FnOnce(W) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (response, websocket) = self.upgrade.accept_head();
        let on_failed_upgrade = self.on_failed_upgrade;
        // `then` holds either the upgrade or the callback's future, never
        // both. An async block here would keep its captures and the
        // awaited `Result` (with a copy of the WebSocket) next to the
        // callback's future for the connection's whole life: 630 bytes
        // more per idle connection.
        tokio::spawn(handover(websocket).then(move |upgraded| match upgraded {
            Ok(ws) => Either::Left(callback(ws)),
            Err(error) => {
                match on_failed_upgrade {
                    Some(on_failed_upgrade) => on_failed_upgrade(error),
                    None => tracing::debug!(%error, "WebSocket upgrade did not complete"),
                }
                Either::Right(std::future::ready(()))
            }
        }));
        response.map(|()| Body::empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(WebSocketUpgrade {
            upgrade: Upgrade::from_request_parts(parts)?,
            on_failed_upgrade: None,
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !asks_for_websocket(parts) {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// Whether the request carries `Upgrade: websocket` (the core's rule) or
/// is an HTTP/2 extended CONNECT, lending it the headers instead of
/// copying them.
fn asks_for_websocket(parts: &mut Parts) -> bool {
    let protocol = parts.extensions.get::<Protocol>().map(Protocol::as_str);
    if UpgradeRequest::is_extended_connect(&parts.method, protocol) {
        return true;
    }
    let mut head = Request::new(());
    *head.headers_mut() = std::mem::take(&mut parts.headers);
    let asks = UpgradeRequest::is_upgrade(&head);
    parts.headers = std::mem::take(head.headers_mut());
    asks
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> Response {
        let (head, body) = self.to_parts();
        head.map(|()| Body::from(body))
    }
}
