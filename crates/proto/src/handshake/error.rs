//! Typed handshake failures and the HTTP rejection a server sends for each.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};

/// Why an opening handshake failed.
///
/// The variants are grouped by cause:
/// - the head could not be read at all (too large, too many headers, not HTTP);
/// - a client's request broke RFC 6455 §4.2.1 (a server answers with
///   [`HandshakeError::to_response`]);
/// - a server's response broke RFC 6455 §4.1 (the client fails the connection);
/// - local misuse of the API (a bug in the calling code, not in the peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    // ------------------------------------------------------------ reading the head
    /// The head (request or status line, headers and blank line) is larger
    /// than `Limits::max_header_bytes`. Usually oversized cookies, or a peer
    /// that is flooding headers.
    #[error("HTTP head exceeds {max} bytes; raise Limits::max_header_bytes if large cookies or tokens are expected")]
    HeadTooLarge {
        /// The configured limit.
        max: usize,
    },
    /// The head has more header lines than `Limits::max_headers`.
    #[error("HTTP head has more than {max} header lines; raise Limits::max_headers if the peer is trusted")]
    TooManyHeaders {
        /// The limit that was in force.
        max: usize,
    },
    /// The bytes are not an HTTP/1.x head. The peer speaks another protocol
    /// (TLS to a plain port, HTTP/2 prior knowledge, a port scanner).
    #[error("malformed HTTP head ({0}); check that the peer speaks HTTP/1.1 and that TLS is used on both sides or neither")]
    MalformedHead(#[source] httparse::Error),
    /// The request target is not a valid URI.
    #[error("request target is not a valid URI; the client must send an origin-form path such as /chat?room=1")]
    InvalidRequestTarget,
    /// A response status code outside 100..=999.
    #[error(
        "response status code {0} is not a valid HTTP status; the server is not speaking HTTP/1.1"
    )]
    InvalidStatusCode(u16),
    /// A header value that is not valid text (control characters, or bytes
    /// that are not UTF-8 in a header this handshake reads).
    #[error("header {name} has a value that is not visible ASCII or UTF-8 text; fix the peer that sends it")]
    InvalidHeaderValue {
        /// The header whose value was rejected.
        name: HeaderName,
    },
    /// A header that must appear at most once appeared several times.
    #[error("header {0} appears more than once; the peer must send it exactly once")]
    DuplicateHeader(HeaderName),

    // ------------------------------------------------------------ server: request checks
    /// The request method is not GET (RFC 6455 §4.2.1 item 1). Answered with
    /// 405 and `Allow: GET`.
    #[error("method {0} cannot open a WebSocket; the opening handshake must be a GET request")]
    MethodNotAllowed(Method),
    /// The request is older than HTTP/1.1 (RFC 6455 §4.2.1 item 1).
    #[error(
        "{0:?} cannot upgrade to WebSocket; the client (or a proxy on the path) must use HTTP/1.1"
    )]
    UnsupportedHttpVersion(Version),
    /// No `Host` header (RFC 6455 §4.2.1 item 2).
    #[error("request has no Host header; HTTP/1.1 clients must send one")]
    MissingHost,
    /// No `Upgrade` header containing `websocket` (RFC 6455 §4.2.1 item 3).
    /// Answered with 426 so plain HTTP clients learn the endpoint is WebSocket only.
    #[error("request does not ask for a WebSocket upgrade (no `Upgrade: websocket`); connect with a WebSocket client")]
    NotWebSocketUpgrade,
    /// No `Connection` header containing `upgrade` (RFC 6455 §4.2.1 item 4).
    /// Often a proxy that strips hop-by-hop headers.
    #[error("request lacks `Connection: Upgrade`; if a proxy sits in front, configure it to forward Upgrade and Connection")]
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` header (RFC 6455 §4.2.1 item 5).
    #[error(
        "request has no Sec-WebSocket-Key header; the client must send a random base64 16-byte key"
    )]
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of exactly 16 bytes (RFC 6455 §4.2.1 item 5).
    #[error("Sec-WebSocket-Key is not the base64 encoding of 16 bytes; the client must send a fresh 24-character key")]
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13 (RFC 6455 §4.2.1 item 6).
    /// Answered with 426 and `Sec-WebSocket-Version: 13`.
    #[error("unsupported WebSocket version {}; only version 13 (RFC 6455) is supported", .0.as_deref().unwrap_or("(none)"))]
    UnsupportedVersion(Option<String>),
    /// `Sec-WebSocket-Protocol` is not a comma-separated list of tokens.
    #[error("Sec-WebSocket-Protocol is not a comma-separated list of tokens; subprotocol names must be non-empty and contain no separators")]
    InvalidSubprotocols,
    /// `Sec-WebSocket-Extensions` does not follow the RFC 6455 §9.1 grammar.
    #[error("malformed Sec-WebSocket-Extensions at byte {position}: {reason}; the peer must send `name; param=value, name2`")]
    InvalidExtensions {
        /// What the parser expected.
        reason: &'static str,
        /// Byte offset in the (joined) header value.
        position: usize,
    },

    // ------------------------------------------------------------ client: response checks
    /// The server answered with something other than 101 Switching Protocols
    /// (a redirect, an authentication challenge, a 426 with the versions it
    /// supports, an error page). The status, headers and the body bytes that
    /// had arrived are kept so the caller can act on them.
    #[error("server answered {status} instead of 101 Switching Protocols; inspect the status, headers and body (redirect, authentication or a wrong URL)")]
    UnexpectedStatus {
        /// The status the server sent.
        status: StatusCode,
        /// The response headers (boxed to keep the error small).
        headers: Box<HeaderMap>,
        /// Body bytes that followed the head in the buffer (at most
        /// `Content-Length` and at most `Limits::max_header_bytes`).
        body: Bytes,
    },
    /// A 101 response without `Upgrade: websocket` (RFC 6455 §4.1).
    #[error("server's 101 response lacks `Upgrade: websocket`; the server or a proxy did not switch to WebSocket")]
    ResponseMissingUpgrade,
    /// A 101 response without `Connection: Upgrade` (RFC 6455 §4.1).
    #[error("server's 101 response lacks `Connection: Upgrade`; the server or a proxy did not switch to WebSocket")]
    ResponseMissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match the key we sent
    /// (RFC 6455 §4.1). A caching proxy or a server that is not WebSocket aware.
    #[error("Sec-WebSocket-Accept is {}, expected {expected}; a proxy answered for the server or the server is broken", .received.as_deref().unwrap_or("missing"))]
    AcceptMismatch {
        /// The value derived from our key.
        expected: String,
        /// What the server sent, if anything.
        received: Option<String>,
    },
    /// The server selected a subprotocol we did not offer (RFC 6455 §4.1).
    #[error("server selected subprotocol {protocol:?} which was not offered; offer it with ClientRequest::subprotocol or fix the server")]
    SubprotocolNotOffered {
        /// The subprotocol the server named.
        protocol: String,
    },
    /// The server accepted an extension we did not offer (RFC 6455 §4.1).
    #[error("server accepted extension {name:?} which was not offered; fix the server's extension negotiation")]
    ExtensionNotOffered {
        /// The extension the server named.
        name: String,
    },

    // ------------------------------------------------------------ local misuse
    /// [`ClientRequest::new`](super::ClientRequest::new) got a URI it cannot use.
    #[error("cannot open a WebSocket to this URI: {0}; use ws://host[:port]/path or wss://host[:port]/path")]
    InvalidUri(&'static str),
    /// A subprotocol given to the client builder is not a token, or is repeated
    /// (RFC 6455 §4.1 requires unique tokens).
    #[error("subprotocol {0:?} cannot be offered: subprotocols must be unique, non-empty and contain only token characters")]
    InvalidSubprotocol(String),
    /// An extension given to the client builder or to
    /// [`UpgradeRequest::accept`](super::UpgradeRequest::accept) cannot be
    /// written as RFC 6455 §9.1 header text (names and values must be tokens).
    #[error("extension {name:?} cannot be sent: {reason}")]
    InvalidExtensionOffer {
        /// The extension's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `Origin` given to the client builder is not a valid header value.
    #[error("origin {0:?} is not a valid header value; pass an ASCII serialisation such as https://example.com")]
    InvalidOrigin(String),
    /// An extra header names a header the handshake writes itself.
    #[error("header {0} is written by the handshake itself; use the builder method for it instead of an extra header")]
    ReservedHeader(HeaderName),
    /// [`UpgradeRequest::accept`](super::UpgradeRequest::accept) was given a
    /// subprotocol the client did not offer.
    #[error("cannot accept subprotocol {0:?}: the client did not offer it; pick one from UpgradeRequest::subprotocols or none")]
    AcceptSubprotocolNotOffered(String),
    /// [`UpgradeRequest::accept`](super::UpgradeRequest::accept) was given an
    /// extension the client did not offer.
    #[error("cannot accept extension {0:?}: the client did not offer it; answer only extensions from UpgradeRequest::extensions")]
    AcceptExtensionNotOffered(String),
    /// The operating system's random number generator failed, so no
    /// handshake key could be made.
    #[error("the OS random number generator failed ({0}); the handshake key must be random, check the sandbox or /dev/urandom")]
    RandomUnavailable(getrandom::Error),

    // ------------------------------------------------- RFC 8441 extended CONNECT
    /// An HTTP/2 extended CONNECT request (RFC 8441 §4) lacks one of the
    /// pseudo-headers a WebSocket needs (`:scheme`, `:path`, `:authority`).
    #[error("extended CONNECT request has no {0}; RFC 8441 §4 requires :scheme, :path and :authority, fix the client")]
    IncompleteExtendedConnect(&'static str),
    /// An HTTP/2 CONNECT request names no `:protocol`, or one other than
    /// `websocket`.
    #[error("CONNECT request asks for protocol {}, not websocket; open the WebSocket with `:protocol websocket` (RFC 8441 §4)", .0.as_deref().unwrap_or("(none)"))]
    UnsupportedConnectProtocol(Option<String>),
}

impl HandshakeError {
    /// The HTTP status a server answers with for this error.
    ///
    /// Request problems map to 400, 405, 426 or 431. Errors only a client
    /// can see (a bad server response) map to 502 Bad Gateway, the answer a
    /// proxy gives for a broken upstream; local misuse maps to 500.
    pub fn status(&self) -> StatusCode {
        use HandshakeError::*;
        match self {
            HeadTooLarge { .. } | TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            MalformedHead(_)
            | InvalidRequestTarget
            | InvalidHeaderValue { .. }
            | DuplicateHeader(_)
            | UnsupportedHttpVersion(_)
            | MissingHost
            | MissingConnectionUpgrade
            | MissingKey
            | InvalidKey
            | InvalidSubprotocols
            | InvalidExtensions { .. }
            | IncompleteExtendedConnect(_)
            | UnsupportedConnectProtocol(_) => StatusCode::BAD_REQUEST,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            NotWebSocketUpgrade | UnsupportedVersion(_) => StatusCode::UPGRADE_REQUIRED,
            InvalidStatusCode(_)
            | UnexpectedStatus { .. }
            | ResponseMissingUpgrade
            | ResponseMissingConnectionUpgrade
            | AcceptMismatch { .. }
            | SubprotocolNotOffered { .. }
            | ExtensionNotOffered { .. } => StatusCode::BAD_GATEWAY,
            InvalidUri(_)
            | InvalidSubprotocol(_)
            | InvalidExtensionOffer { .. }
            | InvalidOrigin(_)
            | ReservedHeader(_)
            | AcceptSubprotocolNotOffered(_)
            | AcceptExtensionNotOffered(_)
            | RandomUnavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The complete HTTP rejection a server sends for this error: the
    /// [`status`](Self::status), `Connection: close`, `Allow: GET` on 405,
    /// `Upgrade: websocket` and `Sec-WebSocket-Version: 13` on 426, and a
    /// one-line text body with the error message.
    ///
    /// Serialise it with [`encode_response`](super::encode_response).
    pub fn to_response(&self) -> (Response<()>, Bytes) {
        let body = Bytes::from(format!("{self}\n"));
        let status = self.status();
        let mut response = Response::new(());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        if status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
        }
        if status == StatusCode::UPGRADE_REQUIRED {
            // RFC 7231 §6.5.15: a 426 response MUST carry an Upgrade header.
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            // RFC 6455 §4.2.1 item 6: tell the client which version we speak.
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        (response, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rejection_is_426_with_supported_version() {
        let (response, body) = HandshakeError::UnsupportedVersion(Some("8".into())).to_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert_eq!(response.headers()["upgrade"], "websocket");
        assert_eq!(response.headers()["connection"], "close");
        assert!(std::str::from_utf8(&body).unwrap().contains("version 8"));
        assert_eq!(
            response.headers()["content-length"],
            body.len().to_string().as_str()
        );
    }

    #[test]
    fn method_rejection_is_405_with_allow_get() {
        let (response, _) = HandshakeError::MethodNotAllowed(Method::POST).to_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "GET");
        assert!(response.headers().get("sec-websocket-version").is_none());
    }

    #[test]
    fn limit_errors_are_431_and_request_errors_400() {
        assert_eq!(
            HandshakeError::HeadTooLarge { max: 1 }.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert_eq!(
            HandshakeError::TooManyHeaders { max: 1 }.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert_eq!(
            HandshakeError::MissingHost.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(HandshakeError::InvalidKey.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            HandshakeError::NotWebSocketUpgrade.status(),
            StatusCode::UPGRADE_REQUIRED
        );
        let (response, _) = HandshakeError::MissingHost.to_response();
        assert!(response.headers().get("allow").is_none());
        assert!(response.headers().get("sec-websocket-version").is_none());
    }
}
