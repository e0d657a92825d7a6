//! WebSockets over HTTP/2 (RFC 8441): the extended CONNECT request and its
//! 2xx answer, on both sides, sans-I/O.
//!
//! RFC 8441 §5 keeps everything of RFC 6455 except the opening handshake's
//! HTTP/1.1 mechanics: the request is `:method CONNECT` with
//! `:protocol websocket`, `Sec-WebSocket-Key`/`-Accept`, `Upgrade` and
//! `Connection` are gone, and success is a 2xx status instead of 101.
//! Subprotocols, extensions, `Origin` and `Sec-WebSocket-Version` are
//! negotiated as before, and so they are checked by the same code.
//!
//! The `:protocol` pseudo-header is not an ordinary header: HTTP/2
//! libraries carry it beside the request (hyper's `ext::Protocol`), so it
//! is passed in and out as a string here.

use http::header::{
    CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

use super::client::ClientRequest;
use super::header_values::single;
use super::server::{client_offers, parse_request, ClientOffers, UpgradeRequest};
use super::{ClientOutcome, HandshakeError};
use crate::{ExtensionOffer, Limits};

/// The `:protocol` value that asks for a WebSocket (RFC 8441 §4).
pub const WEBSOCKET_PROTOCOL: &str = "websocket";

impl UpgradeRequest {
    /// Whether a request with this method and `:protocol` asks for a
    /// WebSocket over HTTP/2 (an RFC 8441 extended CONNECT), so a server
    /// can tell it from plain requests on the same route.
    pub fn is_extended_connect(method: &Method, protocol: Option<&str>) -> bool {
        method == Method::CONNECT && protocol.is_some()
    }

    /// Checks an HTTP/2 (or HTTP/3) extended CONNECT request against
    /// RFC 8441 §4 and §5 and collects the offers, as
    /// [`from_request`](Self::from_request) does for HTTP/1.1.
    ///
    /// `protocol` is the request's `:protocol` pseudo-header. The checks:
    /// the method is CONNECT (405), the protocol is `websocket` (400), the
    /// version is HTTP/2 or later (400), `:scheme`, `:authority` and
    /// `:path` are present (400), `Sec-WebSocket-Version` is 13 (426), and
    /// the subprotocol and extension lists are well formed (400). The
    /// [`key`](UpgradeRequest::key) of the result is empty.
    pub fn from_extended_connect(
        request: Request<()>,
        protocol: Option<&str>,
    ) -> Result<Self, HandshakeError> {
        if request.method() != Method::CONNECT {
            return Err(HandshakeError::MethodNotAllowed(request.method().clone()));
        }
        match protocol {
            Some(protocol) if protocol.eq_ignore_ascii_case(WEBSOCKET_PROTOCOL) => {}
            other => {
                return Err(HandshakeError::UnsupportedConnectProtocol(
                    other.map(str::to_owned),
                ))
            }
        }
        if request.version() < Version::HTTP_2 {
            return Err(HandshakeError::UnsupportedHttpVersion(request.version()));
        }
        // RFC 8441 §4: unlike a plain CONNECT, :scheme and :path are sent,
        // and :authority names the origin.
        let uri = request.uri();
        if uri.scheme().is_none() {
            return Err(HandshakeError::IncompleteExtendedConnect(":scheme"));
        }
        if uri.authority().is_none() {
            return Err(HandshakeError::IncompleteExtendedConnect(":authority"));
        }
        if uri
            .path_and_query()
            .is_none_or(|target| target.as_str().is_empty())
        {
            return Err(HandshakeError::IncompleteExtendedConnect(":path"));
        }
        let headers = request.headers();
        match single(headers, &SEC_WEBSOCKET_VERSION) {
            Ok(Some("13")) => {}
            Ok(other) => return Err(HandshakeError::UnsupportedVersion(other.map(str::to_owned))),
            Err(HandshakeError::DuplicateHeader(_)) => {
                return Err(HandshakeError::UnsupportedVersion(None))
            }
            Err(other) => return Err(other),
        }
        let ClientOffers {
            origin,
            subprotocols,
            extensions,
        } = client_offers(headers)?;
        Ok(UpgradeRequest {
            request,
            key: String::new(),
            origin,
            subprotocols,
            extensions,
        })
    }

    /// Builds the `200 OK` answer to an extended CONNECT (RFC 8441 §5):
    /// the chosen subprotocol and extensions, then `extra_headers`.
    ///
    /// The same misuse errors as [`accept`](Self::accept) (status 500).
    pub fn accept_extended_connect(
        &self,
        subprotocol: Option<&str>,
        extensions: &[ExtensionOffer],
        extra_headers: &HeaderMap,
    ) -> Result<Response<()>, HandshakeError> {
        // The negotiation rules are RFC 6455's, so the 101 is built and
        // then stripped of what only the HTTP/1.1 handshake carries.
        let mut response = self.accept(subprotocol, extensions, extra_headers)?;
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        for name in [UPGRADE, CONNECTION, SEC_WEBSOCKET_ACCEPT] {
            headers.remove(name);
        }
        Ok(response)
    }
}

impl ClientRequest {
    /// This request in its RFC 8441 form, for an HTTP/2 connection whose
    /// server sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`: `CONNECT` to
    /// `https://host/path` (`http` for `ws://`), version HTTP/2, with
    /// `Sec-WebSocket-Version`, the offers, `Origin` and the extra headers.
    ///
    /// Send it with `:protocol` set to [`WEBSOCKET_PROTOCOL`] (with hyper:
    /// the `hyper::ext::Protocol` request extension). Errors: the builder
    /// misuse [`validate`](Self::validate) reports.
    pub fn to_extended_connect(&self) -> Result<Request<()>, HandshakeError> {
        let mut request = self.as_http1_request()?;
        let secure = self.uri().scheme_str().is_some_and(|scheme| {
            scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("https")
        });
        let scheme = if secure { "https" } else { "http" };
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |target| target.as_str());
        let uri: Uri = format!("{scheme}://{}{target}", self.host_header())
            .parse()
            .map_err(|_| {
                HandshakeError::InvalidUri("the host and path do not form an HTTP/2 target")
            })?;
        *request.uri_mut() = uri;
        *request.method_mut() = Method::CONNECT;
        *request.version_mut() = Version::HTTP_2;
        let headers = request.headers_mut();
        // :authority replaces Host; the rest belongs to the HTTP/1.1 upgrade.
        for name in [HOST, UPGRADE, CONNECTION, SEC_WEBSOCKET_KEY] {
            headers.remove(name);
        }
        Ok(request)
    }

    /// Checks the answer to [`to_extended_connect`](Self::to_extended_connect):
    /// a 2xx status (RFC 8441 §5; anything else is
    /// [`HandshakeError::UnexpectedStatus`] with an empty body), then a
    /// subprotocol and extensions among those offered.
    pub fn check_extended_connect_response(
        &self,
        response: Response<()>,
    ) -> Result<ClientOutcome, HandshakeError> {
        self.validate()?;
        if !response.status().is_success() {
            let (parts, ()) = response.into_parts();
            return Err(HandshakeError::UnexpectedStatus {
                status: parts.status,
                headers: Box::new(parts.headers),
                body: bytes::Bytes::new(),
            });
        }
        let (subprotocol, extensions) = self.check_negotiation(response.headers())?;
        Ok(ClientOutcome {
            response,
            subprotocol,
            extensions,
        })
    }

    /// The HTTP/1.1 request [`encode`](Self::encode) writes, read back, so
    /// both forms carry exactly the same offers.
    fn as_http1_request(&self) -> Result<Request<()>, HandshakeError> {
        self.validate()?;
        let mut head = Vec::new();
        self.encode(&mut head);
        // The head is our own, so no peer limit applies to it.
        let unbounded = Limits::default()
            .max_header_bytes(head.len().max(1))
            .max_headers(head.len().max(1));
        match parse_request(&head, &unbounded)? {
            Some((request, _)) => Ok(request),
            None => Err(HandshakeError::MalformedHead(httparse::Error::Token)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn connect(uri: &str, headers: &[(&'static str, &'static str)]) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = Method::CONNECT;
        *request.version_mut() = Version::HTTP_2;
        *request.uri_mut() = uri.parse().unwrap();
        for (name, value) in headers {
            request
                .headers_mut()
                .append(*name, HeaderValue::from_static(value));
        }
        request
    }

    #[test]
    fn a_complete_extended_connect_is_accepted_with_its_offers() {
        let request = connect(
            "https://example.com/chat?room=1",
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "chat.v2, chat.v1"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_max_window_bits",
                ),
                ("origin", "https://example.com"),
            ],
        );
        let upgrade = UpgradeRequest::from_extended_connect(request, Some("websocket")).unwrap();
        assert_eq!(upgrade.subprotocols, ["chat.v2", "chat.v1"]);
        assert_eq!(upgrade.extensions[0].name, "permessage-deflate");
        assert_eq!(upgrade.origin.as_deref(), Some("https://example.com"));
        assert!(upgrade.key.is_empty());

        let response = upgrade
            .accept_extended_connect(Some("chat.v1"), &[], &HeaderMap::new())
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
        for absent in ["upgrade", "connection", "sec-websocket-accept"] {
            assert!(response.headers().get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn each_missing_piece_is_its_own_rejection() {
        let version = [("sec-websocket-version", "13")];
        let wrong_method = {
            let mut request = connect("https://example.com/", &version);
            *request.method_mut() = Method::POST;
            request
        };
        assert_eq!(
            UpgradeRequest::from_extended_connect(wrong_method, Some("websocket")).unwrap_err(),
            HandshakeError::MethodNotAllowed(Method::POST)
        );
        let other_protocol = connect("https://example.com/", &version);
        let error = UpgradeRequest::from_extended_connect(other_protocol, Some("webtransport"))
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let no_protocol = connect("https://example.com/", &version);
        assert_eq!(
            UpgradeRequest::from_extended_connect(no_protocol, None).unwrap_err(),
            HandshakeError::UnsupportedConnectProtocol(None)
        );
        let no_scheme = connect("/chat", &version);
        assert_eq!(
            UpgradeRequest::from_extended_connect(no_scheme, Some("websocket")).unwrap_err(),
            HandshakeError::IncompleteExtendedConnect(":scheme")
        );
        let no_version = connect("https://example.com/", &[]);
        let error =
            UpgradeRequest::from_extended_connect(no_version, Some("websocket")).unwrap_err();
        assert_eq!(error.status(), StatusCode::UPGRADE_REQUIRED);
        let old_http = {
            let mut request = connect("https://example.com/", &version);
            *request.version_mut() = Version::HTTP_11;
            request
        };
        assert_eq!(
            UpgradeRequest::from_extended_connect(old_http, Some("websocket")).unwrap_err(),
            HandshakeError::UnsupportedHttpVersion(Version::HTTP_11)
        );
    }

    #[test]
    fn the_client_form_carries_the_offers_and_no_http1_handshake_headers() {
        let uri = "wss://example.com:8443/chat?room=1".parse().unwrap();
        let client = ClientRequest::new(&uri)
            .unwrap()
            .subprotocol("chat.v1")
            .origin("https://example.com");
        let request = client.to_extended_connect().unwrap();
        assert_eq!(request.method(), Method::CONNECT);
        assert_eq!(request.version(), Version::HTTP_2);
        assert_eq!(
            request.uri().to_string(),
            "https://example.com:8443/chat?room=1"
        );
        assert_eq!(request.headers()["sec-websocket-version"], "13");
        assert_eq!(request.headers()["sec-websocket-protocol"], "chat.v1");
        for absent in ["host", "upgrade", "connection", "sec-websocket-key"] {
            assert!(request.headers().get(absent).is_none(), "{absent}");
        }
        // And the server side reads it back as the same offer.
        let upgrade = UpgradeRequest::from_extended_connect(request, Some("websocket")).unwrap();
        let answer = upgrade
            .accept_extended_connect(Some("chat.v1"), &[], &HeaderMap::new())
            .unwrap();
        let outcome = client.check_extended_connect_response(answer).unwrap();
        assert_eq!(outcome.subprotocol.as_deref(), Some("chat.v1"));
    }

    #[test]
    fn the_client_refuses_other_statuses_and_unoffered_choices() {
        let uri = "wss://example.com/".parse().unwrap();
        let client = ClientRequest::new(&uri).unwrap().subprotocol("chat.v1");
        let mut refused = Response::new(());
        *refused.status_mut() = StatusCode::FORBIDDEN;
        assert!(matches!(
            client.check_extended_connect_response(refused),
            Err(HandshakeError::UnexpectedStatus {
                status: StatusCode::FORBIDDEN,
                ..
            })
        ));
        let mut unoffered = Response::new(());
        unoffered
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("other"));
        assert!(matches!(
            client.check_extended_connect_response(unoffered),
            Err(HandshakeError::SubprotocolNotOffered { .. })
        ));
    }
}
