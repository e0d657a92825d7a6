//! [`Upgrade`]: a validated upgrade request waiting for the server's answer.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use hyper::ext::Protocol;
use hyper::upgrade::OnUpgrade;
use switchboard_proto::handshake::UpgradeRequest;

use super::future::UpgradeFuture;
use super::rejection::UpgradeRejection;
use crate::connection_setup::{connection_setters, ConnectionSetup};
use crate::error::Error;

/// A WebSocket upgrade request received by a hyper server, checked against
/// RFC 6455 §4.2.1 (HTTP/1.1 `GET` + `Upgrade`) or RFC 8441 §4-5 (HTTP/2
/// extended `CONNECT` with `:protocol websocket`), with the server's
/// choices so far.
///
/// Create it with [`Upgrade::from_request`], look at what the client
/// offered ([`request`](Upgrade::request)), set the subprotocols, deflate
/// and limits, then [`accept`](Upgrade::accept): return the 101 response to
/// hyper and await the [`UpgradeFuture`] (in a spawned task) for the
/// [`WebSocket`](crate::WebSocket).
///
/// ```no_run
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper::{Request, Response};
/// use switchboard::upgrade::Upgrade;
/// use switchboard::Message;
///
/// async fn handle(
///     mut request: Request<hyper::body::Incoming>,
/// ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
///     if request.uri().path() != "/ws" {
///         return Ok(Response::new(Full::new(Bytes::from("hello over HTTP"))));
///     }
///     let upgrade = match Upgrade::from_request(&mut request) {
///         Ok(upgrade) => upgrade,
///         // 405, 426 or 400, as RFC 6455 asks, with a text body.
///         Err(rejection) => return Ok(rejection.into_response()),
///     };
///     let (response, websocket) = upgrade.protocols(["chat.v2", "chat.v1"]).accept();
///     tokio::spawn(async move {
///         let mut ws = websocket.await?;
///         while let Some(message) = ws.recv().await {
///             if let m @ (Message::Text(_) | Message::Binary(_)) = message? {
///                 ws.send(m).await?;
///             }
///         }
///         Ok::<_, switchboard::Error>(())
///     });
///     Ok(response)
/// }
/// ```
///
/// The request head has already been read and bounded by hyper (see
/// hyper's `max_buf_size` and `header_read_timeout`), so
/// `Limits::max_header_bytes`/`max_headers` do not apply here; every other
/// limit does.
#[derive(Debug)]
pub struct Upgrade {
    request: UpgradeRequest,
    /// An RFC 8441 extended CONNECT on an HTTP/2 stream, answered 200
    /// instead of 101.
    over_http2: bool,
    on_upgrade: OnUpgrade,
    protocol: Option<String>,
    pub(super) setup: ConnectionSetup,
}

impl Upgrade {
    /// Checks `request` with the protocol core's RFC 6455 §4.2.1 rules (or,
    /// for an HTTP/2 `CONNECT` carrying hyper's `ext::Protocol`, the
    /// RFC 8441 rules) and takes hyper's pending upgrade out of its
    /// extensions (the request is otherwise left as it was).
    ///
    /// Errors: a request that is not a valid WebSocket upgrade (plain HTTP,
    /// wrong method, bad key or version, a `:protocol` other than
    /// `websocket` ...) or that hyper cannot upgrade. Return
    /// [`UpgradeRejection::into_response`] to the client.
    pub fn from_request<B>(request: &mut Request<B>) -> Result<Self, UpgradeRejection> {
        let head = head_of(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
        );
        Self::checked(head, request.extensions_mut())
    }

    /// [`Upgrade::from_request`] on request parts (what axum extractors see).
    pub fn from_request_parts(parts: &mut Parts) -> Result<Self, UpgradeRejection> {
        let head = head_of(&parts.method, &parts.uri, parts.version, &parts.headers);
        Self::checked(head, &mut parts.extensions)
    }

