//! The driver's error type, split by cause.
//!
//! Failures the protocol core decides (the peer broke the protocol, a limit,
//! keepalive/idle/close timeouts, an abnormal closure) are its own
//! [`proto::Error`], handed through as [`Error::Connection`] the way quinn
//! hands over quinn-proto's `ConnectionError`: their classification, close
//! code and message live in one place, the core.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use switchboard_proto::deflate::DeflateNegotiationError;
use switchboard_proto::{self as proto, CloseCode, HandshakeError};

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Establishing the TCP connection took longer than
    /// [`ClientBuilder::connect_timeout`](crate::ClientBuilder::connect_timeout).
    Connect(Duration),
    /// The opening handshake did not finish within the handshake timeout
    /// (client: [`ClientBuilder::handshake_timeout`](crate::ClientBuilder::handshake_timeout),
    /// server: [`ServerBuilder::handshake_timeout`](crate::ServerBuilder::handshake_timeout)).
    ///
    /// The deadlines of an open connection (keepalive, idle, close) are the
    /// protocol core's: [`Error::Connection`] with
    /// [`proto::Error::KeepaliveTimeout`], `IdleTimeout` or `CloseTimeout`.
    Handshake(Duration),
}

impl TimeoutKind {
    /// The configured duration that expired.
    pub fn duration(self) -> Duration {
        match self {
            TimeoutKind::Connect(d) | TimeoutKind::Handshake(d) => d,
        }
    }
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeoutKind::Connect(d) => write!(f, "TCP connect did not finish within {d:?}; check the address or raise the connect timeout"),
            TimeoutKind::Handshake(d) => write!(f, "opening handshake did not finish within {d:?}; the peer is too slow or not a WebSocket endpoint"),
        }
    }
}

