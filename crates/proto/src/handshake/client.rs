//! The client side: writing the opening request (RFC 6455 §4.1) and
//! checking the server's answer.

use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_LENGTH, HOST, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS,
    SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Uri, Version};

use super::extensions_header::{format_offers, parse_extensions, validate_offer};
use super::header_values::{contains_token, is_token, joined, single};
use super::http_head::{head_length, header_map, header_slots, window, write_header};
use super::key::{accept_key, try_generate_key};
use super::HandshakeError;
use crate::{ExtensionOffer, Limits};

/// Headers the request writes itself; extra headers may not repeat them.
const REQUEST_RESERVED: [HeaderName; 8] = [
    HOST,
    UPGRADE,
    CONNECTION,
    SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION,
    SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_EXTENSIONS,
    ORIGIN,
];

/// The client's opening request (RFC 6455 §4.1), built in steps:
///
/// ```
/// use switchboard_proto::handshake::ClientRequest;
/// use switchboard_proto::ExtensionOffer;
///
/// let uri = "wss://chat.example.com/room?id=7".parse().unwrap();
/// let request = ClientRequest::new(&uri)?
///     .origin("https://chat.example.com")
///     .subprotocol("chat")
///     .extension(ExtensionOffer::new("permessage-deflate"));
/// let mut out = Vec::new();
/// request.encode(&mut out);
/// assert!(out.starts_with(b"GET /room?id=7 HTTP/1.1\r\nHost: chat.example.com\r\n"));
/// # Ok::<(), switchboard_proto::HandshakeError>(())
/// ```
///
/// The builder methods cannot fail, so a value that cannot be sent (a
/// subprotocol that is not a token, an origin with control characters, an
/// extra header the handshake writes itself) is left out of
/// [`encode`](Self::encode) and reported by [`validate`](Self::validate) and
/// by [`parse_response`](Self::parse_response). Nothing invalid ever
/// reaches the wire.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    uri: Uri,
    host: String,
    target: String,
    key: String,
    origin: Option<String>,
    subprotocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    extra_headers: HeaderMap,
    /// The first builder misuse, reported before the response is looked at.
    misuse: Option<HandshakeError>,
}

/// What a successful handshake agreed on.
#[derive(Debug, Clone)]
pub struct ClientOutcome {
    /// The server's 101 response.
    pub response: Response<()>,
    /// The subprotocol the server selected, one of those offered.
    pub subprotocol: Option<String>,
    /// What the server accepted, parsed. Every name was offered; the caller
    /// (e.g. permessage-deflate negotiation) validates the parameters.
    pub extensions: Vec<ExtensionOffer>,
}

impl ClientRequest {
    /// A request for `uri` (`ws://`, `wss://`, `http://` or `https://`, with
    /// a host; the path defaults to `/`) with a fresh random key.
    ///
    /// The fragment is ignored (RFC 6455 §3 forbids it; [`http::Uri`] drops
    /// it when parsing). User information in the authority is not sent.
    pub fn new(uri: &Uri) -> Result<Self, HandshakeError> {
        let default_port = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("ws") => 80,
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => 80,
            Some(scheme) if scheme.eq_ignore_ascii_case("wss") => 443,
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => 443,
            Some(_) => return Err(HandshakeError::InvalidUri("the scheme must be ws or wss")),
            None => return Err(HandshakeError::InvalidUri("the URI has no scheme")),
        };
        let host = match uri.host() {
            Some(host) if !host.is_empty() => host,
            _ => return Err(HandshakeError::InvalidUri("the URI has no host")),
        };
        let host = match uri.port_u16() {
            Some(port) if port != default_port => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        let path = match uri.path() {
            "" => "/",
            path => path,
        };
        let target = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        Ok(ClientRequest {
            uri: uri.clone(),
            host,
            target,
            key: try_generate_key()?,
            origin: None,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            extra_headers: HeaderMap::new(),
            misuse: None,
        })
    }