    fn checked(
        head: Request<()>,
        extensions: &mut http::Extensions,
    ) -> Result<Self, UpgradeRejection> {
        // The RFC 6455 §4.2.1 and RFC 8441 §4-5 checks live in the protocol
        // core; this glue adds none of its own. hyper's HTTP/2 server hands
        // the `:protocol` pseudo-header over as a request extension.
        let protocol = extensions.get::<Protocol>().map(Protocol::as_str);
        let over_http2 = UpgradeRequest::is_extended_connect(head.method(), protocol);
        let request = if over_http2 {
            UpgradeRequest::from_extended_connect(head, protocol)?
        } else {
            UpgradeRequest::from_request(head)?
        };
        let on_upgrade = extensions
            .remove::<OnUpgrade>()
            .ok_or(UpgradeRejection::NotUpgradable)?;
        Ok(Upgrade {
            request,
            over_http2,
            on_upgrade,
            protocol: None,
            setup: ConnectionSetup::default(),
        })
    }

    /// The checked request: path, headers, `Origin`, and the subprotocols
    /// and extensions the client offered.
    pub fn request(&self) -> &UpgradeRequest {
        &self.request
    }

    /// Whether the WebSocket rides on an HTTP/2 stream (an RFC 8441
    /// extended CONNECT, answered `200`) rather than on an HTTP/1.1
    /// connection of its own (answered `101`).
    pub fn is_http2(&self) -> bool {
        self.over_http2
    }

    /// The subprotocols this server speaks, most preferred first. The first
    /// one the client also offered is selected and named in the 101
    /// response; if the client offered none of them, no subprotocol is
    /// selected (the client decides whether to go on without one). Calling
    /// it again replaces the earlier choice.
    ///
    /// To choose by other rules, read
    /// [`request().subprotocols`](UpgradeRequest::subprotocols) and pass
    /// just the one you picked.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let offered = &self.request.subprotocols;
        self.protocol = protocols
            .into_iter()
            .find(|ours| offered.iter().any(|theirs| theirs == ours.as_ref()))
            .map(|ours| ours.as_ref().to_owned());
        self
    }

    /// The subprotocol the 101 response will name, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    connection_setters!(
        "Accepts permessage-deflate (RFC 7692) when the client offers it, with these settings, as ServerBuilder::deflate does.",
        setup
    );

    /// Builds the `101 Switching Protocols` response (with
    /// `Sec-WebSocket-Accept`, the selected subprotocol and the negotiated
    /// extensions; over HTTP/2 a `200` with the same choices) and the future that yields the WebSocket once hyper has
    /// sent it and handed the connection over.
    ///
    /// Return the response from the hyper service unchanged (headers may
    /// be added) and await the future in a spawned task: hyper only
    /// completes the upgrade after the service has returned.
    ///
    /// Bytes the client sent right behind its request (a pipelined first
    /// frame) are kept by hyper's `Upgraded` and read first.
    pub fn accept(self) -> (http::Response<Full<Bytes>>, UpgradeFuture) {
        let (response, future) = self.accept_head();
        (response.map(|()| Full::new(Bytes::new())), future)
    }

    /// [`Upgrade::accept`] with a body-less response head, for servers
    /// with their own body type.
    pub fn accept_head(self) -> (http::Response<()>, UpgradeFuture) {
        let (extensions, agreed) = self.setup.server_agreed(&self.request.extensions);
        let subprotocol = self.protocol.as_deref();
        let answer = if self.over_http2 {
            self.request
                .accept_extended_connect(subprotocol, &extensions, &HeaderMap::new())
        } else {
            self.request
                .accept(subprotocol, &extensions, &HeaderMap::new())
        };
        match answer {
            Ok(response) => (response, UpgradeFuture::pending(self.on_upgrade, agreed)),
            // Not reachable with what this type offers (the subprotocol
            // comes from the client's own list and the extension answer
            // from the core's negotiation), but a failure must still reach
            // both sides: a 500 to the client and the error to the task.
            Err(error) => {
                let mut response = http::Response::new(());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                (response, UpgradeFuture::failed(Error::from(error)))
            }
        }
    }
}

/// A body-less copy of the request head, the input the core's checks take.
fn head_of(
    method: &http::Method,
    uri: &http::Uri,
    version: http::Version,
    headers: &HeaderMap,
) -> Request<()> {
    let mut head = Request::new(());
    *head.method_mut() = method.clone();
    *head.uri_mut() = uri.clone();
    *head.version_mut() = version;
    *head.headers_mut() = headers.clone();
    head
}
