//! WebSockets over HTTP/2 on the client side (RFC 8441, feature `http2`):
//! [`Http2Connection`] shares one HTTP/2 connection among many WebSockets,
//! and [`ClientBuilder::connect_preferring_http2`] picks HTTP/2 when the
//! server offers it and falls back to HTTP/1.1.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http2;
use hyper::ext::Protocol;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchboard_proto::handshake::WEBSOCKET_PROTOCOL;
use switchboard_proto::HandshakeError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::{ClientBuilder, MAX_REJECTION_BODY};
use crate::connection_setup::Agreed;
use crate::error::Error;
use crate::handshake_io::Deadline;
use crate::tls::{self, MaybeTlsStream, ALPN_H2, ALPN_HTTP_1_1};
use crate::websocket::WebSocket;

/// Longest wait for the server's first SETTINGS frame, which says whether
/// it takes extended CONNECT. The server sends it first thing, so it is
/// normally there by the time the TLS handshake has finished; this only
/// bounds a server that never sends it.
const SETTINGS_WAIT: Duration = Duration::from_millis(500);
/// How often the connection task looks for the SETTINGS answer meanwhile.
const SETTINGS_POLL: Duration = Duration::from_millis(1);

/// hyper's client connection object over `S`.
type ClientConnection<S> = http2::Connection<TokioIo<S>, Empty<Bytes>, TokioExecutor>;

/// A WebSocket riding on one stream of an HTTP/2 connection.
pub type Http2WebSocket = WebSocket<TokioIo<Upgraded>>;

/// One HTTP/2 connection that WebSockets are opened on (RFC 8441), each
/// as its own stream. Cheap to clone: clones share the connection, which
/// a background task drives until the last clone and the last WebSocket
/// on it are gone.
#[derive(Clone)]
pub struct Http2Connection {
    sender: http2::SendRequest<Empty<Bytes>>,
    /// Whether the server's SETTINGS enabled extended CONNECT, as last
    /// seen by the task driving the connection.
    extended_connect: watch::Receiver<bool>,
}

impl fmt::Debug for Http2Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2Connection")
            .field("websockets", &self.supports_websockets())
            .field("closed", &self.sender.is_closed())
            .finish()
    }
}

impl Http2Connection {
    /// Runs the HTTP/2 handshake over `io` (a TLS stream that selected
    /// ALPN `h2`, or a plain TCP stream for h2c with prior knowledge),
    /// spawns the task that drives the connection, and waits (briefly, see
    /// [`supports_websockets`](Self::supports_websockets)) for the
    /// server's SETTINGS.
    ///
    /// Errors: the server does not speak HTTP/2 ([`Error::Io`]).
    pub async fn handshake<S>(io: S) -> Result<Self, Error>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(io))
            .await
            .map_err(hyper_error("the HTTP/2 handshake failed"))?;
        let (flag, extended_connect) = watch::channel(false);
        tokio::spawn(async move {
            let driven = SettingsWatch {
                connection: Box::pin(connection),
                flag,
                recheck: Some(Box::pin(tokio::time::sleep(SETTINGS_POLL))),
                give_up: Instant::now() + SETTINGS_WAIT,
            };
            if let Err(error) = driven.await {
                tracing::debug!(%error, "HTTP/2 connection ended with an error");
            }
        });
        let mut connection = Http2Connection {
            sender,
            extended_connect,
        };
        connection.await_settings().await;
        Ok(connection)
    }

    /// Whether the server allows WebSockets on this connection: it sent
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3).
    pub fn supports_websockets(&self) -> bool {
        *self.extended_connect.borrow()
    }

    /// Whether the connection has ended (the server went away or sent
    /// GOAWAY); open a new one then.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Waits until the server has enabled extended CONNECT, at most
    /// [`SETTINGS_WAIT`] (hyper does not say when a SETTINGS frame without
    /// it has arrived, so a server that never enables it costs this wait).
    async fn await_settings(&mut self) {
        let enabled = self.extended_connect.wait_for(|enabled| *enabled);
        // Ending early (the connection task is gone) or timing out both
        // leave the flag false, which is the answer then.
        let _ = tokio::time::timeout(SETTINGS_WAIT, enabled).await;
    }
}

