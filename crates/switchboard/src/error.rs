//! The driver's error type, split by cause.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use switchboard_proto::{self as proto, CloseCode, HandshakeError, LimitError, ProtocolError};

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
    Handshake(Duration),
    /// No frame arrived within `Config::pong_timeout` after a keepalive ping.
    Keepalive(Duration),
    /// Nothing arrived for `Config::idle_timeout`.
    Idle(Duration),
    /// The peer did not complete the close handshake within `Config::close_timeout`.
    Close(Duration),
}

impl TimeoutKind {
    /// The configured duration that expired.
    pub fn duration(self) -> Duration {
        match self {
            TimeoutKind::Connect(d)
            | TimeoutKind::Handshake(d)
            | TimeoutKind::Keepalive(d)
            | TimeoutKind::Idle(d)
            | TimeoutKind::Close(d) => d,
        }
    }
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeoutKind::Connect(d) => write!(f, "TCP connect did not finish within {d:?}; check the address or raise the connect timeout"),
            TimeoutKind::Handshake(d) => write!(f, "opening handshake did not finish within {d:?}; the peer is too slow or not a WebSocket endpoint"),
            TimeoutKind::Keepalive(d) => write!(f, "no answer to a keepalive ping within {d:?}; the peer or a proxy on the path is gone, reconnect"),
            TimeoutKind::Idle(d) => write!(f, "nothing received for {d:?} (idle timeout); raise Config::idle_timeout if long silences are expected"),
            TimeoutKind::Close(d) => write!(f, "the peer did not finish the close handshake within {d:?}; the connection was dropped"),
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
    /// The peer broke RFC 6455 (bad framing, masking, opcode, UTF-8 ...).
    ///
    /// Likely cause: a buggy or hostile peer, or a proxy that mangles
    /// frames. The connection has been failed: a close frame with
    /// [`Error::close_code`] (1002 or 1007) was sent and the transport
    /// closed. Nothing local can fix it; log it and reconnect.
    #[error("the peer broke the WebSocket protocol (close code {code}): {0}", code = .0.close_code())]
    Protocol(#[from] ProtocolError),

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

    /// The peer sent a frame or message larger than [`Limits`](crate::Limits)
    /// allow. A close frame with code 1009 was sent.
    ///
    /// Likely cause: the peer sends bigger messages than expected. Raise
    /// `Limits::max_frame_size`/`max_message_size` if the peer is trusted,
    /// or use streaming delivery ([`WebSocket::recv_chunk`](crate::WebSocket::recv_chunk)).
    #[error("size limit exceeded (close code 1009): {0}")]
    LimitExceeded(#[from] LimitError),

    /// A connect, handshake, keepalive, idle or close deadline expired.
    /// The connection is dropped (or was never established); reconnect.
    #[error("timed out: {0}")]
    Timeout(TimeoutKind),

    /// The connection is closed (or closing) and cannot be used for this
    /// operation.
    ///
    /// Likely cause: a send after `close()`, after the peer's close frame,
    /// or after an error. Stop using this socket; open a new one.
    #[error("the WebSocket connection is closed; no more messages can be sent or received, open a new connection")]
    ConnectionClosed,

    /// The transport ended without a close handshake (close code 1006).
    ///
    /// Likely cause: the peer crashed or the network dropped the
    /// connection. Reconnect, ideally with backoff.
    #[error("connection closed abnormally (1006): the transport ended without a close frame; the peer crashed or the network dropped the connection, reconnect")]
    AbnormalClosure,

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
    /// 125 bytes, invalid close code, fragments out of order ...). The
    /// connection is unaffected; fix the call.
    #[error("message not sent: {0}")]
    Send(proto::SendError),

    /// The API was used in a way this configuration does not support; the
    /// message says what to use instead. The connection is unaffected.
    #[error("API misuse: {0}")]
    Misuse(&'static str),

    /// The peer negotiated an extension this endpoint cannot use.
    ///
    /// Likely cause: a buggy server that accepted an extension that was not
    /// offered. The connection was not established.
    #[error("extension negotiation failed: {0}; do not offer or accept this extension")]
    Extension(String),

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

    /// Another failure reported by the protocol core, not covered by the
    /// variants above (newer `switchboard-proto` versions may add kinds).
    /// The connection has ended; the inner error says why. Reconnect.
    #[error("WebSocket connection failed: {0}")]
    Core(proto::Error),
}

impl Error {
    /// The close code that describes this error, where one applies: the code
    /// sent to the peer for protocol and limit errors, 1006 for an abnormal
    /// closure, 1011/1001 for keepalive/idle timeouts.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::LimitExceeded(_) => Some(CloseCode::MESSAGE_TOO_BIG),
            Error::AbnormalClosure => Some(CloseCode::ABNORMAL),
            Error::Timeout(TimeoutKind::Keepalive(_)) => Some(CloseCode::INTERNAL_ERROR),
            Error::Timeout(TimeoutKind::Idle(_)) => Some(CloseCode::GOING_AWAY),
            Error::Timeout(TimeoutKind::Close(_)) => Some(CloseCode::ABNORMAL),
            Error::Extension(_) => Some(CloseCode::MANDATORY_EXTENSION),
            Error::Core(e) => Some(e.close_code()),
            _ => None,
        }
    }

    /// Whether this error means the transport ended without a close
    /// handshake (code 1006).
    pub fn is_abnormal_closure(&self) -> bool {
        matches!(self, Error::AbnormalClosure)
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

impl From<proto::Error> for Error {
    fn from(e: proto::Error) -> Self {
        match e {
            proto::Error::Protocol(e) => Error::Protocol(e),
            proto::Error::Limit(e) => Error::LimitExceeded(e),
            proto::Error::KeepaliveTimeout(d) => Error::Timeout(TimeoutKind::Keepalive(d)),
            proto::Error::IdleTimeout(d) => Error::Timeout(TimeoutKind::Idle(d)),
            proto::Error::CloseTimeout(d) => Error::Timeout(TimeoutKind::Close(d)),
            proto::Error::AbnormalClosure => Error::AbnormalClosure,
            other => Error::Core(other),
        }
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