/// Everything that can go wrong on a WebSocket, split by cause.
///
/// Errors that end the connection say so; after one of them the stream
/// yields `None` and sending fails with [`Error::ConnectionClosed`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed, as the protocol core decided: the peer broke
    /// RFC 6455 ([`proto::Error::Protocol`], 1002/1007), sent more than the
    /// [`Limits`](crate::Limits) allow ([`proto::Error::Limit`], 1009), a
    /// keepalive, idle or close deadline passed, or the transport ended
    /// without a close handshake ([`proto::Error::AbnormalClosure`], 1006).
    ///
    /// A close frame with [`Error::close_code`] was sent where the protocol
    /// allows one, and the transport closed. The inner error's message says
    /// what to do; match on it to tell the causes apart.
    #[error(transparent)]
    Connection(#[from] proto::Error),

    /// The transport failed (connection reset, broken pipe, refused ...).
    ///
    /// Likely cause: the network or the peer process went away. The
    /// connection is unusable; reconnect.
    #[error("I/O error on the WebSocket transport: {0}")]
    Io(#[from] io::Error),

    /// The opening handshake was malformed or did not validate (wrong
    /// `Sec-WebSocket-Accept`, missing `Upgrade` header, header block too
    /// large, unsupported version ...).
    ///
    /// Likely cause: the other side is not a WebSocket endpoint, or speaks
    /// a different version. On the server side the client has already been
    /// answered with the matching HTTP status (400, 405, 426, 431). Check
    /// the URL (scheme, port, path) and that the endpoint speaks WebSocket
    /// version 13; retrying unchanged will fail the same way.
    #[error("opening handshake failed: {0}")]
    Handshake(Box<HandshakeError>),

    /// The server answered the opening handshake with an HTTP status other
    /// than 101 (e.g. 401, 403, 404, 503). The response carries the headers
    /// and up to 64 KiB of the body.
    ///
    /// Likely cause: wrong path, missing credentials, or the server refused
    /// the connection on purpose; read the body for its reason.
    #[error("server refused the WebSocket upgrade with HTTP {}; check the URL path and credentials (the response body may say why)", .0.status())]
    Http(Box<http::Response<Bytes>>),

    /// The application's `accept_with` callback rejected the client with
    /// this status; the rejection has been written to the socket and the
    /// connection closed. Nothing more to do; log it if useful.
    #[error("the upgrade request was rejected by the application with HTTP {0}; the client was answered and the connection closed")]
    Rejected(http::StatusCode),

    /// A connect or handshake deadline expired: the connection was never
    /// established; reconnect.
    #[error("timed out: {0}")]
    Timeout(TimeoutKind),

    /// The connection is closed (or closing) and cannot be used for this
    /// operation.
    ///
    /// Likely cause: a send after `close()`, after the peer's close frame,
    /// or after an error. Stop using this socket; open a new one.
    #[error("the WebSocket connection is closed; no more messages can be sent or received, open a new connection")]
    ConnectionClosed,

    /// The URL cannot be used to connect (bad syntax, unsupported scheme,
    /// missing host).
    ///
    /// Likely cause: a typo, or a scheme other than `ws://` and `wss://`.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A send was refused before anything was written (control payload over
    /// 125 bytes, invalid close code, fragments out of order, the extension
    /// could not encode it). The inner error says which and what to do.
    #[error("message not sent: {0}")]
    Send(proto::SendError),

    /// The API was used in a way this configuration does not support; the
    /// inner error says what to use instead. The connection is unaffected.
    #[error("API misuse: {0}")]
    Misuse(Misuse),

    /// The server's permessage-deflate answer does not fit what this client
    /// offered (RFC 7692 §7: the client fails the connection). The
    /// connection was not established.
    ///
    /// Likely cause: a buggy server. Connect without
    /// [`ClientBuilder::deflate`](crate::ClientBuilder::deflate), or with
    /// other deflate settings.
    #[error("the server's permessage-deflate answer is unusable: {0}; connect without deflate or with other deflate settings")]
    Extension(DeflateNegotiationError),

    /// TLS could not be set up: the server's certificate is not trusted or
    /// names another host, the peer does not speak TLS, or a PEM file is
    /// unusable. The inner error says which and what to try.
    /// Boxed, like the other large payloads, so `Error` (kept inside every
    /// `WebSocket`) stays small.
    #[error(transparent)]
    Tls(Box<crate::tls::TlsError>),

    /// The connection through the proxy failed: the proxy is unreachable,
    /// rejected the credentials, refused the target, or a proxy environment
    /// variable is malformed. The inner error says which and what to try.
    /// Boxed for the same reason as [`Error::Tls`].
    #[error(transparent)]
    Proxy(Box<crate::proxy::ProxyError>),
}

/// A call this configuration or state does not support, with what to use
/// instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// `recv` (or the `Stream`) met a piece of a message: with
    /// [`Delivery::Chunks`](crate::Delivery::Chunks) data arrives in pieces.
    #[error("Delivery::Chunks hands out message pieces; read them with recv_chunk or recv_event, or configure Delivery::Messages")]
    RecvWithChunkedDelivery,
    /// An `UpgradeFuture` (`switchboard::upgrade`, feature `hyper`) was
    /// polled again after it had completed.
    #[error("UpgradeFuture polled after it completed; await it once")]
    UpgradeFuturePolledAgain,
}

impl Error {
    /// The close code that describes this error, where one applies: the
    /// protocol core's code for a failed connection (sent to the peer for
    /// protocol and limit errors, 1006 for an abnormal closure, 1011/1001
    /// for keepalive/idle timeouts), 1010 for an unusable extension answer.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Connection(e) => Some(e.close_code()),
            Error::Extension(_) => Some(CloseCode::MANDATORY_EXTENSION),
            _ => None,
        }
    }

    /// Whether this error means the transport ended without a close
    /// handshake (code 1006).
    pub fn is_abnormal_closure(&self) -> bool {
        matches!(self, Error::Connection(proto::Error::AbnormalClosure))
    }
}

impl From<crate::tls::TlsError> for Error {
    fn from(e: crate::tls::TlsError) -> Self {
        Error::Tls(Box::new(e))
    }
}

impl From<crate::proxy::ProxyError> for Error {
    fn from(e: crate::proxy::ProxyError) -> Self {
        Error::Proxy(Box::new(e))
    }
}

impl From<proto::SendError> for Error {
    fn from(e: proto::SendError) -> Self {
        match e {
            proto::SendError::Closed => Error::ConnectionClosed,
            other => Error::Send(other),
        }
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(Box::new(e))
    }
}