/// The task future of a client connection: drives hyper's connection and
/// publishes whether the server's SETTINGS allow extended CONNECT, which
/// only the connection object can tell. hyper reads frames in a task of
/// its own and does not wake this one for a SETTINGS frame, so until the
/// answer is known (or [`SETTINGS_WAIT`] has passed) a short timer wakes
/// it to look again.
struct SettingsWatch<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    connection: Pin<Box<ClientConnection<S>>>,
    flag: watch::Sender<bool>,
    recheck: Option<Pin<Box<Sleep>>>,
    give_up: Instant,
}

impl<S> Future for SettingsWatch<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = hyper::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let outcome = this.connection.as_mut().poll(cx);
        let enabled = this.connection.is_extended_connect_protocol_enabled();
        this.flag.send_if_modified(|seen| {
            let changed = *seen != enabled;
            *seen = enabled;
            changed
        });
        if enabled || Instant::now() >= this.give_up {
            this.recheck = None;
        } else if let Some(recheck) = &mut this.recheck {
            while recheck.as_mut().poll(cx).is_ready() {
                recheck.as_mut().reset(Instant::now() + SETTINGS_POLL);
            }
        }
        outcome
    }
}

/// Which HTTP version a WebSocket was opened over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersionUsed {
    /// An HTTP/1.1 `Upgrade` on a connection of its own (RFC 6455).
    Http1,
    /// An extended CONNECT on an HTTP/2 stream (RFC 8441).
    Http2,
}

impl fmt::Display for HttpVersionUsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpVersionUsed::Http1 => "HTTP/1.1",
            HttpVersionUsed::Http2 => "HTTP/2",
        })
    }
}

/// The transport under a WebSocket from
/// [`ClientBuilder::connect_preferring_http2`]: its own connection, or a
/// stream of an HTTP/2 connection.
#[derive(Debug)]
pub enum ClientStream {
    /// HTTP/1.1: the TCP (and TLS) connection itself.
    Http1(MaybeTlsStream<TcpStream>),
    /// HTTP/2: one stream of the shared connection.
    Http2(TokioIo<Upgraded>),
}

impl ClientBuilder {
    /// Opens a WebSocket as a new stream of `connection` (RFC 8441
    /// extended CONNECT). The URL's scheme, host and path name the
    /// target; nothing is dialed and the TLS and proxy settings are not
    /// used. Every other setting (subprotocols, headers, deflate, limits,
    /// handshake timeout) applies as on HTTP/1.1.
    ///
    /// Errors: the server did not enable extended CONNECT
    /// ([`Error::Handshake`], connect over HTTP/1.1 instead), a non-2xx
    /// answer ([`Error::Http`]), a refused stream or ended connection
    /// ([`Error::Io`]), the handshake timeout.
    pub async fn connect_on_http2(
        &self,
        connection: &Http2Connection,
    ) -> Result<(Http2WebSocket, http::Response<()>), Error> {
        let uri = self.uri()?;
        let deadline = Deadline::after(self.handshake_timeout);
        let (io, agreed, response) = self.open_stream(connection, &uri, &deadline).await?;
        Ok((agreed.websocket(io, &[]), response))
    }

