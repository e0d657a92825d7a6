//! The server side: [`accept`], [`accept_with`] and [`ServerBuilder`].

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use switchboard_proto::handshake::{self, UpgradeRequest};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection_setup::{connection_setters, ConnectionSetup};
use crate::error::Error;
use crate::handshake_io::{self, Deadline};
use crate::tls::{MaybeTlsStream, TlsAcceptor};
use crate::websocket::WebSocket;

/// Default for [`ServerBuilder::handshake_timeout`]: 10 s. Real clients
/// finish the upgrade in milliseconds; the bound stops slowloris clients
/// that dribble a header byte at a time from holding a connection.
pub const DEFAULT_SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the server side of the opening handshake on `io` with default
/// settings, accepting any path, origin and no subprotocol.
///
/// Malformed or non-WebSocket requests get the matching HTTP error (400,
/// 405, 426, 431) and an `Err`.
pub async fn accept<S>(io: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ServerBuilder::new().accept(io).await
}

/// Like [`accept`], but `callback` sees the request first (path, headers,
/// `Origin`, offered subprotocols) and accepts it, possibly choosing a
/// subprotocol and adding response headers, or rejects it with an HTTP
/// status and body, which is written to the client.
///
/// ```no_run
/// use switchboard::{Accept, Reject};
///
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), switchboard::Error> {
/// let ws = switchboard::accept_with(tcp, |req: &switchboard::UpgradeRequest| {
///     if req.request.uri().path() != "/chat" {
///         return Err(Reject::new(http::StatusCode::NOT_FOUND).body("no such endpoint"));
///     }
///     let mut accept = Accept::new();
///     if req.subprotocols.iter().any(|p| p == "chat.v2") {
///         accept = accept.subprotocol("chat.v2");
///     }
///     Ok(accept)
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn accept_with<S, F>(io: S, callback: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
{
    ServerBuilder::new().accept_with(io, callback).await
}

/// The application's yes to an upgrade request.
#[derive(Debug, Clone, Default)]
pub struct Accept {
    subprotocol: Option<String>,
    headers: HeaderMap,
}

impl Accept {
    /// Accept without a subprotocol or extra headers.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Selects a subprotocol; it must be one the client offered
    /// (`UpgradeRequest::subprotocols`), otherwise the handshake fails with
    /// a 500 and an [`Error::Handshake`].
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Adds a header to the 101 response (e.g. `Set-Cookie`).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }
}

/// The application's no to an upgrade request: an HTTP response.
#[derive(Debug, Clone)]
pub struct Reject(Box<Rejection>);

#[derive(Debug, Clone)]
struct Rejection {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reject {
    /// A rejection with `status` (e.g. 401, 403, 404) and an empty body.
    pub fn new(status: StatusCode) -> Self {
        Reject(Box::new(Rejection {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }))
    }

    /// Sets the body (sent as `text/plain` unless a `Content-Type` is set).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.0.body = body.into();
        self
    }

    /// Adds a response header (e.g. `WWW-Authenticate`).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// The status the client will get.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    fn into_response(self) -> (http::Response<()>, Bytes) {
        let Rejection {
            status,
            headers,
            body,
        } = *self.0;
        let mut response = http::Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        let headers = response.headers_mut();
        if !body.is_empty() && !headers.contains_key(http::header::CONTENT_TYPE) {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        (response, body)
    }
}

/// Settings for the server side.
///
/// [`Limits`](crate::Limits)' `max_header_bytes` and `max_headers` also
/// bound the request head: over them, the client gets a 431 and the
/// connection ends.
///
/// ```no_run
/// use std::time::Duration;
/// use switchboard::{Limits, ServerBuilder};
///
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), switchboard::Error> {
/// let ws = ServerBuilder::new()
///     .limits(Limits::default().max_message_size(1 << 20))
///     .handshake_timeout(Duration::from_secs(5))
///     .accept(tcp)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    setup: ConnectionSetup,
    handshake_timeout: Duration,
    tls: Option<TlsAcceptor>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// Default settings.
    pub fn new() -> Self {
        ServerBuilder {
            setup: ConnectionSetup::default(),
            handshake_timeout: DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
            tls: None,
        }
    }

    connection_setters!(
        "Accepts permessage-deflate (RFC 7692) when a client offers it, with these settings.",
        setup
    );

    /// Bound on the whole opening handshake, from the first byte read to
    /// the 101 written (including the TLS handshake in
    /// [`accept_maybe_tls`](ServerBuilder::accept_maybe_tls)). Default
    /// [`DEFAULT_SERVER_HANDSHAKE_TIMEOUT`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Serves `wss://`: [`accept_maybe_tls`](ServerBuilder::accept_maybe_tls)
    /// and [`accept_maybe_tls_with`](ServerBuilder::accept_maybe_tls_with)
    /// run the TLS handshake with `acceptor` first (build it with
    /// [`TlsAcceptor::from_pem_files`]). Without it they serve plain `ws://`.
    pub fn tls(mut self, acceptor: TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// Accepts any WebSocket upgrade over TLS when [`tls`](ServerBuilder::tls)
    /// is set, plain otherwise, so one code path serves `ws://` and `wss://`.
    ///
    /// ```no_run
    /// use switchboard::tls::TlsAcceptor;
    /// use switchboard::ServerBuilder;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = ServerBuilder::new().tls(TlsAcceptor::from_pem_files("chain.pem", "key.pem")?);
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
    /// let (tcp, _) = listener.accept().await?;
    /// let mut ws = server.accept_maybe_tls(tcp).await?;
    /// ws.send(switchboard::Message::text("hello over TLS")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn accept_maybe_tls<S>(&self, io: S) -> Result<WebSocket<MaybeTlsStream<S>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_maybe_tls_with(io, |_| Ok(Accept::new())).await
    }

    /// Like [`accept_maybe_tls`](ServerBuilder::accept_maybe_tls), with a
    /// callback as in [`accept_with`]. The TLS handshake and the upgrade share
    /// one [`handshake_timeout`](ServerBuilder::handshake_timeout).
    pub async fn accept_maybe_tls_with<S, F>(
        &self,
        io: S,
        callback: F,
    ) -> Result<WebSocket<MaybeTlsStream<S>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        // Boxed like `accept_with`: the TLS and upgrade state must not size
        // the caller's future for the connection's life.
        Box::pin(async move {
            let deadline = Deadline::after(self.handshake_timeout);
            let io = match &self.tls {
                Some(acceptor) => {
                    MaybeTlsStream::from(deadline.run_step(acceptor.accept(io)).await?)
                }
                None => MaybeTlsStream::Plain(io),
            };
            self.upgrade(io, callback, deadline).await
        })
        .await
    }

    /// Accepts any WebSocket upgrade; see [`accept`].
    pub async fn accept<S>(&self, io: S) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_with(io, |_| Ok(Accept::new())).await
    }

    /// Lets `callback` decide; see [`accept_with`].
    pub async fn accept_with<S, F>(&self, io: S, callback: F) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        // The handshake's state (parsed request, response, timeouts) is
        // several times larger than an open `WebSocket`. Inline, it would
        // size the future of every task that awaits `accept` for the task's
        // whole life, idle or not (5.9 KiB per connection measured as RSS);
        // boxed, it is one short-lived allocation per handshake.
        let deadline = Deadline::after(self.handshake_timeout);
        Box::pin(self.upgrade(io, callback, deadline)).await
    }

    /// The server side of the opening handshake on an established
    /// transport, against `deadline`.
    async fn upgrade<S, F>(
        &self,
        mut io: S,
        callback: F,
        deadline: Deadline,
    ) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        let limits = &self.setup.settings.limits;
        let head = handshake_io::read_head(
            &mut io,
            &deadline,
            limits.max_header_bytes,
            "client",
            |buf| handshake::parse_request(buf, limits),
        )
        .await?;
        let (request, leftover) = match head {
            Ok(head) => head,
            Err(error) => {
                let (response, body) = error.to_response();
                handshake_io::write_rejection(&mut io, &response, &body, &deadline).await;
                return Err(error.into());
            }
        };

        let upgrade = match UpgradeRequest::from_request(request) {
            Ok(upgrade) => upgrade,
            Err(error) => {
                let (response, body) = error.to_response();
                handshake_io::write_rejection(&mut io, &response, &body, &deadline).await;
                return Err(error.into());
            }
        };
        let accept = match callback(&upgrade) {
            Ok(accept) => accept,
            Err(reject) => {
                let status = reject.status();
                let (response, body) = reject.into_response();
                handshake_io::write_rejection(&mut io, &response, &body, &deadline).await;
                return Err(Error::Rejected(status));
            }
        };
        let (response_extensions, agreed) = self.setup.server_agreed(&upgrade.extensions);
        let response = match upgrade.accept(
            accept.subprotocol.as_deref(),
            &response_extensions,
            &accept.headers,
        ) {
            Ok(response) => response,
            Err(error) => {
                let (response, body) = Reject::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .body("the server chose an invalid subprotocol or extension")
                    .into_response();
                handshake_io::write_rejection(&mut io, &response, &body, &deadline).await;
                return Err(error.into());
            }
        };
        let mut out = Vec::with_capacity(256);
        handshake::encode_response(&response, &[], &mut out);
        handshake_io::write_all(&mut io, &out, &deadline).await?;

        Ok(agreed.websocket(io, &leftover))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_proto::{Limits, Settings};

    use super::*;
    use crate::ClientBuilder;

    /// Accepts one connection from `builder` over an in-memory pipe.
    async fn accept_one(builder: &ServerBuilder) -> WebSocket<tokio::io::DuplexStream> {
        let (client_io, server_io) = tokio::io::duplex(4096);
        let client = tokio::spawn(async move {
            ClientBuilder::new("ws://localhost/")
                .connect_on(client_io)
                .await
                .map(|(ws, _)| ws)
        });
        let server = builder.accept(server_io).await.expect("handshake");
        client
            .await
            .expect("client task")
            .expect("client handshake");
        server
    }

    #[tokio::test]
    async fn connections_accepted_by_one_builder_share_its_settings() {
        let builder = ServerBuilder::new().limits(Limits::default().max_message_size(4096));
        let first = accept_one(&builder).await;
        let second = accept_one(&builder).await;
        let (first, second) = (first.core.conn.settings(), second.core.conn.settings());
        assert!(Arc::ptr_eq(first, second));
        assert_eq!(first.limits.max_message_size, 4096);
        assert!(!Arc::ptr_eq(first, &Settings::shared_default()));

        // Default builders (and so `accept`) share the process-wide default.
        let default = accept_one(&ServerBuilder::new()).await;
        assert!(Arc::ptr_eq(
            default.core.conn.settings(),
            &Settings::shared_default()
        ));
    }
}