    /// Sends `Origin` (RFC 6455 §4.1 item 8; browsers always do, servers
    /// may check it). Calling it again replaces the value.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        if HeaderValue::from_str(&origin).is_err() {
            self.record(HandshakeError::InvalidOrigin(origin.clone()));
        }
        self.origin = Some(origin);
        self
    }

    /// Offers a subprotocol. Call once per protocol, most preferred first;
    /// each must be a token and unique (RFC 6455 §4.1 item 10).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        let protocol = protocol.into();
        if !is_token(&protocol) || self.subprotocols.contains(&protocol) {
            self.record(HandshakeError::InvalidSubprotocol(protocol.clone()));
        }
        self.subprotocols.push(protocol);
        self
    }

    /// Offers an extension (RFC 6455 §9.1). Call once per offer, most
    /// preferred first; the same extension may be offered several times
    /// with different parameters.
    pub fn extension(mut self, offer: ExtensionOffer) -> Self {
        if let Err(error) = validate_offer(&offer) {
            self.record(error);
        }
        self.extensions.push(offer);
        self
    }

    /// Adds an extra header line, such as `Authorization`, `Cookie` or
    /// `User-Agent`. Headers the handshake writes itself (`Host`, `Upgrade`,
    /// `Connection`, `Origin`, `Sec-WebSocket-*`) are refused: use the
    /// builder methods for those.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        if REQUEST_RESERVED.contains(&name) {
            self.record(HandshakeError::ReservedHeader(name.clone()));
        }
        self.extra_headers.append(name, value);
        self
    }

    /// The `Sec-WebSocket-Key` this request sends.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The URI given to [`ClientRequest::new`].
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The `Host` header value: `host[:port]`, the port left out when it is
    /// the scheme's default (80 for ws/http, 443 for wss/https).
    pub fn host_header(&self) -> String {
        self.host.clone()
    }

    /// Reports the first value given to the builder that cannot be sent
    /// (and is therefore left out of [`encode`](Self::encode)).
    pub fn validate(&self) -> Result<(), HandshakeError> {
        match &self.misuse {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Appends the request head to `out`: request line, `Host`, `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, then
    /// `Origin`, `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions` and the
    /// extra headers when set, and the blank line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_header(out, "Host", self.host.as_bytes());
        write_header(out, "Upgrade", b"websocket");
        write_header(out, "Connection", b"Upgrade");
        write_header(out, "Sec-WebSocket-Key", self.key.as_bytes());
        write_header(out, "Sec-WebSocket-Version", b"13");
        if let Some(origin) = self
            .origin
            .as_deref()
            .filter(|origin| HeaderValue::from_str(origin).is_ok())
        {
            write_header(out, "Origin", origin.as_bytes());
        }
        let protocols = self.sendable_subprotocols();
        if !protocols.is_empty() {
            write_header(
                out,
                "Sec-WebSocket-Protocol",
                protocols.join(", ").as_bytes(),
            );
        }
        let offers: Vec<&ExtensionOffer> = self
            .extensions
            .iter()
            .filter(|offer| validate_offer(offer).is_ok())
            .collect();
        if !offers.is_empty() {
            write_header(
                out,
                "Sec-WebSocket-Extensions",
                format_offers(offers).as_bytes(),
            );
        }
        for (name, value) in &self.extra_headers {
            if !REQUEST_RESERVED.contains(name) {
                write_header(out, name.as_str(), value.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Parses and checks the server's response head at the start of `buf`
    /// (which may hold only part of it, or more).
    ///
    /// `Ok(None)`: the head is not complete and `buf` is still within
    /// `Limits::max_header_bytes`. `Ok(Some((outcome, consumed)))`: the
    /// first `consumed` bytes were the head; what follows is WebSocket data.
    ///
    /// Errors: a builder misuse (see [`validate`](Self::validate)), a status
    /// other than 101 ([`HandshakeError::UnexpectedStatus`] with the status,
    /// headers and body bytes at hand), missing `Upgrade: websocket` or
    /// `Connection: Upgrade`, a wrong `Sec-WebSocket-Accept`, a subprotocol or
    /// extension that was not offered, a head too large or with too many
    /// headers, malformed HTTP.
    pub fn parse_response(
        &self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(ClientOutcome, usize)>, HandshakeError> {
        self.validate()?;
        let mut slots = header_slots(limits);
        let slot_count = slots.len();
        let mut parsed = httparse::Response::new(&mut slots);
        let outcome = parsed.parse(window(buf, limits));
        let Some(consumed) = head_length(outcome, buf.len(), slot_count, limits)? else {
            return Ok(None);
        };
        let (Some(minor), Some(code)) = (parsed.version, parsed.code) else {
            return Err(HandshakeError::MalformedHead(httparse::Error::Status));
        };
        let status =
            StatusCode::from_u16(code).map_err(|_| HandshakeError::InvalidStatusCode(code))?;
        let headers = header_map(parsed.headers)?;

        // RFC 6455 §4.1: any status other than 101 is handled as plain HTTP.
        if status != StatusCode::SWITCHING_PROTOCOLS {
            let body = leading_body(&headers, &buf[consumed..], limits);
            return Err(HandshakeError::UnexpectedStatus {
                status,
                headers: Box::new(headers),
                body,
            });
        }
        let mut response = Response::new(());
        *response.status_mut() = status;
        *response.version_mut() = if minor == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        *response.headers_mut() = headers;
        let (subprotocol, extensions) = self.check_upgrade(response.headers())?;
        Ok(Some((
            ClientOutcome {
                response,
                subprotocol,
                extensions,
            },
            consumed,
        )))
    }

    /// The RFC 6455 §4.1 checks of a 101 response's headers.
    fn check_upgrade(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Option<String>, Vec<ExtensionOffer>), HandshakeError> {
        // RFC 6455 §4.1 item 2: Upgrade must be "websocket" (case-insensitive).
        if !contains_token(headers, &UPGRADE, "websocket")? {
            return Err(HandshakeError::ResponseMissingUpgrade);
        }
        // RFC 6455 §4.1 item 3: Connection must hold "Upgrade" (case-insensitive).
        if !contains_token(headers, &CONNECTION, "upgrade")? {
            return Err(HandshakeError::ResponseMissingConnectionUpgrade);
        }
        // RFC 6455 §4.1 item 4: Sec-WebSocket-Accept is base64(SHA-1(key ++ GUID)).
        let expected = accept_key(self.key.as_bytes());
        let received = single(headers, &SEC_WEBSOCKET_ACCEPT)?;
        if received != Some(expected.as_str()) {
            return Err(HandshakeError::AcceptMismatch {
                received: received.map(str::to_owned),
                expected,
            });
        }
        self.check_negotiation(headers)
    }

    /// The subprotocol and extension checks a successful answer passes
    /// over HTTP/1.1 (RFC 6455 §4.1) and HTTP/2 (RFC 8441 §5) alike.
    pub(super) fn check_negotiation(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Option<String>, Vec<ExtensionOffer>), HandshakeError> {
        // RFC 6455 §4.1 item 6: a subprotocol must be one we offered (none
        // may be named when we offered none).
        // An empty value names no subprotocol (RFC 7230 §7 reading, the same
        // leniency the server applies to an empty offer list).
        let subprotocol = match single(headers, &SEC_WEBSOCKET_PROTOCOL)? {
            None | Some("") => None,
            Some(protocol) if self.sendable_subprotocols().contains(&protocol) => {
                Some(protocol.to_owned())
            }
            Some(protocol) => {
                return Err(HandshakeError::SubprotocolNotOffered {
                    protocol: protocol.to_owned(),
                })
            }
        };
        // RFC 6455 §4.1 item 5: every extension must be one we offered.
        let extensions = match joined(headers, &SEC_WEBSOCKET_EXTENSIONS)? {
            None => Vec::new(),
            Some(list) => parse_extensions(&list)?,
        };
        for extension in &extensions {
            let offered = self
                .extensions
                .iter()
                .any(|offer| offer.name == extension.name && validate_offer(offer).is_ok());
            if !offered {
                return Err(HandshakeError::ExtensionNotOffered {
                    name: extension.name.clone(),
                });
            }
        }
        Ok((subprotocol, extensions))
    }

    /// The subprotocols that [`encode`](Self::encode) writes: valid tokens,
    /// first occurrence only.
    fn sendable_subprotocols(&self) -> Vec<&str> {
        let mut sendable: Vec<&str> = Vec::with_capacity(self.subprotocols.len());
        for protocol in &self.subprotocols {
            if is_token(protocol) && !sendable.contains(&protocol.as_str()) {
                sendable.push(protocol);
            }
        }
        sendable
    }

    fn record(&mut self, error: HandshakeError) {
        self.misuse.get_or_insert(error);
    }
}

/// The body bytes of a rejection that are already in the buffer: at most
/// `Content-Length` of them and at most `Limits::max_header_bytes`, so a
/// hostile server cannot make the error hold more than the head limit.
fn leading_body(headers: &HeaderMap, after_head: &[u8], limits: &Limits) -> Bytes {
    let declared = single(headers, &CONTENT_LENGTH)
        .ok()
        .flatten()
        .and_then(|length| length.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let len = after_head.len().min(declared).min(limits.max_header_bytes);
    Bytes::copy_from_slice(&after_head[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> ClientRequest {
        ClientRequest::new(&uri.parse().unwrap()).unwrap()
    }

    fn encoded(request: &ClientRequest) -> String {
        let mut out = Vec::new();
        request.encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// A 101 answer to `request` with `extra` header lines.
    fn answer(request: &ClientRequest, extra: &[&str]) -> Vec<u8> {
        let mut text = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            accept_key(request.key().as_bytes())
        );
        for line in extra {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        text.into_bytes()
    }

    fn outcome(request: &ClientRequest, bytes: &[u8]) -> Result<ClientOutcome, HandshakeError> {
        let (outcome, consumed) = request
            .parse_response(bytes, &Limits::default())?
            .expect("complete response");
        assert_eq!(consumed, bytes.len());
        Ok(outcome)
    }

    #[test]
    fn request_has_every_required_header_in_order() {
        let request = request("ws://example.com/chat?x=1");
        assert_eq!(
            encoded(&request),
            format!(
                "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
                request.key()
            )
        );
    }

    #[test]
    fn optional_headers_follow_in_order() {
        let request = request("wss://example.com")
            .origin("https://example.com")
            .subprotocol("chat")
            .subprotocol("superchat")
            .extension(
                ExtensionOffer::new("permessage-deflate")
                    .with_param("client_max_window_bits", None::<String>),
            )
            .extension(ExtensionOffer::new("permessage-deflate"))
            .header(
                HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer t"),
            );
        request.validate().unwrap();
        let text = encoded(&request);
        assert!(
            text.starts_with("GET / HTTP/1.1\r\nHost: example.com\r\n"),
            "{text}"
        );
        assert!(text.ends_with(
            "Sec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n\
             authorization: Bearer t\r\n\r\n"
        ), "{text}");
    }

    #[test]
    fn keys_are_fresh_per_request() {
        let first = request("ws://a/");
        let second = request("ws://a/");
        assert_ne!(first.key(), second.key());
        assert!(super::super::key::is_valid_client_key(first.key()));
    }

    #[test]
    fn host_header_omits_default_ports_only() {
        assert_eq!(request("ws://a.example").host_header(), "a.example");
        assert_eq!(request("ws://a.example:80").host_header(), "a.example");
        assert_eq!(request("ws://a.example:443").host_header(), "a.example:443");
        assert_eq!(request("wss://a.example:443").host_header(), "a.example");
        assert_eq!(
            request("wss://a.example:8443").host_header(),
            "a.example:8443"
        );
        assert_eq!(request("https://a.example").host_header(), "a.example");
        assert_eq!(
            request("http://a.example:8080").host_header(),
            "a.example:8080"
        );
        assert_eq!(request("ws://[::1]:9001/").host_header(), "[::1]:9001");
        assert_eq!(
            request("ws://user:pw@a.example/").host_header(),
            "a.example"
        );
    }

    #[test]
    fn target_defaults_to_slash_and_keeps_query() {
        assert!(encoded(&request("ws://a")).starts_with("GET / HTTP/1.1\r\n"));
        assert!(encoded(&request("ws://a?q=1")).starts_with("GET /?q=1 HTTP/1.1\r\n"));
        assert!(encoded(&request("WSS://a/x/y")).starts_with("GET /x/y HTTP/1.1\r\n"));
    }

    #[test]
    fn unusable_uris_are_refused() {
        for uri in ["ftp://a/", "/relative", "a.example:80"] {
            let uri: Uri = uri.parse().unwrap();
            assert!(
                matches!(ClientRequest::new(&uri), Err(HandshakeError::InvalidUri(_))),
                "{uri}"
            );
        }
    }

    #[test]
    fn invalid_builder_values_are_not_sent_and_are_reported() {
        let cases = [
            (request("ws://a").subprotocol("two words"), "two words"),
            (
                request("ws://a").subprotocol("chat").subprotocol("chat"),
                "Sec-WebSocket-Protocol: chat\r\n",
            ),
            (
                request("ws://a").origin("http://a\r\nInjected: yes"),
                "Injected",
            ),
            (
                request("ws://a")
                    .extension(ExtensionOffer::new("x").with_param("p", Some("a\r\nInjected: 1"))),
                "Injected",
            ),
            (
                request("ws://a").header(SEC_WEBSOCKET_KEY, HeaderValue::from_static("forged")),
                "forged",
            ),
        ];
        for (request, marker) in cases {
            let error = request.validate().unwrap_err();
            assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let text = encoded(&request);
            if marker.ends_with("\r\n") {
                // A duplicate is sent once.
                assert_eq!(text.matches(marker).count(), 1, "{text}");
            } else {
                assert!(!text.contains(marker), "{text}");
            }
            assert_eq!(
                request
                    .parse_response(&answer(&request, &[]), &Limits::default())
                    .unwrap_err(),
                error
            );
        }
    }

    #[test]
    fn valid_answer_is_accepted_with_trailing_frames_left() {
        let request = request("ws://a").subprotocol("chat");
        let mut bytes = answer(&request, &["Sec-WebSocket-Protocol: chat"]);
        let head_len = bytes.len();
        bytes.extend_from_slice(b"\x81\x02hi");
        let (outcome, consumed) = request
            .parse_response(&bytes, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(consumed, head_len);
        assert_eq!(outcome.subprotocol.as_deref(), Some("chat"));
        assert_eq!(outcome.response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert!(outcome.extensions.is_empty());
    }

    #[test]
    fn known_answer_for_the_rfc_sample_key() {
        let mut request = request("ws://server.example.com/chat");
        request.key = "dGhlIHNhbXBsZSBub25jZQ==".into();
        let bytes = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(outcome(&request, bytes).is_ok());
    }

    #[test]
    fn non_101_status_is_returned_with_headers_and_body() {
        let request = request("ws://a");
        let bytes =
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 5\r\n\r\nmovedEXTRA";
        match request.parse_response(bytes, &Limits::default()) {
            Err(HandshakeError::UnexpectedStatus {
                status,
                headers,
                body,
            }) => {
                assert_eq!(status, StatusCode::FOUND);
                assert_eq!(headers["location"], "/elsewhere");
                assert_eq!(body, Bytes::from_static(b"moved"));
            }
            other => panic!("{other:?}"),
        }
        let bytes = b"HTTP/1.1 200 OK\r\n\r\nthis body is longer than the head limit";
        match request.parse_response(bytes, &Limits::default().max_header_bytes(21)) {
            Err(HandshakeError::UnexpectedStatus { status, body, .. }) => {
                assert_eq!(status, StatusCode::OK);
                // Without Content-Length the copy is bounded by the head limit.
                assert_eq!(body, Bytes::from_static(b"this body is longer t"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_or_wrong_upgrade_is_refused() {
        let request = request("ws://a");
        let accept = accept_key(request.key().as_bytes());
        for upgrade in ["", "Upgrade: h2c\r\n", "Upgrade: websockets\r\n"] {
            let bytes = format!(
                "HTTP/1.1 101 Switching Protocols\r\n{upgrade}Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            assert_eq!(
                outcome(&request, bytes.as_bytes()).unwrap_err(),
                HandshakeError::ResponseMissingUpgrade
            );
        }
        let bytes = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert!(
            outcome(&request, bytes.as_bytes()).is_ok(),
            "case-insensitive tokens"
        );
    }

    #[test]
    fn missing_or_wrong_connection_is_refused() {
        let request = request("ws://a");
        let accept = accept_key(request.key().as_bytes());
        for connection in ["", "Connection: keep-alive\r\n", "Connection: close\r\n"] {
            let bytes = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n{connection}Sec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            assert_eq!(
                outcome(&request, bytes.as_bytes()).unwrap_err(),
                HandshakeError::ResponseMissingConnectionUpgrade
            );
        }
    }

    #[test]
    fn wrong_or_missing_accept_is_refused() {
        let request = request("ws://a");
        let expected = accept_key(request.key().as_bytes());
        let wrong = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(
            outcome(&request, wrong).unwrap_err(),
            HandshakeError::AcceptMismatch {
                expected: expected.clone(),
                received: Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into())
            }
        );
        let missing = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(
            outcome(&request, missing).unwrap_err(),
            HandshakeError::AcceptMismatch {
                expected: expected.clone(),
                received: None
            }
        );
        let twice = answer(&request, &[&format!("Sec-WebSocket-Accept: {expected}")]);
        assert_eq!(
            outcome(&request, &twice).unwrap_err(),
            HandshakeError::DuplicateHeader(SEC_WEBSOCKET_ACCEPT)
        );
    }

    #[test]
    fn subprotocol_must_have_been_offered() {
        let none_offered = request("ws://a");
        assert_eq!(
            outcome(
                &none_offered,
                &answer(&none_offered, &["Sec-WebSocket-Protocol: chat"])
            )
            .unwrap_err(),
            HandshakeError::SubprotocolNotOffered {
                protocol: "chat".into()
            }
        );
        let offered = request("ws://a")
            .subprotocol("chat")
            .subprotocol("superchat");
        assert_eq!(
            outcome(
                &offered,
                &answer(&offered, &["Sec-WebSocket-Protocol: mqtt"])
            )
            .unwrap_err(),
            HandshakeError::SubprotocolNotOffered {
                protocol: "mqtt".into()
            }
        );
        assert_eq!(
            outcome(
                &offered,
                &answer(&offered, &["Sec-WebSocket-Protocol: chat, superchat"])
            )
            .unwrap_err(),
            HandshakeError::SubprotocolNotOffered {
                protocol: "chat, superchat".into()
            }
        );
        let chosen = outcome(
            &offered,
            &answer(&offered, &["Sec-WebSocket-Protocol: superchat"]),
        )
        .unwrap();
        assert_eq!(chosen.subprotocol.as_deref(), Some("superchat"));
        assert_eq!(
            outcome(&offered, &answer(&offered, &[]))
                .unwrap()
                .subprotocol,
            None
        );
        for empty in ["Sec-WebSocket-Protocol: ", "Sec-WebSocket-Protocol:  \t"] {
            assert_eq!(
                outcome(&offered, &answer(&offered, &[empty]))
                    .unwrap()
                    .subprotocol,
                None,
                "{empty:?}"
            );
        }
    }

    #[test]
    fn empty_extension_lists_in_the_answer_mean_none_accepted() {
        let offered = request("ws://a").extension(ExtensionOffer::new("permessage-deflate"));
        for empty in [
            "Sec-WebSocket-Extensions: ",
            "Sec-WebSocket-Extensions: , ,",
        ] {
            let accepted = outcome(&offered, &answer(&offered, &[empty]))
                .unwrap_or_else(|error| panic!("{empty:?}: {error}"));
            assert!(accepted.extensions.is_empty(), "{empty:?}");
        }
        let accepted = outcome(
            &offered,
            &answer(
                &offered,
                &["Sec-WebSocket-Extensions: , permessage-deflate ,"],
            ),
        )
        .unwrap();
        assert_eq!(
            accepted.extensions,
            [ExtensionOffer::new("permessage-deflate")]
        );
    }

    #[test]
    fn extension_must_have_been_offered() {
        let none_offered = request("ws://a");
        assert_eq!(
            outcome(
                &none_offered,
                &answer(
                    &none_offered,
                    &["Sec-WebSocket-Extensions: permessage-deflate"]
                )
            )
            .unwrap_err(),
            HandshakeError::ExtensionNotOffered {
                name: "permessage-deflate".into()
            }
        );
        let offered = request("ws://a").extension(ExtensionOffer::new("permessage-deflate"));
        let accepted = outcome(
            &offered,
            &answer(
                &offered,
                &["Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"],
            ),
        )
        .unwrap();
        assert_eq!(
            accepted.extensions,
            [ExtensionOffer::new("permessage-deflate")
                .with_param("server_no_context_takeover", None::<String>)]
        );
        assert_eq!(
            outcome(
                &offered,
                &answer(
                    &offered,
                    &["Sec-WebSocket-Extensions: permessage-deflate, x-other"]
                )
            )
            .unwrap_err(),
            HandshakeError::ExtensionNotOffered {
                name: "x-other".into()
            }
        );
        assert!(matches!(
            outcome(
                &offered,
                &answer(&offered, &["Sec-WebSocket-Extensions: permessage-deflate;"])
            )
            .unwrap_err(),
            HandshakeError::InvalidExtensions { .. }
        ));
    }

    #[test]
    fn every_prefix_is_incomplete_then_the_whole_parses() {
        let request = request("ws://a").subprotocol("chat");
        let bytes = answer(&request, &["Sec-WebSocket-Protocol: chat"]);
        for end in 0..bytes.len() {
            assert!(
                request
                    .parse_response(&bytes[..end], &Limits::default())
                    .unwrap()
                    .is_none(),
                "prefix {end}"
            );
        }
        assert!(outcome(&request, &bytes).is_ok());
    }

    #[test]
    fn response_limits_apply() {
        let request = request("ws://a");
        let bytes = answer(&request, &["X-A: 1", "X-B: 2"]);
        let error = request
            .parse_response(&bytes, &Limits::default().max_headers(4))
            .unwrap_err();
        assert_eq!(error, HandshakeError::TooManyHeaders { max: 4 });
        let error = request
            .parse_response(&bytes, &Limits::default().max_header_bytes(bytes.len() - 1))
            .unwrap_err();
        assert_eq!(
            error,
            HandshakeError::HeadTooLarge {
                max: bytes.len() - 1
            }
        );
        assert!(request
            .parse_response(&bytes, &Limits::default().max_header_bytes(bytes.len()))
            .unwrap()
            .is_some());
    }

    #[test]
    fn malformed_responses_are_typed_errors() {
        let request = request("ws://a");
        for bytes in [
            &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 101\r\nUpgrade websocket\r\n\r\n",
        ] {
            assert!(
                matches!(
                    request.parse_response(bytes, &Limits::default()),
                    Err(HandshakeError::MalformedHead(_))
                ),
                "{bytes:?}"
            );
        }
        assert_eq!(
            request
                .parse_response(b"HTTP/1.1 042 Weird\r\n\r\n", &Limits::default())
                .unwrap_err(),
            HandshakeError::InvalidStatusCode(42)
        );
        let not_text = answer(&request, &["Sec-WebSocket-Protocol: ch\u{ff}at"]);
        let mut not_utf8 = not_text.clone();
        let at = not_utf8
            .windows(2)
            .position(|w| w == "\u{ff}".as_bytes())
            .unwrap();
        not_utf8.splice(at..at + 2, [0xff]);
        assert_eq!(
            outcome(&request, &not_utf8).unwrap_err(),
            HandshakeError::InvalidHeaderValue {
                name: SEC_WEBSOCKET_PROTOCOL
            }
        );
    }
}