    /// Opens a WebSocket over HTTP/2 when the server offers it, otherwise
    /// over HTTP/1.1, and says which was used.
    ///
    /// For `wss://` the TLS handshake offers ALPN `h2` and `http/1.1`. If
    /// the server picks `h2` and enables extended CONNECT, the WebSocket
    /// is a stream of a new [`Http2Connection`] (returned, to open more
    /// WebSockets on it with [`connect_on_http2`](Self::connect_on_http2)).
    /// If it picks `http/1.1`, the same connection is upgraded; if it picks
    /// `h2` without extended CONNECT, a new HTTP/1.1 connection is made.
    /// `ws://` URLs use HTTP/1.1 (h2c needs prior knowledge: use
    /// [`Http2Connection::handshake`] on a TCP stream).
    pub async fn connect_preferring_http2(
        self,
    ) -> Result<
        (
            WebSocket<ClientStream>,
            http::Response<()>,
            Option<Http2Connection>,
        ),
        Error,
    > {
        let (uri, target) = self.target()?;
        let deadline = Deadline::after(self.handshake_timeout);
        if !target.secure {
            let tcp = self.dial(&target).await?;
            let io = ClientStream::Http1(MaybeTlsStream::Plain(tcp));
            let (ws, response) = Box::pin(self.handshake(io, &uri, deadline)).await?;
            return Ok((ws, response, None));
        }
        let tcp = self.dial(&target).await?;
        let offer = self
            .tls
            .clone()
            .alpn_protocols(vec![ALPN_H2.to_vec(), ALPN_HTTP_1_1.to_vec()]);
        let tls = deadline
            .run_step(tls::wrap_client(tcp, &offer, &target.host))
            .await?;
        if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            let io = ClientStream::Http1(MaybeTlsStream::from(tls));
            let (ws, response) = Box::pin(self.handshake(io, &uri, deadline)).await?;
            return Ok((ws, response, None));
        }
        let connection = deadline.run(h2_handshake(tls)).await?;
        if !connection.supports_websockets() {
            tracing::debug!("the server chose h2 without extended CONNECT; using HTTP/1.1");
            let tcp = self.dial(&target).await?;
            let tls = deadline
                .run_step(tls::wrap_client(tcp, &self.tls, &target.host))
                .await?;
            let io = ClientStream::Http1(MaybeTlsStream::from(tls));
            let (ws, response) = Box::pin(self.handshake(io, &uri, deadline)).await?;
            return Ok((ws, response, None));
        }
        let (io, agreed, response) = self.open_stream(&connection, &uri, &deadline).await?;
        let ws = agreed.websocket(ClientStream::Http2(io), &[]);
        Ok((ws, response, Some(connection)))
    }

    /// Sends the extended CONNECT, checks the answer and takes the stream.
    async fn open_stream(
        &self,
        connection: &Http2Connection,
        uri: &Uri,
        deadline: &Deadline,
    ) -> Result<(TokioIo<Upgraded>, Agreed, http::Response<()>), Error> {
        if !connection.supports_websockets() {
            return Err(Error::Handshake(Box::new(
                HandshakeError::UnsupportedConnectProtocol(Some(WEBSOCKET_PROTOCOL.to_owned())),
            )));
        }
        let request = self.client_request(uri)?;
        let (parts, ()) = request.to_extended_connect()?.into_parts();
        let mut connect = http::Request::from_parts(parts, Empty::<Bytes>::new());
        connect
            .extensions_mut()
            .insert(Protocol::from_static(WEBSOCKET_PROTOCOL));
        let mut sender = connection.sender.clone();
        let exchange = async move {
            sender
                .ready()
                .await
                .map_err(hyper_error("the HTTP/2 connection cannot open a stream"))?;
            sender
                .send_request(connect)
                .await
                .map_err(hyper_error("the server refused the WebSocket stream"))
        };
        let mut response = deadline.run(exchange).await?;
        let upgrade = hyper::upgrade::on(&mut response);
        let (parts, body) = response.into_parts();
        let head = http::Response::from_parts(parts.clone(), ());
        let outcome = match request.check_extended_connect_response(head) {
            Ok(outcome) => outcome,
            Err(HandshakeError::UnexpectedStatus { .. }) => {
                let body = deadline
                    .run(async {
                        Ok(Limited::new(body, MAX_REJECTION_BODY)
                            .collect()
                            .await
                            .map(|collected| collected.to_bytes())
                            .unwrap_or_default())
                    })
                    .await?;
                return Err(Error::Http(Box::new(http::Response::from_parts(
                    parts, body,
                ))));
            }
            Err(error) => return Err(error.into()),
        };
        let agreed = self.client_agreed(&outcome)?;
        let upgraded = deadline
            .run(async {
                upgrade
                    .await
                    .map_err(hyper_error("the WebSocket stream was not handed over"))
            })
            .await?;
        Ok((TokioIo::new(upgraded), agreed, outcome.response))
    }
}

async fn h2_handshake(tls: tls::ClientTlsStream<TcpStream>) -> io::Result<Http2Connection> {
    Http2Connection::handshake(tls)
        .await
        .map_err(|error| match error {
            Error::Io(error) => error,
            other => io::Error::other(other.to_string()),
        })
}

/// hyper's error as an I/O error saying what failed.
fn hyper_error(what: &'static str) -> impl Fn(hyper::Error) -> io::Error {
    move |error| io::Error::other(format!("{what}: {error}"))
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Http1(io) => Pin::new(io).poll_read(cx, buf),
            ClientStream::Http2(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Http1(io) => Pin::new(io).poll_write(cx, buf),
            ClientStream::Http2(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Http1(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            ClientStream::Http2(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Http1(io) => io.is_write_vectored(),
            ClientStream::Http2(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Http1(io) => Pin::new(io).poll_flush(cx),
            ClientStream::Http2(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Http1(io) => Pin::new(io).poll_shutdown(cx),
            ClientStream::Http2(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}
